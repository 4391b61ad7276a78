//! The core is channel-agnostic: a second channel, written here in memory and nowhere in the
//! product, goes through the same seam (`cenports::channel`) and the core's own code paths:
//! import (the frozen-window walk with its cursors, targeted fetches), shipment write-back
//! exactly once (the outbox, its read-back after a lost answer, a repeated request) and the
//! stock push (batches by the channel's limits, read-back, nothing when nothing changed), on
//! both backends.
//!
//! The channel is deliberately unlike BigCommerce: its ids are text (`MEM-0007`, lines
//! `MEM-0007/2`), its statuses are words (`open`, `held`, `shipped`, `void`), a page resumes
//! after an opaque token, it cannot count orders, and it calls nobody back.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use rust_decimal::Decimal;
use secrecy::SecretString;

use cenports::channel::credentials::encrypt_credentials;
use cenports::channel::{
    Callback, CallbackError, CatalogIn, CatalogPage, Channel, ChannelError, ConnectForm,
    ConnectRefused, ConnectSubmission, Credentials, Delivered, ErrorKind, FulfilmentOut, HooksOut,
    Limiters, OpenOptions, OrderPage, OrderQuery, OrdersIn, Pacing, ShipmentPayload, StatusMapping,
    StatusTarget, StockOut, StoreClient, VerifiedStore, Write, WriteKind, WriteOutcome,
};
use cenports::fulfilment::worker::{drain, WorkerConfig};
use cenports::fulfilment::{request_shipment, Carrier, ShipmentRequest};
use cenports::secrets::SecretBox;
use cenports::stock::push_stock;
use cenports::storage::{
    AddressKind, ChannelStatus, FulfilmentState, NewOrderAddress, NewOrderLine, NewOrderRecord,
    NewProduct, NewSku, NewStore, OrderAfterDelivery, OutboxId, OutboxState, StockTracking,
    Storage, StoreId, StoreProfile, StoreRecord, STREAM_ORDERS,
};
use cenports::sync::targeted::{import_order, TargetedOutcome};
use cenports::sync::{reconcile::reconcile_store, sync_store, SyncOptions};

use crate::common::both_backends;

const NAME: &str = "memory";
const DISPLAY: &str = "Memory";

/// One order of the in-memory store.
#[derive(Clone)]
struct MemOrder {
    id: String,
    status: String,
    modified: DateTime<Utc>,
    created: DateTime<Utc>,
    /// (line id, SKU, quantity, shipped)
    lines: Vec<(String, String, i32, i32)>,
}

/// A shipment the channel holds: the row that made it, and what it shipped.
#[derive(Clone)]
struct MemShipment {
    row: OutboxId,
    tracking: String,
    items: Vec<(String, i32)>,
}

#[derive(Default)]
struct State {
    clock: Option<DateTime<Utc>>,
    orders: BTreeMap<String, MemOrder>,
    shipments: HashMap<String, Vec<MemShipment>>,
    /// SKU → (product id, own level?, level)
    levels: BTreeMap<String, (String, bool, i64)>,
    requests: u64,
    /// Writes that are applied but whose answer is lost (a timeout after the channel did it).
    lose_answers: u32,
}

/// The store itself, shared by its client and the test.
#[derive(Clone, Default)]
struct Memory(Arc<Mutex<State>>);

impl Memory {
    fn clock(&self) -> DateTime<Utc> {
        self.0
            .lock()
            .unwrap()
            .clock
            .expect("the test set the clock")
    }

    fn tick(&self, seconds: i64) {
        let mut state = self.0.lock().unwrap();
        let now = state.clock.unwrap_or_else(|| {
            DateTime::parse_from_rfc3339("2026-06-01T08:00:00Z")
                .unwrap()
                .with_timezone(&Utc)
        });
        state.clock = Some(now + chrono::Duration::seconds(seconds));
    }

    /// Places an order with lines `(sku, quantity)`.
    fn place(&self, number: u32, status: &str, lines: &[(&str, i32)]) -> String {
        self.tick(1);
        let now = self.clock();
        let id = format!("MEM-{number:04}");
        let order = MemOrder {
            id: id.clone(),
            status: status.to_owned(),
            modified: now,
            created: now,
            lines: lines
                .iter()
                .enumerate()
                .map(|(i, (sku, q))| (format!("{id}/{}", i + 1), sku.to_string(), *q, 0))
                .collect(),
        };
        self.0.lock().unwrap().orders.insert(id.clone(), order);
        id
    }

    fn set_status(&self, id: &str, status: &str) {
        self.tick(1);
        let now = self.clock();
        let mut state = self.0.lock().unwrap();
        let order = state.orders.get_mut(id).unwrap();
        order.status = status.to_owned();
        order.modified = now;
    }

    fn shipments(&self, order: &str) -> Vec<MemShipment> {
        self.0
            .lock()
            .unwrap()
            .shipments
            .get(order)
            .cloned()
            .unwrap_or_default()
    }

    fn level(&self, sku: &str) -> i64 {
        self.0.lock().unwrap().levels[sku].2
    }

    fn requests(&self) -> u64 {
        self.0.lock().unwrap().requests
    }

    fn count_request(&self) {
        self.0.lock().unwrap().requests += 1;
    }

    fn record(order: &MemOrder, mapping: &StatusMapping) -> NewOrderRecord {
        NewOrderRecord {
            remote_id: order.id.clone(),
            status_code: order.status.clone(),
            status_name: order.status.to_uppercase(),
            fulfilment_state: mapping.state(&order.status),
            customer_id: None,
            email: Some("buyer@example.com".into()),
            currency: "CAD".into(),
            subtotal: Decimal::new(1000, 2),
            total: Decimal::new(1130, 2),
            tax: Decimal::new(130, 2),
            payment_method: None,
            payment_status: None,
            date_created: order.created,
            date_modified: order.modified,
            is_deleted: false,
            raw_json: format!(r#"{{"id":"{}","status":"{}"}}"#, order.id, order.status),
            lines: order
                .lines
                .iter()
                .map(|(id, sku, quantity, shipped)| NewOrderLine {
                    remote_id: id.clone(),
                    product_id: None,
                    variant_id: None,
                    sku: sku.clone(),
                    name: sku.clone(),
                    quantity: *quantity,
                    quantity_shipped: *shipped,
                    price: Decimal::ONE,
                    address_remote_id: None,
                })
                .collect(),
            addresses: vec![NewOrderAddress {
                kind: AddressKind::Shipping,
                remote_id: Some("ship-to".into()),
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                company: String::new(),
                street_1: "1 Main St".into(),
                street_2: String::new(),
                city: "Ottawa".into(),
                state: "ON".into(),
                zip: "K1A 0A1".into(),
                country_iso2: "CA".into(),
                email: String::new(),
                phone: String::new(),
                shipping_method: None,
            }],
        }
    }

    fn after_delivery(&self, order: &MemOrder) -> OrderAfterDelivery {
        OrderAfterDelivery {
            status: ChannelStatus {
                status_code: order.status.clone(),
                status_name: order.status.to_uppercase(),
                fulfilment_state: mapping().state(&order.status),
            },
            date_modified: order.modified,
            lines_shipped: order
                .lines
                .iter()
                .map(|(id, _, _, shipped)| (id.clone(), *shipped))
                .collect(),
        }
    }
}

fn mapping() -> StatusMapping {
    StatusMapping::from_entries([
        ("open", FulfilmentState::Ready),
        ("held", FulfilmentState::OnHold),
        ("shipped", FulfilmentState::Shipped),
        ("void", FulfilmentState::Cancelled),
    ])
}

fn unavailable(what: &str) -> ChannelError {
    ChannelError::new(
        DISPLAY,
        ErrorKind::Unavailable,
        std::io::Error::other(what.to_owned()),
    )
}

/// The channel: it opens every store on the one in-memory store.
struct MemoryChannel(Memory);

#[async_trait]
impl Channel for MemoryChannel {
    fn name(&self) -> &'static str {
        NAME
    }
    fn display_name(&self) -> &'static str {
        DISPLAY
    }
    fn connect_form(&self) -> ConnectForm {
        ConnectForm {
            intro: "A store in memory.",
            fields: Vec::new(),
            file: None,
            permissions_caption: "",
        }
    }
    fn reconnect_prefill(&self, _: &StoreRecord) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    async fn check(&self, _: ConnectSubmission) -> Result<VerifiedStore, ConnectRefused> {
        Err(ConnectRefused::new("stores in memory are made by the test"))
    }
    fn open(
        &self,
        _: &StoreRecord,
        _: Credentials,
        _: &OpenOptions,
        _: &Limiters,
    ) -> Result<Arc<dyn StoreClient>, ChannelError> {
        Ok(Arc::new(self.0.clone()))
    }
    fn max_tracking_number(&self) -> usize {
        30
    }
    fn refuses_shipment(&self, status_code: &str) -> bool {
        status_code == "void"
    }

    fn order_statuses(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("open", "OPEN"),
            ("held", "HELD"),
            ("shipped", "SHIPPED"),
            ("void", "VOID"),
        ]
    }
    fn read_callback(
        &self,
        _: &SecretString,
        _: &axum::http::HeaderMap,
        _: &[u8],
    ) -> Result<Callback, CallbackError> {
        Err(CallbackError::Unauthenticated("no callbacks".into()))
    }
}

impl StoreClient for Memory {
    fn channel(&self) -> &'static str {
        DISPLAY
    }
    fn store_key(&self) -> &str {
        "memory-store"
    }
    fn pacing(&self) -> Pacing {
        Pacing {
            requests_sent: self.requests(),
            ..Pacing::default()
        }
    }
    fn orders(&self) -> &dyn OrdersIn {
        self
    }
    fn catalog(&self) -> &dyn CatalogIn {
        self
    }
    fn fulfilment(&self) -> &dyn FulfilmentOut {
        self
    }
    fn stock(&self) -> &dyn StockOut {
        self
    }
    fn hooks(&self) -> Option<&dyn HooksOut> {
        None
    }
}

#[async_trait]
impl OrdersIn for Memory {
    async fn now(&self) -> Result<DateTime<Utc>, ChannelError> {
        self.count_request();
        Ok(self.clock())
    }
    fn max_page_size(&self) -> u32 {
        3
    }
    fn status_mapping(&self) -> StatusMapping {
        mapping()
    }
    fn streams(&self) -> Vec<String> {
        vec![STREAM_ORDERS.to_owned()]
    }
    fn open_statuses(&self) -> Vec<String> {
        vec!["open".into()]
    }
    async fn count(&self, _: &OrderQuery, _: Option<&str>) -> Result<Option<u64>, ChannelError> {
        Ok(None)
    }
    /// Pages in id order after an opaque token: the last id read, reversed.
    async fn page(
        &self,
        query: &OrderQuery,
        cursor: Option<&str>,
        mapping: &StatusMapping,
    ) -> Result<OrderPage, ChannelError> {
        self.count_request();
        let after: Option<String> = cursor.map(|c| c.chars().rev().collect());
        let state = self.0.lock().unwrap();
        let matching: Vec<&MemOrder> = state
            .orders
            .values()
            .filter(|o| after.as_ref().is_none_or(|a| &o.id > a))
            .filter(|o| query.status.as_ref().is_none_or(|s| &o.status == s))
            .filter(|o| query.modified_from.is_none_or(|from| o.modified >= from))
            .filter(|o| query.modified_to.is_none_or(|to| o.modified <= to))
            .collect();
        let size = query.page_size.clamp(1, 3) as usize;
        let page: Vec<NewOrderRecord> = matching
            .iter()
            .take(size)
            .map(|o| Memory::record(o, mapping))
            .collect();
        Ok(OrderPage {
            cursor: page
                .last()
                .map(|o| o.remote_id.chars().rev().collect())
                .or_else(|| cursor.map(str::to_owned)),
            more: matching.len() > size,
            orders: page,
        })
    }
    async fn fetch(
        &self,
        order: &str,
        mapping: &StatusMapping,
    ) -> Result<Option<NewOrderRecord>, ChannelError> {
        self.count_request();
        let state = self.0.lock().unwrap();
        Ok(state.orders.get(order).map(|o| Memory::record(o, mapping)))
    }
    async fn count_by_status(
        &self,
    ) -> Result<Option<Vec<cenports::channel::StatusTotal>>, ChannelError> {
        Ok(None)
    }
    async fn created_span(&self, _: &str) -> Result<Vec<DateTime<Utc>>, ChannelError> {
        Ok(Vec::new())
    }
}

#[async_trait]
impl CatalogIn for Memory {
    fn products(
        &self,
        _: Option<DateTime<Utc>>,
        _: DateTime<Utc>,
        _: u32,
    ) -> BoxStream<'_, Result<CatalogPage, ChannelError>> {
        self.count_request();
        let state = self.0.lock().unwrap();
        let modified = state.clock.unwrap_or_default();
        let mut page = CatalogPage::default();
        let mut products: BTreeMap<String, bool> = BTreeMap::new();
        for (sku, (product, own, level)) in &state.levels {
            products.insert(product.clone(), *own);
            page.skus.push(NewSku {
                sku: sku.clone(),
                product_remote_id: product.clone(),
                variant_remote_id: own.then(|| format!("{sku}#v")),
                stock_tracking: if *own {
                    StockTracking::Variant
                } else {
                    StockTracking::Product
                },
            });
            page.levels.push((sku.clone(), *level));
        }
        page.products = products
            .into_iter()
            .map(|(id, own)| NewProduct {
                remote_id: id.clone(),
                name: id,
                sku: String::new(),
                stock_tracking: if own {
                    StockTracking::Variant
                } else {
                    StockTracking::Product
                },
                date_modified: modified,
            })
            .collect();
        Box::pin(futures::stream::iter([Ok(page)]))
    }
    async fn fetch_product(&self, _: &str) -> Result<Option<CatalogPage>, ChannelError> {
        Ok(None)
    }
}

#[async_trait]
impl FulfilmentOut for Memory {
    async fn create_shipment(
        &self,
        order: &str,
        row: OutboxId,
        shipment: &ShipmentPayload,
    ) -> Result<Delivered, ChannelError> {
        self.count_request();
        self.tick(1);
        let now = self.clock();
        let mut state = self.0.lock().unwrap();
        let held = state.orders.get_mut(order).expect("the order exists");
        for item in &shipment.items {
            let line = held
                .lines
                .iter_mut()
                .find(|l| l.0 == item.line_remote_id)
                .expect("the line exists");
            line.3 += item.quantity;
        }
        if held.lines.iter().all(|l| l.3 >= l.2) {
            held.status = "shipped".into();
        }
        held.modified = now;
        let held = held.clone();
        state
            .shipments
            .entry(order.to_owned())
            .or_default()
            .push(MemShipment {
                row,
                tracking: shipment.tracking_number.clone(),
                items: shipment
                    .items
                    .iter()
                    .map(|i| (i.line_remote_id.clone(), i.quantity))
                    .collect(),
            });
        if state.lose_answers > 0 {
            state.lose_answers -= 1;
            return Err(unavailable(
                "the answer was lost after the shipment was made",
            ));
        }
        drop(state);
        Ok(Delivered {
            result: format!("{order}#shipment"),
            order: Some(self.after_delivery(&held)),
        })
    }
    async fn find_shipment(
        &self,
        order: &str,
        row: OutboxId,
    ) -> Result<Option<Delivered>, ChannelError> {
        self.count_request();
        let state = self.0.lock().unwrap();
        let found = state
            .shipments
            .get(order)
            .is_some_and(|all| all.iter().any(|s| s.row == row));
        Ok(found.then(|| Delivered {
            result: format!("{order}#shipment"),
            order: state.orders.get(order).map(|o| self.after_delivery(o)),
        }))
    }
    async fn set_status(&self, order: &str, to: StatusTarget) -> Result<Delivered, ChannelError> {
        self.count_request();
        let status = match to {
            StatusTarget::Cancelled => "void",
            StatusTarget::OnHold => "held",
            _ => "open",
        };
        self.set_status(order, status);
        let state = self.0.lock().unwrap();
        Ok(Delivered {
            result: status.to_owned(),
            order: state.orders.get(order).map(|o| self.after_delivery(o)),
        })
    }
    async fn find_status(
        &self,
        _: &str,
        _: StatusTarget,
    ) -> Result<Option<Delivered>, ChannelError> {
        Ok(None)
    }
}

#[async_trait]
impl StockOut for Memory {
    fn batch_limit(&self, kind: WriteKind) -> usize {
        match kind {
            WriteKind::Variant => 2,
            WriteKind::Product => 1,
        }
    }
    fn read_limit(&self) -> usize {
        10
    }
    async fn write(&self, _: WriteKind, items: &[Write]) -> Result<WriteOutcome, ChannelError> {
        self.count_request();
        let mut state = self.0.lock().unwrap();
        for write in items {
            state.levels.get_mut(&write.sku).expect("a known SKU").2 = write.level;
        }
        Ok(WriteOutcome::Applied)
    }
    async fn read(
        &self,
        kind: WriteKind,
        ids: &[String],
    ) -> Result<HashMap<String, i64>, ChannelError> {
        self.count_request();
        let state = self.0.lock().unwrap();
        Ok(state
            .levels
            .iter()
            .filter_map(|(sku, (product, own, level))| {
                let id = match kind {
                    WriteKind::Variant if *own => format!("{sku}#v"),
                    WriteKind::Product if !*own => product.clone(),
                    _ => return None,
                };
                ids.contains(&id).then_some((id, *level))
            })
            .collect())
    }
}

/// Saves a store of the memory channel for a merchant, as `connect` would.
async fn memory_store(storage: &Storage) -> StoreRecord {
    let secret_box = SecretBox::from_key_bytes(&[3; 32]).unwrap();
    let user = storage
        .ensure_user("memory@cenports.example")
        .await
        .unwrap();
    let credentials = Credentials {
        client_id: "memory".into(),
        client_secret: SecretString::from("secret".to_owned()),
        access_token: SecretString::from("token".to_owned()),
    };
    storage
        .save_store(
            user.id,
            &NewStore {
                channel: NAME.into(),
                remote_id: "memory-store".into(),
                api_base_url: "memory:".into(),
                profile: StoreProfile::default(),
                credentials: encrypt_credentials(&secret_box, "memory-store", &credentials),
            },
        )
        .await
        .unwrap()
}

fn options() -> SyncOptions {
    SyncOptions {
        settle: Duration::from_secs(1),
        page_size: 3,
        ..SyncOptions::default()
    }
}

both_backends!(
    a_channel_with_text_ids_and_opaque_cursors_imports_through_the_core,
    |ctx| {
        let memory = Memory::default();
        memory.tick(0);
        for n in 1..=7 {
            let status = if n % 3 == 0 { "held" } else { "open" };
            memory.place(n, status, &[("MUG-1", 1), ("TEE-S", 2)]);
        }
        memory.tick(10);
        let store = memory_store(&ctx.storage).await;
        let scope = store.scope();

        let first = sync_store(&ctx.storage, &scope, &memory, &options(), |_| {})
            .await
            .unwrap();
        assert_eq!((first.inserted, first.updated), (7, 0), "{first:?}");
        assert!(first.pages >= 3, "pages of three: {first:?}");
        let order = ctx
            .storage
            .find_order_by_remote_id(&scope, "MEM-0003")
            .await
            .unwrap()
            .expect("the order is in the hub by its text id");
        assert_eq!(order.summary.status_code, "held");
        assert_eq!(order.summary.fulfilment_state, FulfilmentState::OnHold);
        assert_eq!(order.lines[1].remote_id, "MEM-0003/2");
        let cursor = ctx
            .storage
            .get_checkpoint(&scope, STREAM_ORDERS)
            .await
            .unwrap()
            .unwrap()
            .cursor;
        assert_eq!(
            cursor.as_deref(),
            Some("7000-MEM"),
            "the channel's own cursor is kept"
        );

        // Changes since: one status, one new order; the next sync brings exactly those.
        memory.set_status("MEM-0003", "open");
        memory.place(8, "open", &[("MUG-1", 1)]);
        memory.tick(10);
        let second = sync_store(&ctx.storage, &scope, &memory, &options(), |_| {})
            .await
            .unwrap();
        assert_eq!((second.inserted, second.updated), (1, 1), "{second:?}");
        assert_eq!(ctx.storage.count_orders(&scope).await.unwrap(), 8);

        // A targeted fetch (what a webhook would trigger) and reconciliation, which this channel
        // cannot do by counts: said, not faked.
        memory.set_status("MEM-0008", "void");
        let fetched = import_order(&ctx.storage, &scope, &memory, &mapping(), "MEM-0008")
            .await
            .unwrap();
        assert!(matches!(fetched, TargetedOutcome::Saved(o) if o.updated == 1));
        assert_eq!(
            import_order(&ctx.storage, &scope, &memory, &mapping(), "MEM-9999")
                .await
                .unwrap(),
            TargetedOutcome::NotFound
        );
        let reconciled = reconcile_store(&ctx.storage, &scope, &memory, &options())
            .await
            .unwrap();
        assert!(!reconciled.counted && reconciled.drifted.is_empty());
    }
);

both_backends!(
    a_channel_with_text_ids_gets_each_shipment_exactly_once_through_the_outbox,
    |ctx| {
        let memory = Memory::default();
        memory.tick(0);
        let order = memory.place(1, "open", &[("MUG-1", 2), ("TEE-S", 1)]);
        let void = memory.place(2, "void", &[("MUG-1", 1)]);
        memory.tick(10);
        let store = memory_store(&ctx.storage).await;
        let scope = store.scope();
        sync_store(&ctx.storage, &scope, &memory, &options(), |_| {})
            .await
            .unwrap();
        let channel = MemoryChannel(memory.clone());
        let clients: HashMap<StoreId, Arc<dyn StoreClient>> =
            [(store.id(), Arc::new(memory.clone()) as Arc<dyn StoreClient>)].into();
        let config = WorkerConfig {
            retry_base: Duration::from_millis(10),
            retry_max: Duration::from_millis(50),
            quiet_period: Duration::from_millis(100),
            recheck_gap: Duration::from_millis(50),
            drain_patience: Duration::from_secs(5),
            ..WorkerConfig::default()
        };
        let request = ShipmentRequest {
            order_remote_id: order.clone(),
            carrier: Carrier::CanadaPost,
            tracking_number: "CP-0001".into(),
            tracking_link: None,
            shipped_at: None,
            items: Vec::new(),
            request_key: None,
        };

        // The channel applies the shipment but the answer is lost: the row is read back before
        // any retry and found, so the order ships once.
        memory.0.lock().unwrap().lose_answers = 1;
        let requested = request_shipment(&ctx.storage, &store, &channel, &request)
            .await
            .unwrap();
        assert_eq!(requested.rows.len(), 1);
        assert_eq!(requested.rows[0].part, "ship-to");
        let report = drain(&ctx.storage, &clients, Some(store.id()), &config)
            .await
            .unwrap();
        assert_eq!((report.sends, report.delivered_found), (1, 1), "{report:?}");
        let shipments = memory.shipments(&order);
        assert_eq!(shipments.len(), 1, "one shipment, not two");
        assert_eq!(shipments[0].tracking, "CP-0001");
        assert_eq!(
            shipments[0].items,
            vec![(format!("{order}/1"), 2), (format!("{order}/2"), 1)]
        );
        let row = ctx
            .storage
            .get_outbox(&scope, requested.rows[0].id)
            .await
            .unwrap();
        assert_eq!(row.state, OutboxState::Delivered);
        let held = ctx
            .storage
            .find_order_by_remote_id(&scope, &order)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(held.summary.fulfilment_state, FulfilmentState::Shipped);

        // The same parcel reported again: nothing queued, nothing sent.
        let again = request_shipment(&ctx.storage, &store, &channel, &request)
            .await
            .unwrap();
        assert!(again.duplicate);
        let report = drain(&ctx.storage, &clients, Some(store.id()), &config)
            .await
            .unwrap();
        assert_eq!(report.sends, 0);
        assert_eq!(memory.shipments(&order).len(), 1);

        // The channel's own refusals are checked before anything is queued, in its words.
        let refused = request_shipment(
            &ctx.storage,
            &store,
            &channel,
            &ShipmentRequest {
                order_remote_id: void,
                tracking_number: "CP-0002".into(),
                ..request.clone()
            },
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            refused.contains("change its status in Memory first"),
            "{refused}"
        );
        let too_long = request_shipment(
            &ctx.storage,
            &store,
            &channel,
            &ShipmentRequest {
                tracking_number: "X".repeat(31),
                ..request
            },
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(too_long.contains("Memory accepts at most 30"), "{too_long}");
    }
);

both_backends!(
    a_channel_with_its_own_batch_limits_gets_the_fewest_stock_writes,
    |ctx| {
        let memory = Memory::default();
        memory.tick(0);
        {
            let mut state = memory.0.lock().unwrap();
            for (sku, product, own) in [
                ("TEE-S", "TEE", true),
                ("TEE-M", "TEE", true),
                ("TEE-L", "TEE", true),
                ("MUG-1", "MUG", false),
                ("CAP-1", "CAP", false),
            ] {
                state.levels.insert(sku.into(), (product.into(), own, 0));
            }
        }
        memory.place(1, "open", &[("TEE-S", 2)]);
        memory.tick(10);
        let store = memory_store(&ctx.storage).await;
        let scope = store.scope();
        sync_store(&ctx.storage, &scope, &memory, &options(), |_| {})
            .await
            .unwrap();
        let on_hand: Vec<(String, i64)> = ["TEE-S", "TEE-M", "TEE-L", "MUG-1", "CAP-1"]
            .iter()
            .map(|sku| (sku.to_string(), 10))
            .collect();
        ctx.storage.set_stock(&scope, &on_hand).await.unwrap();

        let first = push_stock(&ctx.storage, &scope, &memory).await.unwrap();
        // Three variant levels by 2 and two product levels by 1: the floor is 2 + 2.
        assert_eq!((first.floor, first.write_requests), (4, 4), "{first:?}");
        assert_eq!(memory.level("TEE-S"), 8, "10 on hand, 2 on the open order");
        assert_eq!(memory.level("MUG-1"), 10);
        let second = push_stock(&ctx.storage, &scope, &memory).await.unwrap();
        assert_eq!(
            (second.write_requests, second.read_requests),
            (0, 0),
            "{second:?}"
        );
    }
);
