mod sandbox_support;
use sandbox_support::*;
#[tokio::test]
async fn probe() {
    let sandbox = sandbox().await;
    for (seed, n) in [(113u64, 500usize), (102, 300), (114, 300)] {
        let store = generated_store(&sandbox, seed, 40, n);
        sandbox.with_store(&store.hash, |d, _| {
            let total = d.orders.len();
            let incomplete = d.orders.values().filter(|o| o.status_id == 0).count();
            let deleted = d.orders.values().filter(|o| o.is_deleted).count();
            let big = d.orders.values().filter(|o| o.lines.len() > 50).count();
            println!("seed {seed} n {n}: total {total} incomplete {incomplete} deleted {deleted} >50 lines {big}");
        });
    }
}
