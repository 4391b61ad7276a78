//! `cenports demo` runs end to end through the merchant's code path: sandbox, connect with the
//! credentials file, sync into the hub's database, a shipment and a stock push written back, and
//! the missing-scope message on connect.

use std::process::Command;

#[test]
fn the_demo_imports_every_order_and_explains_a_missing_scope() {
    let output = Command::new(env!("CARGO_BIN_EXE_cenports"))
        .args(["demo", "--orders", "600"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run cenports demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("Connected store "), "{stdout}");
    // Counted in the hub's database, not at BigCommerce.
    assert!(
        stdout.contains("Orders by status (in the hub's database): 600 in all"),
        "{stdout}"
    );
    // The 500th order is over the 50-line cap: exactly one fallback.
    assert!(stdout.contains("  600 orders,"), "{stdout}");
    assert!(stdout.contains("1 over the 50-line cap"), "{stdout}");
    assert!(
        stdout.contains(
            "the access token lacks Orders: Modify (store_v2_orders) and Products: Modify \
             (store_v2_products); edit the API account in BigCommerce (Advanced Settings › API \
             Accounts), set Orders to Modify and Products to Modify, and reconnect"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("Nothing was saved: the hub holds 1 store as before."),
        "{stdout}"
    );
    assert!(stdout.contains("0 answered 429"), "{stdout}");
    // The write-back: one shipment per shipping address, the same parcel again sends nothing,
    // BigCommerce and the hub agree the order shipped; stock pushed once, then nothing.
    assert!(
        stdout.contains(
            "the same parcel reported again: already requested, nothing queued (0 POSTs)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("the hub shows it \"Shipped\" (shipped)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("second push, nothing changed: 0 write request(s), 0 read-back"),
        "{stdout}"
    );
    let shipped = stdout
        .lines()
        .find(|l| l.contains("BigCommerce now holds"))
        .expect("the shipment line");
    let rows = stdout
        .lines()
        .find(|l| l.contains("outbox row(s)"))
        .expect("the outbox line");
    let count = |line: &str, before: &str| -> u64 {
        line.split(before)
            .next()
            .unwrap()
            .split_whitespace()
            .last()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(
        count(shipped, " shipment(s)"),
        count(rows, " outbox row(s)"),
        "one BigCommerce shipment per outbox row:\n{stdout}"
    );
}
