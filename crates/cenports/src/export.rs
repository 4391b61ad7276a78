//! # Warehouse documents: the order export and the pick list
//!
//! What a warehouse reads out of the hub, the same from the CLI (`cenports orders export`,
//! `cenports orders pick-list`), the API (`GET …/orders/export`, `GET …/orders/pick-list`) and
//! the dashboard (links on the orders page):
//!
//! - the **export**: one row per order line (order number, date, status, customer, the ship-to
//!   address of the line's consignment, SKU, name, quantity, quantity remaining), as CSV or as
//!   JSON lines, **streamed**: [`ExportPages`] walks the store's orders by our id with a keyset
//!   cursor, [`PAGE`] orders at a time (their lines and addresses in two more queries), so
//!   memory stays bounded whatever the number of orders (`docs/PERFORMANCE.md`, "Order export");
//! - the **pick list**: the SKUs of the selected orders summed (what remains to ship), with the
//!   number of orders each is on and a blank `bin` column for the warehouse; it holds one entry
//!   per distinct SKU, never the orders.
//!
//! Channel-neutral: orders, lines and addresses as storage holds them.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::storage::{
    AddressKind, FulfilmentState, NewOrderAddress, NewOrderLine, OrderFilter, OrderId,
    OrderSummary, Storage, StorageError, StoreScope,
};

/// Orders read per page of an export.
pub const PAGE: u32 = 500;

/// The export's columns, in order (the CSV's header).
pub const EXPORT_COLUMNS: [&str; 18] = [
    "order",
    "date",
    "status",
    "customer",
    "email",
    "ship_to_name",
    "ship_to_company",
    "ship_to_street_1",
    "ship_to_street_2",
    "ship_to_city",
    "ship_to_state",
    "ship_to_zip",
    "ship_to_country",
    "ship_to_phone",
    "sku",
    "name",
    "quantity",
    "quantity_remaining",
];

/// One line of one order, as exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportRow {
    /// The channel's order number.
    pub order: String,
    /// Created at the channel (RFC 3339, UTC).
    pub date: String,
    /// The channel's status name.
    pub status: String,
    /// The billing name (or the email when there is none).
    pub customer: String,
    /// The customer's email.
    pub email: String,
    /// Ship-to: name.
    pub ship_to_name: String,
    /// Ship-to: company.
    pub ship_to_company: String,
    /// Ship-to: street, first line.
    pub ship_to_street_1: String,
    /// Ship-to: street, second line.
    pub ship_to_street_2: String,
    /// Ship-to: city.
    pub ship_to_city: String,
    /// Ship-to: state or region.
    pub ship_to_state: String,
    /// Ship-to: postal code.
    pub ship_to_zip: String,
    /// Ship-to: ISO country code.
    pub ship_to_country: String,
    /// Ship-to: phone.
    pub ship_to_phone: String,
    /// The line's SKU.
    pub sku: String,
    /// The line's name.
    pub name: String,
    /// Ordered.
    pub quantity: i32,
    /// Ordered minus shipped.
    pub quantity_remaining: i32,
}

fn full_name(a: &NewOrderAddress) -> String {
    format!("{} {}", a.first_name, a.last_name)
        .trim()
        .to_owned()
}

/// The rows of one order: one per line, each with the address of its consignment (the first
/// shipping address when the line names none, the billing address when there is no shipping
/// address).
pub fn order_rows(
    order: &OrderSummary,
    lines: &[NewOrderLine],
    addresses: &[NewOrderAddress],
) -> Vec<ExportRow> {
    let billing = addresses.iter().find(|a| a.kind == AddressKind::Billing);
    let first_shipping = addresses.iter().find(|a| a.kind == AddressKind::Shipping);
    let customer = billing
        .map(full_name)
        .filter(|n| !n.is_empty())
        .or_else(|| order.email.clone())
        .unwrap_or_default();
    lines
        .iter()
        .map(|line| {
            let ship_to = line
                .address_remote_id
                .as_ref()
                .and_then(|id| {
                    addresses.iter().find(|a| {
                        a.kind == AddressKind::Shipping && a.remote_id.as_ref() == Some(id)
                    })
                })
                .or(first_shipping)
                .or(billing);
            let field = |f: fn(&NewOrderAddress) -> &str| {
                ship_to.map(|a| f(a).to_owned()).unwrap_or_default()
            };
            ExportRow {
                order: order.remote_id.clone(),
                date: order
                    .date_created
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                status: order.status_name.clone(),
                customer: customer.clone(),
                email: order.email.clone().unwrap_or_default(),
                ship_to_name: ship_to.map(full_name).unwrap_or_default(),
                ship_to_company: field(|a| &a.company),
                ship_to_street_1: field(|a| &a.street_1),
                ship_to_street_2: field(|a| &a.street_2),
                ship_to_city: field(|a| &a.city),
                ship_to_state: field(|a| &a.state),
                ship_to_zip: field(|a| &a.zip),
                ship_to_country: field(|a| &a.country_iso2),
                ship_to_phone: field(|a| &a.phone),
                sku: line.sku.clone(),
                name: line.name.clone(),
                quantity: line.quantity,
                quantity_remaining: (line.quantity - line.quantity_shipped).max(0),
            }
        })
        .collect()
}

/// A CSV field: quoted when it holds a comma, a quote or a line break; a text that a
/// spreadsheet would run as a formula (`=`, `+`, `-`, `@`, a tab or a carriage return first)
/// gets a leading `'`, as OWASP advises for CSV files opened in spreadsheets (order data comes
/// from shoppers).
pub fn csv_field(text: &str) -> String {
    let guarded;
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        guarded = format!("'{text}");
        guarded.as_str()
    } else {
        text
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The CSV header line (with its line break).
pub fn csv_header() -> String {
    format!("{}\n", EXPORT_COLUMNS.join(","))
}

impl ExportRow {
    /// The row as one CSV line (with its line break).
    pub fn csv_line(&self) -> String {
        let texts = [
            &self.order,
            &self.date,
            &self.status,
            &self.customer,
            &self.email,
            &self.ship_to_name,
            &self.ship_to_company,
            &self.ship_to_street_1,
            &self.ship_to_street_2,
            &self.ship_to_city,
            &self.ship_to_state,
            &self.ship_to_zip,
            &self.ship_to_country,
            &self.ship_to_phone,
            &self.sku,
            &self.name,
        ];
        let mut line = texts
            .iter()
            .map(|t| csv_field(t))
            .collect::<Vec<_>>()
            .join(",");
        line.push_str(&format!(",{},{}\n", self.quantity, self.quantity_remaining));
        line
    }

    /// The row as one line of JSON (with its line break).
    pub fn json_line(&self) -> String {
        let mut line = serde_json::to_string(self).expect("a row serialises");
        line.push('\n');
        line
    }
}

/// Which orders a document covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Only this fulfilment state (`ready` for what is to pick).
    pub state: Option<FulfilmentState>,
}

/// The pages of an export: the store's orders by ascending id, [`PAGE`] at a time, as rows.
pub struct ExportPages {
    storage: Storage,
    scope: StoreScope,
    filter: OrderFilter,
    after: Option<OrderId>,
    done: bool,
}

impl ExportPages {
    /// The export of the store's orders the selection takes (archived orders left out).
    pub fn new(storage: Storage, scope: StoreScope, selection: &Selection) -> Self {
        ExportPages {
            storage,
            scope,
            filter: OrderFilter {
                fulfilment_state: selection.state,
                ..OrderFilter::default()
            },
            after: None,
            done: false,
        }
    }

    /// The rows of the next page of orders; `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<Vec<ExportRow>>, StorageError> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .storage
            .list_orders(&self.scope, &self.filter, PAGE, self.after)
            .await?;
        self.after = page.next_cursor;
        self.done = page.next_cursor.is_none();
        let ids: Vec<OrderId> = page.orders.iter().map(|o| o.id).collect();
        let mut parts = self.storage.order_parts(&self.scope, &ids).await?;
        let mut rows = Vec::new();
        for order in &page.orders {
            let (lines, addresses) = parts.remove(&order.id).unwrap_or_default();
            rows.extend(order_rows(order, &lines, &addresses));
        }
        Ok(Some(rows))
    }
}

/// One SKU of a pick list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PickItem {
    /// The SKU.
    pub sku: String,
    /// Its name (as on the first order line seen).
    pub name: String,
    /// Units to pick: the quantity remaining, summed over the selected orders.
    pub quantity: i64,
    /// Orders it is on.
    pub orders: i64,
    /// Left blank: the warehouse's bin or location.
    pub bin: String,
}

/// The pick list of the selected orders: every SKU with something left to ship, summed, by
/// SKU. Reads the orders page by page ([`ExportPages`]); holds one entry per SKU.
pub async fn pick_list(
    storage: &Storage,
    scope: &StoreScope,
    selection: &Selection,
) -> Result<Vec<PickItem>, StorageError> {
    let mut pages = ExportPages::new(storage.clone(), *scope, selection);
    let mut items: BTreeMap<String, PickItem> = BTreeMap::new();
    while let Some(rows) = pages.next_page().await? {
        // Rows of one order come together: each SKU counts the order once.
        let mut order = String::new();
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        for row in rows.into_iter().filter(|r| r.quantity_remaining > 0) {
            if row.order != order {
                order = row.order.clone();
                seen.clear();
            }
            let item = items.entry(row.sku.clone()).or_insert_with(|| PickItem {
                sku: row.sku.clone(),
                name: row.name.clone(),
                quantity: 0,
                orders: 0,
                bin: String::new(),
            });
            item.quantity += i64::from(row.quantity_remaining);
            if seen.insert(row.sku) {
                item.orders += 1;
            }
        }
    }
    Ok(items.into_values().collect())
}

/// The pick list as CSV (`sku,name,quantity,orders,bin`).
pub fn pick_list_csv(items: &[PickItem]) -> String {
    let mut out = String::from("sku,name,quantity,orders,bin\n");
    for item in items {
        out.push_str(&format!(
            "{},{},{},{},\n",
            csv_field(&item.sku),
            csv_field(&item.name),
            item.quantity,
            item.orders
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("-1,2"), "\"'-1,2\"");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }
}
