//! `cenports demo` runs end to end: sandbox, connect, import, catalog, and the scope message.

use std::process::Command;

#[test]
fn the_demo_imports_every_order_and_explains_a_missing_scope() {
    let output = Command::new(env!("CARGO_BIN_EXE_cenports"))
        .args(["demo", "--orders", "600"])
        .output()
        .expect("run cenports demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("Orders by status (GET /v2/orders/count): 600 in all"),
        "{stdout}"
    );
    // The 500th order is over the 50-line cap: exactly one fallback.
    assert!(stdout.contains("600 orders,"), "{stdout}");
    assert!(stdout.contains("1 over the 50-line cap"), "{stdout}");
    assert!(
        stdout.contains(
            "the access token lacks Orders: Modify (store_v2_orders); edit the API account in BigCommerce and reconnect"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("0 answered 429"), "{stdout}");
}
