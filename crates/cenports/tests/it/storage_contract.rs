//! The storage contract, run identically on both backends.
//!
//! Each test is written once and `contract_test!` expands it into `<name>::sqlite` (a fresh
//! temporary file) and `<name>::postgres` (a fresh database `cenports_test_<random>` created on
//! 127.0.0.1:5432 through the `postgres` admin database, dropped at the end). Set
//! `CENPORTS_TEST_POSTGRES_URL` to point at another server (the admin URL). If PostgreSQL cannot
//! be reached, the PostgreSQL variants fail when `CI` is set and are skipped with a notice
//! otherwise.

use crate::common::{run, Ctx, Kind};

use std::str::FromStr;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rust_decimal::Decimal;

use cenports::storage::*;

/// Writes a test once; runs it on SQLite and on PostgreSQL.
macro_rules! contract_test {
    ($name:ident, |$ctx:ident| $body:block) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                run(Kind::Sqlite, |$ctx: Ctx| async move { $body }).await
            }

            #[tokio::test]
            async fn postgres() {
                run(Kind::Postgres, |$ctx: Ctx| async move { $body }).await
            }
        }
    };
}

// ------------------------------------------------------------------ builders

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn secret(tag: u8) -> EncryptedSecret {
    EncryptedSecret {
        // Include a NUL and high bytes: the column must hold bytes, not text.
        ciphertext: vec![0, tag, 0xff, 0x80, 7, 7, 7, tag],
        nonce: vec![tag; 12],
    }
}

fn new_store(hash: &str) -> NewStore {
    NewStore {
        channel: cenports::channel::bigcommerce::CHANNEL.into(),
        remote_id: hash.into(),
        api_base_url: "https://api.bigcommerce.com".into(),
        profile: StoreProfile {
            name: format!("Store {hash}"),
            domain: format!("{hash}.example.com"),
            currency: "USD".into(),
            timezone: "America/Chicago".into(),
            weight_units: "LB".into(),
            dimension_units: "Inches".into(),
            plan: "Standard".into(),
        },
        credentials: StoreCredentials {
            client_id: format!("client-{hash}"),
            client_secret: secret(1),
            access_token: secret(2),
        },
    }
}

/// An order whose channel id is `remote_id` (a number such as `7`, or text such as an Amazon
/// order id `"902-3159896-1390916"`): its lines are `<id>00`, `<id>01`, … and its shipping
/// address `<id>0`, all text, as a channel gives them.
fn order(remote_id: impl ToString, modified: i64, lines: usize) -> NewOrderRecord {
    let remote_id = remote_id.to_string();
    NewOrderRecord {
        remote_id: remote_id.clone(),
        status_code: "11".into(),
        status_name: "Awaiting Fulfillment".into(),
        fulfilment_state: FulfilmentState::Ready,
        customer_id: Some("42".into()),
        email: Some("shopper@example.com".into()),
        currency: "USD".into(),
        subtotal: dec("30.0000"),
        total: dec("32.4750"),
        tax: dec("2.4750"),
        payment_method: Some("Credit Card".into()),
        payment_status: Some("captured".into()),
        date_created: t(0),
        date_modified: t(modified),
        is_deleted: false,
        raw_json: format!(r#"{{"id":"{remote_id}","date_modified":{modified}}}"#),
        lines: (0..lines)
            .map(|i| NewOrderLine {
                remote_id: format!("{remote_id}{i:02}"),
                product_id: Some("77".into()),
                variant_id: Some((700 + i).to_string()),
                sku: format!("SKU-{i}"),
                name: format!("Widget {i}"),
                quantity: 1 + i as i32,
                quantity_shipped: 0,
                price: dec("10.0000"),
                address_remote_id: Some(format!("{remote_id}0")),
            })
            .collect(),
        addresses: vec![
            address(AddressKind::Billing, None),
            address(AddressKind::Shipping, Some(format!("{remote_id}0"))),
        ],
    }
}

fn address(kind: AddressKind, remote_id: Option<String>) -> NewOrderAddress {
    NewOrderAddress {
        kind,
        remote_id,
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        company: String::new(),
        street_1: "1 Analytical Way".into(),
        street_2: String::new(),
        city: "Austin".into(),
        state: "Texas".into(),
        zip: "78701".into(),
        country_iso2: "US".into(),
        email: "ada@example.com".into(),
        phone: "555-0100".into(),
        shipping_method: (kind == AddressKind::Shipping).then(|| "Free Shipping".into()),
    }
}

async fn user_and_store(storage: &Storage, email: &str, hash: &str) -> (User, StoreRecord) {
    let user = storage.create_user(email).await.unwrap();
    let store = storage.save_store(user.id, &new_store(hash)).await.unwrap();
    (user, store)
}

async fn all_orders(storage: &Storage, scope: &StoreScope) -> Vec<OrderSummary> {
    let filter = OrderFilter {
        include_deleted: true,
        ..OrderFilter::default()
    };
    storage
        .list_orders(scope, &filter, 1000, None)
        .await
        .unwrap()
        .orders
}

// ------------------------------------------------------------------ tests

contract_test!(migrations_are_idempotent_when_opened_twice, |ctx| {
    let (_, store) = user_and_store(&ctx.storage, "a@example.com", "abc123").await;
    let again = Storage::open(&ctx.url).await.expect("second open");
    let stores = again.list_all_stores().await.unwrap();
    assert_eq!(stores, vec![store]);
    again.close().await;
});

contract_test!(
    raw_orders_are_stored_compressed_and_older_text_rows_still_read,
    |ctx| {
        let (_, store) = user_and_store(&ctx.storage, "a@example.com", "abc123").await;
        let scope = store.scope();
        let mut big = order(1, 10, 3);
        big.raw_json = format!(
            r#"{{"id":1,"products":[{}]}}"#,
            (0..40)
                .map(|i| format!(r#"{{"id":{i},"sku":"TEE-{i}","name":"Organic cotton tee"}}"#))
                .collect::<Vec<_>>()
                .join(",")
        );
        // An id that is not a number (Amazon's), stored as given.
        let small = order("902-3159896-1390916", 10, 1);
        ctx.storage
            .upsert_orders(&scope, &[big.clone(), small.clone()])
            .await
            .unwrap();

        // What the database holds: LZ4 bytes, much smaller than the text.
        let (raw, encoding) = raw_column(&ctx.url, "1").await;
        assert_eq!(encoding, "lz4");
        assert!(
            raw.len() * 3 < big.raw_json.len(),
            "{} bytes stored",
            raw.len()
        );
        let got = ctx
            .storage
            .find_order_by_remote_id(&scope, "1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.raw_json, big.raw_json);

        // A row written before compression existed (the migration kept its text, marked json).
        set_raw_column(
            &ctx.url,
            &small.remote_id,
            small.raw_json.as_bytes(),
            "json",
        )
        .await;
        let got = ctx
            .storage
            .find_order_by_remote_id(&scope, &small.remote_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.raw_json, small.raw_json);

        // Damaged bytes are an error that says so, not a panic or garbage.
        set_raw_column(
            &ctx.url,
            &small.remote_id,
            b"\x05\x00\x00\x00garbage",
            "lz4",
        )
        .await;
        let error = ctx
            .storage
            .find_order_by_remote_id(&scope, &small.remote_id)
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("does not understand"), "{error}");
    }
);

/// The raw columns of an order, read behind the storage's back.
async fn raw_column(url: &str, remote_id: &str) -> (Vec<u8>, String) {
    let sql = "SELECT raw, raw_encoding FROM orders WHERE remote_id = $1";
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let row = sqlx::query_as(sql)
            .bind(remote_id)
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        row
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let row = sqlx::query_as(sql)
            .bind(remote_id)
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        row
    }
}

/// Overwrites the raw columns of an order behind the storage's back.
async fn set_raw_column(url: &str, remote_id: &str, raw: &[u8], encoding: &str) {
    let sql = "UPDATE orders SET raw = $1, raw_encoding = $2 WHERE remote_id = $3";
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let q = sqlx::query(sql).bind(raw).bind(encoding).bind(remote_id);
        assert_eq!(q.execute(&pool).await.unwrap().rows_affected(), 1);
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let q = sqlx::query(sql).bind(raw).bind(encoding).bind(remote_id);
        assert_eq!(q.execute(&pool).await.unwrap().rows_affected(), 1);
        pool.close().await;
    }
}

contract_test!(users_are_unique_by_email_case_insensitively, |ctx| {
    let s = &ctx.storage;
    let user = s.create_user("Ada@Example.com").await.unwrap();
    assert!(matches!(
        s.create_user("ada@EXAMPLE.com").await,
        Err(StorageError::EmailTaken { .. })
    ));
    assert_eq!(
        s.find_user_by_email("ADA@example.COM").await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(s.ensure_user("ada@example.com").await.unwrap(), user);
    assert_eq!(
        s.find_user_by_email("nobody@example.com").await.unwrap(),
        None
    );
});

contract_test!(
    the_same_page_twice_is_all_unchanged_and_writes_nothing,
    |ctx| {
        let s = &ctx.storage;
        let (_, store) = user_and_store(s, "a@example.com", "abc123").await;
        let scope = store.scope();
        let page: Vec<_> = (1..=250).map(|id| order(id, 10, 3)).collect();

        let first = s.upsert_orders(&scope, &page).await.unwrap();
        assert_eq!(
            first,
            UpsertOutcome {
                inserted: 250,
                updated: 0,
                unchanged: 0
            }
        );
        let before = all_orders(s, &scope).await;

        let second = s.upsert_orders(&scope, &page).await.unwrap();
        assert_eq!(
            second,
            UpsertOutcome {
                inserted: 0,
                updated: 0,
                unchanged: 250
            }
        );
        // No write: every row is exactly as before, updated_at included.
        assert_eq!(all_orders(s, &scope).await, before);
        assert_eq!(s.count_orders(&scope).await.unwrap(), 250);
        let full = s
            .find_order_by_remote_id(&scope, "7")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(full.lines.len(), 3);
        assert_eq!(full.addresses.len(), 2);
    }
);

contract_test!(
    a_newer_date_modified_updates_and_replaces_lines_and_addresses,
    |ctx| {
        let s = &ctx.storage;
        let (_, store) = user_and_store(s, "a@example.com", "abc123").await;
        let scope = store.scope();
        s.upsert_orders(&scope, &[order(1, 10, 3), order(2, 10, 3)])
            .await
            .unwrap();
        let old = s
            .find_order_by_remote_id(&scope, "1")
            .await
            .unwrap()
            .unwrap();

        let mut changed = order(1, 20, 1);
        changed.status_code = "2".into();
        changed.status_name = "Shipped".into();
        changed.fulfilment_state = FulfilmentState::Shipped;
        changed.lines[0].quantity_shipped = 1;
        changed.addresses.truncate(1);
        // An older version of order 2 must not overwrite the stored one.
        let stale = order(2, 5, 0);
        let outcome = s
            .upsert_orders(&scope, &[changed.clone(), stale])
            .await
            .unwrap();
        assert_eq!(
            outcome,
            UpsertOutcome {
                inserted: 0,
                updated: 1,
                unchanged: 1
            }
        );

        let new = s
            .find_order_by_remote_id(&scope, "1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            new.summary.id, old.summary.id,
            "our id is stable across updates"
        );
        assert_eq!(new.summary.imported_at, old.summary.imported_at);
        assert!(new.summary.updated_at >= old.summary.updated_at);
        assert_eq!(new.summary.status_code, "2");
        assert_eq!(new.summary.status_name, "Shipped");
        assert_eq!(new.summary.fulfilment_state, FulfilmentState::Shipped);
        assert_eq!(new.summary.date_modified, t(20));
        assert_eq!(new.raw_json, changed.raw_json);
        assert_eq!(new.lines.len(), 1);
        assert_eq!(new.lines[0].quantity_shipped, 1);
        assert_eq!(new.addresses.len(), 1);
        let two = s
            .find_order_by_remote_id(&scope, "2")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(two.summary.date_modified, t(10));
        assert_eq!(two.lines.len(), 3);

        // Duplicates in one page: the newest wins.
        let outcome = s
            .upsert_orders(&scope, &[order(3, 30, 1), order(3, 31, 2), order(3, 29, 3)])
            .await
            .unwrap();
        assert_eq!(
            outcome,
            UpsertOutcome {
                inserted: 1,
                updated: 0,
                unchanged: 2
            }
        );
        let three = s
            .find_order_by_remote_id(&scope, "3")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(three.summary.date_modified, t(31));
        assert_eq!(three.lines.len(), 2);
    }
);

contract_test!(
    text_ids_round_trip_and_lines_read_in_their_natural_order,
    |ctx| {
        let s = &ctx.storage;
        let (_, store) = user_and_store(s, "a@example.com", "abc123").await;
        let scope = store.scope();
        // An Amazon order: every id of the channel's is text that is not a number.
        let mut amazon = order("902-3159896-1390916", 10, 4);
        amazon.status_code = "Unshipped".into();
        amazon.customer_id = Some("A2Q3Y263D00KWC".into());
        amazon.addresses[1].remote_id = Some("ship-1".into());
        for (line, id) in amazon.lines.iter_mut().zip(["10", "B-2", "9", "A-1"]) {
            line.remote_id = id.into();
            line.product_id = Some("B07XJ8C8F5".into());
            line.variant_id = None;
            line.address_remote_id = Some("ship-1".into());
        }
        // A numeric id beside it, as another order of the same store.
        s.upsert_orders(&scope, &[amazon.clone(), order(902, 10, 1)])
            .await
            .unwrap();

        let got = s
            .find_order_by_remote_id(&scope, "902-3159896-1390916")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.summary.remote_id, "902-3159896-1390916");
        assert_eq!(got.summary.status_code, "Unshipped");
        assert_eq!(got.summary.customer_id.as_deref(), Some("A2Q3Y263D00KWC"));
        assert_eq!(got.addresses, amazon.addresses);
        assert_eq!(
            got.lines
                .iter()
                .map(|l| l.remote_id.as_str())
                .collect::<Vec<_>>(),
            ["9", "10", "A-1", "B-2"],
            "lines come in the ids' natural order: shorter first (\"9\" before \"10\")"
        );
        let mut expected = amazon.lines.clone();
        expected.sort_by_key(|l| (l.remote_id.len(), l.remote_id.clone()));
        assert_eq!(got.lines, expected);
        assert_eq!(
            s.find_order_by_remote_id(&scope, "902")
                .await
                .unwrap()
                .unwrap()
                .lines
                .len(),
            1,
            "a prefix of a text id is another order"
        );
        assert_eq!(
            s.find_order_by_remote_id(&scope, "902-3159896")
                .await
                .unwrap(),
            None
        );

        // Saved again unchanged: nothing is written.
        assert_eq!(
            s.upsert_orders(&scope, &[amazon]).await.unwrap(),
            UpsertOutcome {
                inserted: 0,
                updated: 0,
                unchanged: 1
            }
        );
        let status = OrderFilter {
            status_code: Some("Unshipped".into()),
            ..OrderFilter::default()
        };
        let listed = s.list_orders(&scope, &status, 100, None).await.unwrap();
        assert_eq!(
            listed
                .orders
                .iter()
                .map(|o| o.remote_id.as_str())
                .collect::<Vec<_>>(),
            ["902-3159896-1390916"]
        );
    }
);

contract_test!(
    the_checkpoint_is_committed_with_its_page_or_not_at_all,
    |ctx| {
        let s = &ctx.storage;
        let (_, store) = user_and_store(s, "a@example.com", "abc123").await;
        let scope = store.scope();
        let cp = Checkpoint {
            stream: STREAM_ORDERS.into(),
            window_start: None,
            window_end: Some(t(1000)),
            cursor: Some("2".into()),
            completed_at: None,
        };
        s.save_page(&scope, &[order(1, 10, 3), order(2, 10, 3)], Some(&cp))
            .await
            .unwrap();
        assert_eq!(
            s.get_checkpoint(&scope, STREAM_ORDERS).await.unwrap(),
            Some(cp.clone())
        );

        // A failure after the orders were written (the checkpoint violates a constraint): the
        // transaction rolls back, so neither the orders nor the cursor move.
        let bad = Checkpoint {
            stream: String::new(),
            cursor: Some("4".into()),
            ..cp.clone()
        };
        let err = s
            .save_page(&scope, &[order(3, 10, 3), order(4, 10, 3)], Some(&bad))
            .await;
        assert!(err.is_err());
        assert_eq!(s.count_orders(&scope).await.unwrap(), 2);
        assert_eq!(s.find_order_by_remote_id(&scope, "3").await.unwrap(), None);
        assert_eq!(
            s.get_checkpoint(&scope, STREAM_ORDERS).await.unwrap(),
            Some(cp.clone())
        );

        // A failure in the middle of the data (a line violates a constraint after its order was
        // inserted): nothing of the page, and not the checkpoint either.
        let mut broken = order(4, 10, 3);
        broken.lines[2].quantity = -1;
        let next = Checkpoint {
            cursor: Some("4".into()),
            ..cp.clone()
        };
        let err = s
            .save_page(&scope, &[order(3, 10, 3), broken], Some(&next))
            .await;
        assert!(matches!(err, Err(StorageError::Query { .. })), "{err:?}");
        assert_eq!(s.count_orders(&scope).await.unwrap(), 2);
        assert_eq!(
            s.get_checkpoint(&scope, STREAM_ORDERS).await.unwrap(),
            Some(cp)
        );

        // And the happy path moves both.
        let done = Checkpoint {
            cursor: Some("4".into()),
            completed_at: Some(t(1001)),
            ..next
        };
        s.save_page(&scope, &[order(3, 10, 3), order(4, 10, 3)], Some(&done))
            .await
            .unwrap();
        assert_eq!(s.count_orders(&scope).await.unwrap(), 4);
        assert_eq!(
            s.get_checkpoint(&scope, STREAM_ORDERS).await.unwrap(),
            Some(done)
        );
        assert_eq!(
            s.get_checkpoint(&scope, STREAM_CATALOG).await.unwrap(),
            None
        );
    }
);

contract_test!(two_users_never_see_each_others_stores_or_orders, |ctx| {
    let s = &ctx.storage;
    let (alice, a_store) = user_and_store(s, "alice@example.com", "aaa111").await;
    let (bob, b_store) = user_and_store(s, "bob@example.com", "bbb222").await;
    s.upsert_orders(&a_store.scope(), &[order(1, 10, 1)])
        .await
        .unwrap();
    s.upsert_orders(&b_store.scope(), &[order(1, 10, 1), order(2, 10, 1)])
        .await
        .unwrap();

    assert_eq!(
        s.list_stores(alice.id).await.unwrap(),
        vec![a_store.clone()]
    );
    assert_eq!(s.list_stores(bob.id).await.unwrap(), vec![b_store.clone()]);
    assert_eq!(s.list_all_stores().await.unwrap().len(), 2);

    // Bob's store id in Alice's hands is not found, exactly like a missing one.
    let err = s.store_scope(alice.id, b_store.id()).await.unwrap_err();
    assert!(
        matches!(err, StorageError::NotFound { what: "store", .. }),
        "{err}"
    );
    let missing = s
        .store_scope(alice.id, StoreId::from_raw(999_999))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string().replace(&b_store.id().to_string(), "X"),
        missing.to_string().replace("store_999999", "X")
    );

    let a_scope = s.store_scope(alice.id, a_store.id()).await.unwrap();
    assert_eq!(s.count_orders(&a_scope).await.unwrap(), 1);
    assert_eq!(all_orders(s, &a_scope).await.len(), 1);
    let b_order = all_orders(s, &b_store.scope()).await[1].id;
    assert!(matches!(
        s.get_order(&a_scope, b_order).await,
        Err(StorageError::NotFound { what: "order", .. })
    ));
    // The same remote id in two stores is two orders.
    let a1 = s
        .find_order_by_remote_id(&a_scope, "1")
        .await
        .unwrap()
        .unwrap();
    let b1 = s
        .find_order_by_remote_id(&b_store.scope(), "1")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(a1.summary.id, b1.summary.id);
    assert_eq!(a1.summary.store_id, a_store.id());
});

contract_test!(secret_columns_hold_exactly_the_given_ciphertext, |ctx| {
    let s = &ctx.storage;
    let (user, store) = user_and_store(s, "a@example.com", "abc123").await;
    let scope = store.scope();
    let creds = s.get_store_credentials(&scope).await.unwrap().unwrap();
    assert_eq!(creds, new_store("abc123").credentials);
    assert_eq!(store.status, StoreStatus::Connected);
    assert_eq!(store.profile.plan, "Standard");

    // Reconnect rotates the ciphertexts in place (same store, same id).
    let mut rotated = new_store("abc123");
    rotated.credentials.access_token = secret(9);
    let again = s.save_store(user.id, &rotated).await.unwrap();
    assert_eq!(again.id(), store.id());
    assert_eq!(
        s.get_store_credentials(&scope)
            .await
            .unwrap()
            .unwrap()
            .access_token,
        secret(9)
    );

    // Disconnect forgets them.
    s.disconnect_store(&scope).await.unwrap();
    assert_eq!(s.get_store_credentials(&scope).await.unwrap(), None);
    let after = s.get_store(&scope).await.unwrap();
    assert_eq!(after.status, StoreStatus::Disconnected);

    let profile = StoreProfile {
        name: "Renamed".into(),
        ..store.profile.clone()
    };
    s.update_store_profile(&scope, &profile).await.unwrap();
    assert_eq!(s.get_store(&scope).await.unwrap().profile, profile);
});

contract_test!(money_round_trips_exactly, |ctx| {
    let s = &ctx.storage;
    let (_, store) = user_and_store(s, "a@example.com", "abc123").await;
    let scope = store.scope();
    let mut o = order(1, 10, 1);
    o.subtotal = dec("12.3400");
    o.total = dec("123456789012.9999");
    o.tax = dec("0.0001");
    o.lines[0].price = dec("0.10");
    s.upsert_orders(&scope, &[o]).await.unwrap();
    let got = s
        .find_order_by_remote_id(&scope, "1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.summary.subtotal.to_string(), "12.3400");
    assert_eq!(got.summary.total.to_string(), "123456789012.9999");
    assert_eq!(got.summary.tax.to_string(), "0.0001");
    assert_eq!(got.lines[0].price.to_string(), "0.10");
});

contract_test!(utc_timestamps_round_trip, |ctx| {
    let s = &ctx.storage;
    let (_, store) = user_and_store(s, "a@example.com", "abc123").await;
    let scope = store.scope();
    let mut o = order(1, 10, 0);
    o.date_created = Utc.with_ymd_and_hms(2016, 2, 29, 23, 59, 59).unwrap();
    o.date_modified = o.date_created + Duration::microseconds(123_456);
    s.upsert_orders(&scope, &[o.clone()]).await.unwrap();
    let got = s
        .find_order_by_remote_id(&scope, "1")
        .await
        .unwrap()
        .unwrap()
        .summary;
    assert_eq!(got.date_created, o.date_created);
    assert_eq!(got.date_modified, o.date_modified);
    let cp = Checkpoint {
        stream: STREAM_OPEN_ORDERS.into(),
        window_start: Some(o.date_created),
        window_end: Some(o.date_modified),
        cursor: None,
        completed_at: Some(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()),
    };
    s.save_checkpoint(&scope, &cp).await.unwrap();
    assert_eq!(
        s.get_checkpoint(&scope, STREAM_OPEN_ORDERS).await.unwrap(),
        Some(cp)
    );
});

contract_test!(orders_are_listed_filtered_and_counted, |ctx| {
    let s = &ctx.storage;
    let (_, store) = user_and_store(s, "a@example.com", "abc123").await;
    let scope = store.scope();
    let mut page: Vec<_> = (1..=10).map(|id| order(id, id, 1)).collect();
    page[0].status_code = "1".into();
    page[0].status_name = "Pending".into();
    page[0].fulfilment_state = FulfilmentState::OnHold;
    page[1].is_deleted = true;
    s.upsert_orders(&scope, &page).await.unwrap();

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let p = s
            .list_orders(&scope, &OrderFilter::default(), 3, after)
            .await
            .unwrap();
        seen.extend(p.orders.iter().map(|o| o.remote_id.clone()));
        match p.next_cursor {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["1", "3", "4", "5", "6", "7", "8", "9", "10"],
        "deleted orders are hidden by default"
    );

    let ready = OrderFilter {
        fulfilment_state: Some(FulfilmentState::Ready),
        ..OrderFilter::default()
    };
    assert_eq!(
        s.list_orders(&scope, &ready, 100, None)
            .await
            .unwrap()
            .orders
            .len(),
        8
    );
    let pending = OrderFilter {
        status_code: Some("1".into()),
        ..OrderFilter::default()
    };
    let pending = s.list_orders(&scope, &pending, 100, None).await.unwrap();
    assert_eq!(
        pending
            .orders
            .iter()
            .map(|o| (o.remote_id.as_str(), o.status_code.as_str()))
            .collect::<Vec<_>>(),
        [("1", "1")],
        "the status code \"1\" matches exactly (not \"11\")"
    );
    let since = OrderFilter {
        since: Some(t(8)),
        ..OrderFilter::default()
    };
    assert_eq!(
        s.list_orders(&scope, &since, 100, None)
            .await
            .unwrap()
            .orders
            .len(),
        3
    );

    assert_eq!(s.count_orders(&scope).await.unwrap(), 10);
    let by_status = s.count_orders_by_status(&scope).await.unwrap();
    assert_eq!(
        by_status,
        vec![
            StatusCount {
                status_code: "1".into(),
                status_name: "Pending".into(),
                count: 1
            },
            StatusCount {
                status_code: "11".into(),
                status_name: "Awaiting Fulfillment".into(),
                count: 9
            },
        ]
    );
    let by_state = s.count_orders_by_fulfilment_state(&scope).await.unwrap();
    assert!(by_state.contains(&(FulfilmentState::OnHold, 1)));
    assert!(by_state.contains(&(FulfilmentState::Ready, 9)));

    // Created at t(id * 10): `created_from` is inclusive, `created_to` exclusive, in both the
    // list and the search, and a range that ends before it starts is empty.
    // (Modified later than before, or the upsert keeps the rows as they are.)
    let mut created: Vec<_> = (1..=10)
        .map(|id| {
            let mut o = order(id, 100 + id, 1);
            o.date_created = t(id * 10);
            o
        })
        .collect();
    created[1].is_deleted = true;
    s.upsert_orders(&scope, &created).await.unwrap();
    let numbers = |page: OrderPage| {
        page.orders
            .into_iter()
            .map(|o| o.remote_id)
            .collect::<Vec<_>>()
    };
    let range = |from: Option<i64>, to: Option<i64>| OrderFilter {
        created_from: from.map(t),
        created_to: to.map(t),
        ..OrderFilter::default()
    };
    for (filter, expected) in [
        (range(Some(30), Some(60)), vec!["3", "4", "5"]),
        (range(Some(31), Some(61)), vec!["4", "5", "6"]),
        (range(Some(90), None), vec!["9", "10"]),
        (range(None, Some(30)), vec!["1"]),
        (range(Some(60), Some(30)), vec![]),
    ] {
        assert_eq!(
            numbers(s.list_orders(&scope, &filter, 100, None).await.unwrap()),
            expected,
            "{filter:?}"
        );
    }
    assert_eq!(
        numbers(
            s.search_orders(
                &scope,
                &range(Some(30), Some(60)),
                Some("example"),
                100,
                None
            )
            .await
            .unwrap()
        ),
        ["3", "4", "5"]
    );
});

contract_test!(products_and_the_sku_index_upsert_idempotently, |ctx| {
    let s = &ctx.storage;
    let (_, store) = user_and_store(s, "a@example.com", "abc123").await;
    let scope = store.scope();
    let products = vec![
        NewProduct {
            remote_id: "1".into(),
            name: "Shirt".into(),
            sku: "SHIRT".into(),
            stock_tracking: StockTracking::Variant,
            date_modified: t(1),
        },
        NewProduct {
            // A channel's product id that is not a number (an ASIN).
            remote_id: "B07XJ8C8F5".into(),
            name: "Mug".into(),
            sku: "MUG".into(),
            stock_tracking: StockTracking::Product,
            date_modified: t(1),
        },
    ];
    assert_eq!(
        s.upsert_products(&scope, &products).await.unwrap(),
        UpsertOutcome {
            inserted: 2,
            updated: 0,
            unchanged: 0
        }
    );
    let mut newer = products.clone();
    newer[1].date_modified = t(2);
    assert_eq!(
        s.upsert_products(&scope, &newer).await.unwrap(),
        UpsertOutcome {
            inserted: 0,
            updated: 1,
            unchanged: 1
        }
    );
    assert_eq!(s.count_products(&scope).await.unwrap(), 2);

    let skus = vec![
        NewSku {
            sku: "SHIRT-S".into(),
            product_remote_id: "1".into(),
            variant_remote_id: Some("11".into()),
            stock_tracking: StockTracking::Variant,
        },
        // The product-level SKU of a product tracked per variant: the store derives its level.
        NewSku {
            sku: "SHIRT".into(),
            product_remote_id: "1".into(),
            variant_remote_id: None,
            stock_tracking: StockTracking::Derived,
        },
        NewSku {
            sku: "MUG".into(),
            product_remote_id: "B07XJ8C8F5".into(),
            variant_remote_id: None,
            stock_tracking: StockTracking::Product,
        },
    ];
    assert_eq!(s.upsert_skus(&scope, &skus).await.unwrap(), 3);
    assert_eq!(
        s.upsert_skus(&scope, &skus).await.unwrap(),
        0,
        "identical entries are not written"
    );
    let mug = s.find_sku(&scope, "MUG").await.unwrap().unwrap();
    assert_eq!(
        (
            mug.product_remote_id.as_str(),
            mug.variant_remote_id,
            mug.stock_tracking
        ),
        ("B07XJ8C8F5", None, StockTracking::Product)
    );
    let shirt = s.find_sku(&scope, "SHIRT").await.unwrap().unwrap();
    assert_eq!(
        (
            shirt.product_remote_id.as_str(),
            shirt.variant_remote_id,
            shirt.stock_tracking
        ),
        ("1", None, StockTracking::Derived)
    );
    let small = s.find_sku(&scope, "SHIRT-S").await.unwrap().unwrap();
    assert_eq!(
        (small.variant_remote_id.as_deref(), small.stock_tracking),
        (Some("11"), StockTracking::Variant)
    );
    assert_eq!(s.find_sku(&scope, "NOPE").await.unwrap(), None);
    let (_, other) = user_and_store(s, "b@example.com", "bbb222").await;
    assert_eq!(s.find_sku(&other.scope(), "MUG").await.unwrap(), None);
});

contract_test!(concurrent_duplicate_pages_insert_each_order_once, |ctx| {
    let s = ctx.storage.clone();
    let (_, store) = user_and_store(&s, "a@example.com", "abc123").await;
    let scope = store.scope();
    let page: Vec<_> = (1..=100).map(|id| order(id, 10, 2)).collect();
    let (a, b) = tokio::join!(
        s.upsert_orders(&scope, &page),
        s.upsert_orders(&scope, &page)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.inserted + b.inserted, 100);
    assert_eq!(a.unchanged + b.unchanged, 100);
    assert_eq!(s.count_orders(&scope).await.unwrap(), 100);
    let one = s
        .find_order_by_remote_id(&scope, "50")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(one.lines.len(), 2);
});

// ------------------------------------------------------------------ throughput

/// Not a timed test: run with
/// `cargo test --release -p cenports --test it storage_contract:: -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn bulk_upsert_throughput_sqlite() {
    throughput(Kind::Sqlite).await
}

/// See [`bulk_upsert_throughput_sqlite`].
#[tokio::test]
#[ignore]
async fn bulk_upsert_throughput_postgres() {
    throughput(Kind::Postgres).await
}

async fn throughput(kind: Kind) {
    run(kind, |ctx| async move {
        let s = &ctx.storage;
        let (_, store) = user_and_store(s, "a@example.com", "abc123").await;
        let scope = store.scope();
        const PAGES: i64 = 200;
        const PER_PAGE: i64 = 250;
        // A realistic raw order is ~2 KB of JSON.
        let filler = "x".repeat(1800);
        let pages: Vec<Vec<NewOrderRecord>> = (0..PAGES)
            .map(|p| {
                (0..PER_PAGE)
                    .map(|i| {
                        let mut o = order(p * PER_PAGE + i + 1, 10, 3);
                        o.raw_json = format!(r#"{{"id":"{}","pad":"{filler}"}}"#, o.remote_id);
                        o
                    })
                    .collect()
            })
            .collect();
        let started = std::time::Instant::now();
        for (p, page) in pages.iter().enumerate() {
            let cp = Checkpoint {
                stream: STREAM_ORDERS.into(),
                window_start: None,
                window_end: Some(t(100)),
                cursor: Some(((p as i64 + 1) * PER_PAGE).to_string()),
                completed_at: None,
            };
            s.save_page(&scope, page, Some(&cp)).await.unwrap();
        }
        let insert = started.elapsed();
        let started = std::time::Instant::now();
        for page in &pages {
            let o = s.upsert_orders(&scope, page).await.unwrap();
            assert_eq!(o.unchanged, PER_PAGE as u64);
        }
        let reread = started.elapsed();
        let n = (PAGES * PER_PAGE) as f64;
        println!(
            "{}: {} orders (3 lines, 2 addresses, ~2 KB raw JSON each) in pages of {PER_PAGE}: \
             insert {:.0} orders/s ({:.2?}), unchanged re-upsert {:.0} orders/s ({:.2?})",
            s.backend_name(),
            n,
            n / insert.as_secs_f64(),
            insert,
            n / reread.as_secs_f64(),
            reread
        );
        assert_eq!(s.count_orders(&scope).await.unwrap(), PAGES * PER_PAGE);
    })
    .await
}

contract_test!(
    the_sync_history_keeps_each_run_newest_first_per_tenant_and_prunes,
    |ctx| {
        let s = &ctx.storage;
        let a = user_and_store(s, "ada@example.com", "aaaa1")
            .await
            .1
            .scope();
        let b = user_and_store(s, "bob@example.com", "bbbb2")
            .await
            .1
            .scope();
        let first = s
            .start_sync_run(&a, SyncTrigger::Scheduled, t(0))
            .await
            .unwrap();
        let counts = SyncCounts {
            orders_inserted: 120,
            orders_updated: 3,
            orders_read: 130,
            products: 12,
            api_requests: 7,
        };
        s.finish_sync_run(&a, first, t(5), Ok(counts))
            .await
            .unwrap();
        let second = s.start_sync_run(&a, SyncTrigger::Api, t(60)).await.unwrap();
        let runs = s.list_sync_runs(&a, 10).await.unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].id, second, "newest first");
        assert_eq!(runs[0].outcome, "running");
        assert_eq!(runs[0].finished_at, None);
        assert_eq!(runs[0].trigger, SyncTrigger::Api);
        assert_eq!(runs[1].outcome, "ok");
        assert_eq!(runs[1].counts, counts);
        assert_eq!(runs[1].started_at, t(0));
        assert_eq!(runs[1].finished_at, Some(t(5)));
        s.finish_sync_run(
            &a,
            second,
            t(61),
            Err("BigCommerce answered 401: reconnect"),
        )
        .await
        .unwrap();
        let failed = &s.list_sync_runs(&a, 1).await.unwrap()[0];
        assert_eq!(failed.outcome, "failed");
        assert_eq!(
            failed.error.as_deref(),
            Some("BigCommerce answered 401: reconnect")
        );

        // Another tenant's store sees none of it, and cannot finish a run of it.
        assert!(s.list_sync_runs(&b, 10).await.unwrap().is_empty());
        s.finish_sync_run(&b, first, t(99), Err("not yours"))
            .await
            .unwrap();
        assert_eq!(s.list_sync_runs(&a, 10).await.unwrap()[1].outcome, "ok");

        // Only the newest SYNC_RUNS_KEPT rows stay.
        for i in 0..SYNC_RUNS_KEPT {
            s.start_sync_run(&b, SyncTrigger::Cli, t(100 + i))
                .await
                .unwrap();
        }
        let last = s
            .start_sync_run(&b, SyncTrigger::Cli, t(1000))
            .await
            .unwrap();
        let kept = s.list_sync_runs(&b, SYNC_RUNS_KEPT).await.unwrap();
        assert_eq!(kept.len() as i64, SYNC_RUNS_KEPT);
        assert_eq!(kept[0].id, last);
        assert_eq!(kept.last().unwrap().started_at, t(101), "the oldest went");
        assert_eq!(
            s.list_sync_runs(&a, 10).await.unwrap().len(),
            2,
            "a's rows stay"
        );
    }
);

contract_test!(
    newest_first_pages_by_creation_time_descending_whatever_the_import_order,
    |ctx| {
        let s = &ctx.storage;
        let (_, store) = user_and_store(s, "a@example.com", "abc123").await;
        let scope = store.scope();
        // Order n is created at t(n). Imported out of creation order (open orders first, as a
        // first sync does): our ids do not follow the creation times.
        let at = |id: i64| {
            let mut o = order(id, id, 1);
            o.date_created = t(id);
            o
        };
        let mut first: Vec<_> = [7, 3, 9].into_iter().map(at).collect();
        first[1].fulfilment_state = FulfilmentState::Shipped;
        s.upsert_orders(&scope, &first).await.unwrap();
        let mut rest: Vec<_> = [1, 2, 4, 5, 6, 8, 10].into_iter().map(at).collect();
        rest[0].fulfilment_state = FulfilmentState::Shipped;
        rest[4].fulfilment_state = FulfilmentState::Shipped;
        rest[1].is_deleted = true;
        // An order whose id is not a number, created at the same second as order 5 and
        // imported last: a tie on the creation time goes to our id, newest (largest) first.
        let mut amazon = order("902-3159896-1390916", 5, 1);
        amazon.date_created = t(5);
        rest.push(amazon);
        s.upsert_orders(&scope, &rest).await.unwrap();

        let walk = |filter: OrderFilter, search: Option<&'static str>| async move {
            let (mut seen, mut after) = (Vec::new(), None);
            loop {
                let page = s
                    .search_orders(&scope, &filter, search, 3, after)
                    .await
                    .unwrap();
                seen.extend(page.orders.iter().map(|o| o.remote_id.clone()));
                match page.next_cursor {
                    Some(cursor) => after = Some(cursor),
                    None => return seen,
                }
            }
        };
        let newest = OrderFilter {
            newest_first: true,
            ..OrderFilter::default()
        };
        let amazon = "902-3159896-1390916";
        assert_eq!(
            walk(newest.clone(), None).await,
            ["10", "9", "8", "7", "6", amazon, "5", "4", "3", "1"],
            "every order once, newest first (2 is archived)"
        );
        assert_eq!(
            walk(OrderFilter::default(), None).await,
            ["7", "3", "9", "1", "4", "5", "6", "8", "10", amazon],
            "the default stays our id order"
        );
        let shipped = OrderFilter {
            fulfilment_state: Some(FulfilmentState::Shipped),
            ..newest.clone()
        };
        assert_eq!(walk(shipped, None).await, ["6", "3", "1"]);
        assert_eq!(
            walk(newest.clone(), Some("shopper@")).await,
            ["10", "9", "8", "7", "6", amazon, "5", "4", "3", "1"],
            "search pages newest first too"
        );
        assert_eq!(
            walk(newest, Some(amazon)).await,
            [amazon],
            "an order is found by its id, number or not"
        );
    }
);

contract_test!(
    an_import_announces_to_the_warehouse_what_it_must_act_on_and_nothing_else,
    |ctx| {
        let (user, store) = user_and_store(&ctx.storage, "a@example.com", "abc123").await;
        let scope = store.scope();
        let storage = &ctx.storage;
        let feed = || async {
            storage
                .events_after(Some(user.id), None, 1000)
                .await
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e.event_type.as_str(),
                        e.data["order"]["number"].as_str().unwrap().to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let on_hold = |mut o: NewOrderRecord| {
            o.status_code = "1".into();
            o.status_name = "Pending".into();
            o.fulfilment_state = FulfilmentState::OnHold;
            o
        };
        let cancelled = |mut o: NewOrderRecord| {
            o.status_code = "5".into();
            o.status_name = "Cancelled".into();
            o.fulfilment_state = FulfilmentState::Cancelled;
            o
        };

        // First seen: the ready order is announced, the held one is not (nothing to pick).
        storage
            .save_page(&scope, &[order(1, 10, 2), on_hold(order(2, 10, 1))], None)
            .await
            .unwrap();
        assert_eq!(feed().await, [("order.ready", "1".to_owned())]);

        // The same version again, and a newer one whose price alone changed: nothing.
        let mut priced = order(1, 20, 2);
        priced.lines[0].price = dec("12.0000");
        priced.total = dec("34.4750");
        storage
            .save_page(&scope, &[order(1, 10, 2), priced], None)
            .await
            .unwrap();
        assert_eq!(feed().await.len(), 1);

        // A new shipping address: order.updated, with the new address in its data.
        let mut moved = order(1, 30, 2);
        moved.addresses[1].street_1 = "2 Difference Engine Rd".into();
        storage.save_page(&scope, &[moved], None).await.unwrap();
        let events = storage
            .events_after(Some(user.id), None, 1000)
            .await
            .unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].event_type, EventType::OrderUpdated);
        assert_eq!(
            events[1].data["order"]["ship_to"][0]["street_1"],
            "2 Difference Engine Rd"
        );

        // On hold, then cancelled. The order held from the start is announced cancelled too: a
        // warehouse may have it from an export, and a cancellation too many costs nothing.
        let mut held = on_hold(order(1, 40, 2));
        held.addresses[1].street_1 = "2 Difference Engine Rd".into();
        storage
            .save_page(&scope, &[held.clone()], None)
            .await
            .unwrap();
        let mut gone = cancelled(held);
        gone.date_modified = t(50);
        storage
            .save_page(&scope, &[gone, cancelled(order(2, 50, 1))], None)
            .await
            .unwrap();
        // A late, older version of order 1 changes nothing and announces nothing.
        storage
            .save_page(&scope, &[order(1, 35, 2)], None)
            .await
            .unwrap();
        assert_eq!(
            feed().await,
            [
                ("order.ready", "1".to_owned()),
                ("order.updated", "1".to_owned()),
                ("order.on_hold", "1".to_owned()),
                ("order.cancelled", "1".to_owned()),
                ("order.cancelled", "2".to_owned()),
            ]
        );
        let last = storage
            .events_after(Some(user.id), None, 1000)
            .await
            .unwrap();
        assert_eq!(last[3].data["order"]["previous_state"], "on_hold");

        // Another merchant's feed has none of it.
        let (other, _) = user_and_store(storage, "b@example.com", "def456").await;
        assert!(storage
            .events_after(Some(other.id), None, 1000)
            .await
            .unwrap()
            .is_empty());
    }
);

contract_test!(
    a_delivery_goes_only_when_no_earlier_one_of_its_order_is_pending_for_its_subscription,
    |ctx| {
        // docs/EVENTS.md, "Order, retries, giving up": each transition a delivery goes through
        // (recorded, claimed, delivered, failed, given up, resent, its subscription removed)
        // keeps the next one of its order waiting, or lets it go.
        let storage = &ctx.storage;
        let (user, store) = user_and_store(storage, "a@example.com", "abc123").await;
        let scope = store.scope();
        let subscribe = |url: &'static str| NewSubscription {
            user_id: user.id,
            store_id: None,
            url: url.into(),
            event_types: Vec::new(),
            sealed_secret: vec![7; 48],
        };
        let a = storage
            .create_subscription(&subscribe("https://a.example.com/events"))
            .await
            .unwrap()
            .id;
        let b = storage
            .create_subscription(&subscribe("https://b.example.com/events"))
            .await
            .unwrap()
            .id;
        let name = |s: SubscriptionId| if s == a { "A" } else { "B" };
        let on_hold = |mut o: NewOrderRecord| {
            o.status_code = "1".into();
            o.status_name = "Pending".into();
            o.fulfilment_state = FulfilmentState::OnHold;
            o
        };
        let cancelled = |mut o: NewOrderRecord| {
            o.status_code = "5".into();
            o.status_name = "Cancelled".into();
            o.fulfilment_state = FulfilmentState::Cancelled;
            o
        };
        // What a dispatcher takes now: "A order.ready 1" and so on, sorted; the claims by name.
        let lease = std::time::Duration::from_secs(60);
        let mut held: std::collections::HashMap<String, ClaimedDelivery> = Default::default();
        macro_rules! claim {
            () => {{
                let mut taken: Vec<String> = Vec::new();
                for d in storage.claim_deliveries("p1", 100, lease).await.unwrap() {
                    let label = format!(
                        "{} {} {}",
                        name(d.subscription_id),
                        d.event.event_type,
                        d.event.data["order"]["number"].as_str().unwrap()
                    );
                    taken.push(label.clone());
                    held.insert(label, d);
                }
                taken.sort();
                taken
            }};
        }
        let day = std::time::Duration::from_secs(24 * 60 * 60);
        let now = std::time::Duration::ZERO;

        // Order 1 is ready, held, ready again; order 2 is ready: four events, each for A and B.
        storage
            .save_page(&scope, &[order(1, 10, 1)], None)
            .await
            .unwrap();
        storage
            .save_page(&scope, &[on_hold(order(1, 20, 1))], None)
            .await
            .unwrap();
        storage
            .save_page(&scope, &[order(1, 30, 1), order(2, 30, 1)], None)
            .await
            .unwrap();

        // Only the first event of each order goes, to each subscription; the rest wait.
        assert_eq!(
            claim!(),
            [
                "A order.ready 1",
                "A order.ready 2",
                "B order.ready 1",
                "B order.ready 2"
            ]
        );
        assert_eq!(claim!(), Vec::<String>::new(), "claimed, or waiting");
        let first_ready = held["A order.ready 1"].event.id;

        // Delivered: the next of its order goes, to that subscription only.
        let d = &held["A order.ready 1"];
        assert!(storage.delivery_succeeded(d.id, "p1", 200).await.unwrap());
        assert_eq!(claim!(), ["A order.on_hold 1"]);

        // Failed: it stays first in line, and its subscription pauses.
        let d = &held["A order.on_hold 1"];
        let state = storage
            .delivery_failed(d.id, "p1", Some(503), "down", day)
            .await
            .unwrap();
        assert_eq!(state, Some(DeliveryState::Pending));
        assert_eq!(claim!(), Vec::<String>::new(), "A is paused");
        // A success to the same subscription lifts the pause: the failed one goes again,
        // still before the later event of its order.
        let d = &held["A order.ready 2"];
        assert!(storage.delivery_succeeded(d.id, "p1", 200).await.unwrap());
        assert_eq!(claim!(), ["A order.on_hold 1"]);
        assert_eq!(held["A order.on_hold 1"].attempt, 2);

        // Given up: it no longer holds the later events of its order back.
        let d = &held["B order.ready 1"];
        let state = storage
            .delivery_failed(d.id, "p1", None, "refused", now)
            .await
            .unwrap();
        assert_eq!(state, Some(DeliveryState::Failed));
        let d = &held["B order.ready 2"];
        assert!(storage.delivery_succeeded(d.id, "p1", 200).await.unwrap());
        assert_eq!(claim!(), ["B order.on_hold 1"]);

        // A given-up delivery resent goes before the later events of its order again.
        let d = &held["A order.on_hold 1"];
        let state = storage
            .delivery_failed(d.id, "p1", None, "refused", now)
            .await
            .unwrap();
        assert_eq!(state, Some(DeliveryState::Failed));
        let resent = storage
            .resend_delivery(Some(user.id), held["A order.on_hold 1"].id)
            .await
            .unwrap();
        assert_eq!(resent.state, DeliveryState::Pending);
        assert_eq!(claim!(), ["A order.on_hold 1"]);
        let d = &held["A order.on_hold 1"];
        assert!(storage.delivery_succeeded(d.id, "p1", 200).await.unwrap());
        // So does a delivered one resent, before the event now first in line.
        storage
            .resend_delivery(None, held["A order.ready 1"].id)
            .await
            .unwrap();
        assert_eq!(claim!(), ["A order.ready 1"]);
        assert_eq!(held["A order.ready 1"].event.id, first_ready);
        let d = &held["A order.ready 1"];
        assert!(storage.delivery_succeeded(d.id, "p1", 200).await.unwrap());
        assert_eq!(
            claim!(),
            ["A order.ready 1"],
            "the third event, ready again"
        );
        assert!(held["A order.ready 1"].event.id > first_ready);

        // A new event of an order with a delivery in flight waits for it; one of an order with
        // nothing pending goes at once.
        storage
            .save_page(
                &scope,
                &[cancelled(order(1, 40, 1)), cancelled(order(2, 40, 1))],
                None,
            )
            .await
            .unwrap();
        assert_eq!(claim!(), ["A order.cancelled 2", "B order.cancelled 2"]);
        let d = &held["A order.ready 1"];
        assert!(storage.delivery_succeeded(d.id, "p1", 200).await.unwrap());
        assert_eq!(claim!(), ["A order.cancelled 1"]);

        // A removed subscription's deliveries go with it; the other's are untouched.
        storage.remove_subscription(Some(user.id), b).await.unwrap();
        let d = &held["B order.on_hold 1"];
        assert!(!storage.delivery_succeeded(d.id, "p1", 200).await.unwrap());
        assert_eq!(claim!(), Vec::<String>::new());
        for label in ["A order.cancelled 1", "A order.cancelled 2"] {
            let d = &held[label];
            assert!(storage.delivery_succeeded(d.id, "p1", 200).await.unwrap());
        }
        let counts = storage.delivery_counts().await.unwrap();
        assert_eq!(
            (counts.pending, counts.delivered, counts.failed),
            (0, 6, 0),
            "{counts:?}"
        );
    }
);
