//! Two merchants' worth of hub: a merchant account (password, API key) with a sandbox store
//! of six orders, connected and synced, as the API and dashboard tests start from.

use std::time::Duration;

use bigcommerce_sandbox::model::InventoryTracking as SbTracking;
use bigcommerce_sandbox::{fixtures, Plan, Sandbox, StoreSpec};
use chrono::Utc;
use secrecy::SecretString;
use url::Url;

use cenports::accounts::{self, Role};
use cenports::channel::bigcommerce::CHANNEL;
use cenports::channel::credentials::encrypt_credentials;
use cenports::channel::Credentials;
use cenports::config::Settings;
use cenports::storage::{NewStore, StoreProfile, StoreScope};
use cenports::sync::{sync_store, SyncOptions};

use super::Ctx;

/// Every test account's password.
pub const PASSWORD: &str = "correct horse battery staple";

/// A merchant with one store, imported.
pub struct Tenant {
    pub email: String,
    pub key: String,
    pub store_id: i64,
    pub hash: String,
    pub scope: StoreScope,
    /// Our id of the first order (MUG-1 ×2, TEE-S ×1, billed to "Zoe Tremblay").
    pub order_id: i64,
    /// Its BigCommerce number.
    pub order_number: String,
}

/// A merchant account with a password and an API key, and a store of theirs with six orders,
/// connected and synced.
pub async fn tenant(
    ctx: &Ctx,
    sandbox: &Sandbox,
    settings: &Settings,
    email: &str,
    seed: u64,
) -> Tenant {
    let info = sandbox.create_store(StoreSpec {
        seed,
        products: 0,
        orders: 0,
        plan: Plan::Unlimited,
        ..StoreSpec::default()
    });
    sandbox
        .with_store(&info.hash, |data, _| {
            for (name, sku) in [("Mug", "MUG-1"), ("Tee", "TEE-S"), ("Cap", "CAP-1")] {
                data.add_product(fixtures::product(name, sku, SbTracking::None, 0, vec![]));
            }
        })
        .unwrap();
    let place = |order: bigcommerce_sandbox::store::NewOrder| -> i64 {
        sandbox
            .with_store(&info.hash, |data, events| data.place_order(order, events))
            .unwrap()
            .unwrap() as i64
    };
    let mut first = fixtures::order(1, &[("MUG-1", 2, 0), ("TEE-S", 1, 0)]);
    first.billing_address = Some(fixtures::address("Zoe", "CA"));
    first.date_created = Some(Utc::now() - chrono::Duration::hours(2));
    let first_number = place(first);
    let mut two = fixtures::order(2, &[("MUG-1", 1, 0), ("CAP-1", 1, 1)]);
    two.date_created = Some(Utc::now() - chrono::Duration::hours(2));
    place(two);
    let mut cancelled = fixtures::order(1, &[("CAP-1", 1, 0)]);
    cancelled.status_id = Some(5);
    cancelled.date_created = Some(Utc::now() - chrono::Duration::hours(2));
    place(cancelled);
    for _ in 0..3 {
        let mut more = fixtures::order(1, &[("TEE-S", 1, 0)]);
        more.date_created = Some(Utc::now() - chrono::Duration::hours(2));
        place(more);
    }

    let (account, _) = accounts::create_account(
        &ctx.storage,
        email,
        Role::Merchant,
        SecretString::from(PASSWORD.to_owned()),
    )
    .await
    .unwrap();
    let (key, _) = accounts::create_api_key(&ctx.storage, account.user.id, "test")
        .await
        .unwrap();
    let account_info = info.account("merchant-guide").unwrap();
    let api = Url::parse(sandbox.base_url()).unwrap();
    let credentials = Credentials {
        client_id: account_info.client_id.clone(),
        client_secret: SecretString::from(account_info.client_secret.clone()),
        access_token: SecretString::from(account_info.access_token.clone()),
    };
    let record = ctx
        .storage
        .save_store(
            account.user.id,
            &NewStore {
                channel: CHANNEL.into(),
                remote_id: info.hash.clone(),
                api_base_url: api.to_string(),
                profile: StoreProfile {
                    name: format!("{email}'s store"),
                    ..StoreProfile::default()
                },
                credentials: encrypt_credentials(
                    &settings.secret_box().unwrap(),
                    &info.hash,
                    &credentials,
                ),
            },
        )
        .await
        .unwrap();
    let client = settings
        .channels()
        .unwrap()
        .open(&ctx.storage, &record)
        .await
        .unwrap();
    let options = SyncOptions {
        settle: Duration::from_secs(1),
        ..SyncOptions::default()
    };
    sync_store(
        &ctx.storage,
        &record.scope(),
        client.as_ref(),
        &options,
        |_| {},
    )
    .await
    .unwrap();
    let order = ctx
        .storage
        .find_order_by_remote_id(&record.scope(), &first_number.to_string())
        .await
        .unwrap()
        .expect("the first order was imported");
    Tenant {
        email: email.into(),
        key: secrecy::ExposeSecret::expose_secret(&key).to_owned(),
        store_id: record.id().get(),
        hash: info.hash,
        scope: record.scope(),
        order_id: order.summary.id.get(),
        order_number: first_number.to_string(),
    }
}
