//! Rendering the store's data as BigCommerce's v2 JSON: decimal strings with four places,
//! RFC 2822 dates, resource links pointing at the sandbox itself.
//!
//! These are borrowed views serialized straight to bytes (no `serde_json::Value` in between)
//! because a page of 250 orders with their lines is the sandbox's hottest path.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::model::{status_name, Address, LineOption, Order, OrderLine, Shipment, ShippingAddress};

/// A v2 money value: `"12.3400"`.
pub struct Money(pub Decimal);

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 48];
        s.serialize_str(four_places(self.0, &mut buf))
    }
}

/// Writes `value` with exactly four decimal places into `buf` without allocating: money
/// strings are most of a v2 order's fields, so `format!` here showed up in the benchmark.
fn four_places(value: Decimal, buf: &mut [u8; 48]) -> &str {
    let rounded =
        value.round_dp_with_strategy(4, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let scale = rounded.scale();
    let mut units: i128 = rounded.mantissa() * 10i128.pow(4 - scale.min(4));
    let negative = units < 0;
    units = units.abs();
    let mut end = buf.len();
    let mut digits = 0;
    while digits < 5 || units > 0 {
        if digits == 4 {
            end -= 1;
            buf[end] = b'.';
        }
        end -= 1;
        buf[end] = b'0' + (units % 10) as u8;
        units /= 10;
        digits += 1;
    }
    if negative {
        end -= 1;
        buf[end] = b'-';
    }
    std::str::from_utf8(&buf[end..]).expect("ASCII digits")
}

/// A v2 date: `"Tue, 05 Mar 2019 21:50:23 +0000"`; empty string for none.
pub struct Rfc2822(pub Option<DateTime<Utc>>);

impl Serialize for Rfc2822 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use chrono::{Datelike, Timelike};
        const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let Some(at) = self.0 else {
            return s.serialize_str("");
        };
        // Hand-formatted: chrono's `format` parses its pattern on every call.
        let mut buf = String::with_capacity(32);
        let _ = write!(
            buf,
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000",
            DAYS[at.weekday().num_days_from_monday() as usize],
            at.day(),
            MONTHS[at.month0() as usize],
            at.year(),
            at.hour(),
            at.minute(),
            at.second()
        );
        s.serialize_str(&buf)
    }
}

/// A plain JSON number from a decimal (consignment costs are numbers, not strings).
pub struct Number(pub Decimal);

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use rust_decimal::prelude::ToPrimitive;
        s.serialize_f64(self.0.to_f64().unwrap_or(0.0))
    }
}

/// A v2 resource link: `{"url": "...", "resource": "/orders/1/products"}`.
pub struct Resource<'a> {
    pub base: &'a str,
    pub resource: String,
}

impl Serialize for Resource<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("url", &format_args!("{}{}", self.base, self.resource))?;
        map.serialize_entry("resource", &self.resource)?;
        map.end()
    }
}

/// How `include` and `consignment_structure` shape an order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Includes {
    pub consignments: bool,
    pub line_items: bool,
    pub object_structure: bool,
}

impl Includes {
    /// Parses `include=consignments,consignments.line_items` and `consignment_structure=object`.
    pub fn parse(include: Option<&str>, structure: Option<&str>) -> Includes {
        let mut includes = Includes {
            object_structure: structure == Some("object"),
            ..Includes::default()
        };
        for part in include.unwrap_or("").split(',') {
            match part.trim() {
                "consignments" => includes.consignments = true,
                "consignments.line_items" => {
                    includes.consignments = true;
                    includes.line_items = true;
                }
                _ => {}
            }
        }
        includes
    }
}

/// BigCommerce returns at most this many line items per consignment when
/// `include=consignments.line_items`.
pub const CONSIGNMENT_LINE_ITEM_CAP: usize = 50;

/// The message of the `__warning__` a capped consignment carries.
pub const CONSIGNMENT_WARNING: &str = "Not all line items of this consignment are returned with this response, only 50 are included. Please use the `/v2/orders/{order_id}/products` endpoint to fetch all line items.";

/// An order as `GET /v2/orders` and `GET /v2/orders/{id}` render it.
pub struct OrderView<'a> {
    pub order: &'a Order,
    /// `http://host/stores/{hash}/v2`.
    pub base: &'a str,
    pub includes: Includes,
}

impl Serialize for OrderView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let o = self.order;
        let zero = Money(Decimal::ZERO);
        let mut m = s.serialize_struct("Order", 80)?;
        m.serialize_field("id", &o.id)?;
        m.serialize_field("customer_id", &o.customer_id)?;
        m.serialize_field("date_created", &Rfc2822(Some(o.date_created)))?;
        m.serialize_field("date_modified", &Rfc2822(Some(o.date_modified)))?;
        m.serialize_field("date_shipped", &Rfc2822(o.date_shipped))?;
        m.serialize_field("status_id", &o.status_id)?;
        m.serialize_field("status", status_name(o.status_id).unwrap_or(""))?;
        m.serialize_field("subtotal_ex_tax", &Money(o.subtotal_ex_tax()))?;
        m.serialize_field(
            "subtotal_inc_tax",
            &Money(o.subtotal_ex_tax() + o.subtotal_tax()),
        )?;
        m.serialize_field("subtotal_tax", &Money(o.subtotal_tax()))?;
        m.serialize_field("base_shipping_cost", &Money(o.shipping_ex_tax()))?;
        m.serialize_field("shipping_cost_ex_tax", &Money(o.shipping_ex_tax()))?;
        m.serialize_field(
            "shipping_cost_inc_tax",
            &Money(o.shipping_ex_tax() + o.shipping_tax()),
        )?;
        m.serialize_field("shipping_cost_tax", &Money(o.shipping_tax()))?;
        m.serialize_field("shipping_cost_tax_class_id", &2)?;
        m.serialize_field("base_handling_cost", &zero)?;
        m.serialize_field("handling_cost_ex_tax", &zero)?;
        m.serialize_field("handling_cost_inc_tax", &zero)?;
        m.serialize_field("handling_cost_tax", &zero)?;
        m.serialize_field("handling_cost_tax_class_id", &2)?;
        m.serialize_field("base_wrapping_cost", &zero)?;
        m.serialize_field("wrapping_cost_ex_tax", &zero)?;
        m.serialize_field("wrapping_cost_inc_tax", &zero)?;
        m.serialize_field("wrapping_cost_tax", &zero)?;
        m.serialize_field("wrapping_cost_tax_class_id", &3)?;
        m.serialize_field("total_ex_tax", &Money(o.total_ex_tax()))?;
        m.serialize_field("total_inc_tax", &Money(o.total_inc_tax()))?;
        m.serialize_field("total_tax", &Money(o.total_tax()))?;
        m.serialize_field("is_tax_inclusive_pricing", &false)?;
        m.serialize_field("items_total", &o.items_total())?;
        m.serialize_field("items_shipped", &o.items_shipped())?;
        m.serialize_field("payment_method", &o.payment_method)?;
        m.serialize_field("payment_provider_id", "")?;
        m.serialize_field("payment_status", &o.payment_status)?;
        m.serialize_field("refunded_amount", &zero)?;
        m.serialize_field("order_is_digital", &false)?;
        m.serialize_field("store_credit_amount", &zero)?;
        m.serialize_field("gift_certificate_amount", &zero)?;
        m.serialize_field("ip_address", &o.ip_address)?;
        m.serialize_field("ip_address_v6", "")?;
        m.serialize_field("geoip_country", &o.billing_address.country)?;
        m.serialize_field("geoip_country_iso2", &o.billing_address.country_iso2)?;
        m.serialize_field("currency_id", &1)?;
        m.serialize_field("currency_code", &o.currency_code)?;
        m.serialize_field("currency_exchange_rate", "1.0000000000")?;
        m.serialize_field("default_currency_id", &1)?;
        m.serialize_field("default_currency_code", &o.currency_code)?;
        m.serialize_field("staff_notes", &o.staff_notes)?;
        m.serialize_field("customer_message", &o.customer_message)?;
        m.serialize_field("discount_amount", &Money(o.discount_amount))?;
        m.serialize_field("coupon_discount", &zero)?;
        m.serialize_field("shipping_address_count", &o.shipping_addresses.len())?;
        m.serialize_field("is_deleted", &o.is_deleted)?;
        m.serialize_field("ebay_order_id", "0")?;
        m.serialize_field("cart_id", &o.cart_id)?;
        m.serialize_field("billing_address", &BillingView(&o.billing_address))?;
        m.serialize_field("is_email_opt_in", &false)?;
        m.serialize_field("credit_card_type", &Option::<&str>::None)?;
        m.serialize_field("order_source", "www")?;
        m.serialize_field("channel_id", &1)?;
        m.serialize_field("external_source", &Option::<&str>::None)?;
        m.serialize_field("consignments", &ConsignmentsView(self))?;
        m.serialize_field(
            "products",
            &Resource {
                base: self.base,
                resource: format!("/orders/{}/products", o.id),
            },
        )?;
        m.serialize_field(
            "shipping_addresses",
            &Resource {
                base: self.base,
                resource: format!("/orders/{}/shippingaddresses", o.id),
            },
        )?;
        m.serialize_field(
            "coupons",
            &Resource {
                base: self.base,
                resource: format!("/orders/{}/coupons", o.id),
            },
        )?;
        m.serialize_field("external_id", &Option::<&str>::None)?;
        m.serialize_field("external_merchant_id", &Option::<&str>::None)?;
        m.serialize_field("tax_provider_id", "BasicTaxProvider")?;
        m.serialize_field("customer_locale", "en")?;
        m.serialize_field("external_order_id", "")?;
        m.serialize_field("store_default_currency_code", &o.currency_code)?;
        m.serialize_field(
            "store_default_to_transactional_exchange_rate",
            "1.0000000000",
        )?;
        m.serialize_field("custom_status", status_name(o.status_id).unwrap_or(""))?;
        // Order-level fees (package protection and the like): the sandbox's orders have none.
        m.serialize_field("fees", &[(); 0])?;
        m.end()
    }
}

struct BillingView<'a>(&'a Address);

impl Serialize for BillingView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut m = s.serialize_struct("BillingAddress", 13)?;
        serialize_address(&mut m, a)?;
        m.serialize_field("form_fields", &[(); 0])?;
        m.end()
    }
}

fn serialize_address<M: SerializeStruct>(m: &mut M, a: &Address) -> Result<(), M::Error> {
    m.serialize_field("first_name", &a.first_name)?;
    m.serialize_field("last_name", &a.last_name)?;
    m.serialize_field("company", &a.company)?;
    m.serialize_field("street_1", &a.street_1)?;
    m.serialize_field("street_2", &a.street_2)?;
    m.serialize_field("city", &a.city)?;
    m.serialize_field("state", &a.state)?;
    m.serialize_field("zip", &a.zip)?;
    m.serialize_field("country", &a.country)?;
    m.serialize_field("country_iso2", &a.country_iso2)?;
    m.serialize_field("phone", &a.phone)?;
    m.serialize_field("email", &a.email)?;
    Ok(())
}

/// The `consignments` field: a resource link, the legacy array, or the object structure.
struct ConsignmentsView<'a, 'b>(&'b OrderView<'a>);

impl Serialize for ConsignmentsView<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let view = self.0;
        if !view.includes.consignments {
            return Resource {
                base: view.base,
                resource: format!("/orders/{}/consignments", view.order.id),
            }
            .serialize(s);
        }
        let object = ConsignmentObject {
            order: view.order,
            base: view.base,
            line_items: view.includes.line_items,
            cap: true,
        };
        if view.includes.object_structure {
            object.serialize(s)
        } else {
            [object].serialize(s)
        }
    }
}

/// `{pickups, shipping, downloads, email}` as `/orders/{id}/consignments` answers it.
pub struct ConsignmentObject<'a> {
    pub order: &'a Order,
    pub base: &'a str,
    /// Full line items (true) or resource links to each line (false).
    pub line_items: bool,
    /// Apply the 50-line cap (inside `/v2/orders` listings).
    pub cap: bool,
}

impl Serialize for ConsignmentObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let shipping: Vec<ShippingConsignmentView> = self
            .order
            .shipping_addresses
            .iter()
            .map(|address| ShippingConsignmentView {
                order: self.order,
                address,
                base: self.base,
                line_items: self.line_items,
                cap: self.cap,
            })
            .collect();
        let mut m = s.serialize_struct("Consignments", 4)?;
        m.serialize_field("pickups", &[(); 0])?;
        m.serialize_field("shipping", &shipping)?;
        m.serialize_field("downloads", &[(); 0])?;
        m.serialize_field("email", &serde_json::json!({"gift_certificates": []}))?;
        m.end()
    }
}

struct ShippingConsignmentView<'a> {
    order: &'a Order,
    address: &'a ShippingAddress,
    base: &'a str,
    line_items: bool,
    cap: bool,
}

impl Serialize for ShippingConsignmentView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.address;
        let lines: Vec<&OrderLine> = self
            .order
            .lines
            .iter()
            .filter(|l| l.order_address_id == a.id)
            .collect();
        let capped = self.line_items && self.cap && lines.len() > CONSIGNMENT_LINE_ITEM_CAP;
        let mut m = s.serialize_struct("ShippingConsignment", 30)?;
        m.serialize_field("id", &a.id)?;
        serialize_address(&mut m, &a.address)?;
        m.serialize_field("form_fields", &[(); 0])?;
        if self.line_items {
            let shown = if capped {
                &lines[..CONSIGNMENT_LINE_ITEM_CAP]
            } else {
                &lines[..]
            };
            let views: Vec<LineView> = shown
                .iter()
                .map(|line| LineView {
                    order_id: self.order.id,
                    line,
                })
                .collect();
            m.serialize_field("line_items", &views)?;
        } else {
            let links: Vec<Resource> = lines
                .iter()
                .map(|line| Resource {
                    base: self.base,
                    resource: format!("/orders/{}/products/{}", self.order.id, line.id),
                })
                .collect();
            m.serialize_field("line_items", &links)?;
        }
        m.serialize_field(
            "items_total",
            &lines.iter().map(|l| l.quantity).sum::<u32>(),
        )?;
        m.serialize_field(
            "items_shipped",
            &lines.iter().map(|l| l.quantity_shipped).sum::<u32>(),
        )?;
        m.serialize_field("shipping_method", &a.shipping_method)?;
        m.serialize_field("base_cost", &Number(a.base_cost))?;
        m.serialize_field("cost_ex_tax", &Number(a.cost_ex_tax))?;
        m.serialize_field("cost_inc_tax", &Number(a.cost_inc_tax))?;
        m.serialize_field("cost_tax", &Number(a.cost_tax))?;
        m.serialize_field("cost_tax_class_id", &2)?;
        m.serialize_field("base_handling_cost", &0)?;
        m.serialize_field("handling_cost_ex_tax", &0)?;
        m.serialize_field("handling_cost_inc_tax", &0)?;
        m.serialize_field("handling_cost_tax", &0)?;
        m.serialize_field("handling_cost_tax_class_id", &2)?;
        m.serialize_field("shipping_zone_id", &a.shipping_zone_id)?;
        m.serialize_field("shipping_zone_name", &a.shipping_zone_name)?;
        m.serialize_field(
            "shipping_quotes",
            &Resource {
                base: self.base,
                resource: format!(
                    "/orders/{}/consignments/shipping/{}/shipping_quotes",
                    self.order.id, a.id
                ),
            },
        )?;
        if capped {
            m.serialize_field(
                "__warning__",
                &serde_json::json!({ "message": CONSIGNMENT_WARNING }),
            )?;
        }
        m.end()
    }
}

/// An order line as `/orders/{id}/products` renders it.
pub struct LineView<'a> {
    pub order_id: u64,
    pub line: &'a OrderLine,
}

impl Serialize for LineView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let l = self.line;
        let zero = Money(Decimal::ZERO);
        let qty = Decimal::from(l.quantity);
        let mut m = s.serialize_struct("OrderProduct", 60)?;
        m.serialize_field("id", &l.id)?;
        m.serialize_field("order_id", &self.order_id)?;
        m.serialize_field("product_id", &l.product_id)?;
        m.serialize_field("variant_id", &l.variant_id)?;
        m.serialize_field("order_pickup_method_id", &0)?;
        m.serialize_field("order_address_id", &l.order_address_id)?;
        m.serialize_field("name", &l.name)?;
        m.serialize_field("name_customer", &l.name)?;
        m.serialize_field("name_merchant", &l.name)?;
        m.serialize_field("sku", &l.sku)?;
        m.serialize_field("upc", "")?;
        m.serialize_field("type", "physical")?;
        m.serialize_field("base_price", &Money(l.base_price))?;
        m.serialize_field("price_ex_tax", &Money(l.price_ex_tax))?;
        m.serialize_field("price_inc_tax", &Money(l.price_inc_tax))?;
        m.serialize_field("price_tax", &Money(l.price_tax))?;
        m.serialize_field("base_total", &Money(l.base_price * qty))?;
        m.serialize_field("total_ex_tax", &Money(l.price_ex_tax * qty))?;
        m.serialize_field("total_inc_tax", &Money(l.price_inc_tax * qty))?;
        m.serialize_field("total_tax", &Money(l.price_tax * qty))?;
        m.serialize_field("weight", &Money(l.weight))?;
        m.serialize_field("width", &zero)?;
        m.serialize_field("height", &zero)?;
        m.serialize_field("depth", &zero)?;
        m.serialize_field("quantity", &l.quantity)?;
        m.serialize_field("base_cost_price", &zero)?;
        m.serialize_field("cost_price_inc_tax", &zero)?;
        m.serialize_field("cost_price_ex_tax", &zero)?;
        m.serialize_field("cost_price_tax", &zero)?;
        m.serialize_field("is_refunded", &(l.quantity_refunded > 0))?;
        m.serialize_field("quantity_refunded", &l.quantity_refunded)?;
        m.serialize_field("refund_amount", &zero)?;
        m.serialize_field("return_id", &0)?;
        m.serialize_field("wrapping_id", &0)?;
        m.serialize_field("wrapping_name", &Option::<&str>::None)?;
        m.serialize_field("base_wrapping_cost", &zero)?;
        m.serialize_field("wrapping_cost_ex_tax", &zero)?;
        m.serialize_field("wrapping_cost_inc_tax", &zero)?;
        m.serialize_field("wrapping_cost_tax", &zero)?;
        m.serialize_field("wrapping_message", "")?;
        m.serialize_field("quantity_shipped", &l.quantity_shipped)?;
        m.serialize_field("event_name", &Option::<&str>::None)?;
        m.serialize_field("event_date", "")?;
        m.serialize_field("fixed_shipping_cost", &zero)?;
        m.serialize_field("ebay_item_id", "")?;
        m.serialize_field("ebay_transaction_id", "")?;
        m.serialize_field("option_set_id", &Option::<u64>::None)?;
        m.serialize_field("parent_order_product_id", &Option::<u64>::None)?;
        m.serialize_field("is_bundled_product", &false)?;
        m.serialize_field("bin_picking_number", "")?;
        m.serialize_field("external_id", &Option::<&str>::None)?;
        m.serialize_field("brand", "")?;
        m.serialize_field("applied_discounts", &[(); 0])?;
        let options: Vec<OptionView> = l
            .options
            .iter()
            .enumerate()
            .map(|(i, option)| OptionView {
                id: l.id * 100 + i as u64 + 1,
                order_product_id: l.id,
                option,
            })
            .collect();
        m.serialize_field("product_options", &options)?;
        m.serialize_field("configurable_fields", &[(); 0])?;
        m.serialize_field("gift_certificate_id", &Option::<u64>::None)?;
        m.serialize_field("discounted_total_inc_tax", &Money(l.price_inc_tax * qty))?;
        m.end()
    }
}

/// One chosen option of an order line (`product_options`), as `orders.v2.oas2.yml`'s examples
/// show it: for a multiple-choice, swatch, checkbox or pick-list option `value` is the chosen
/// option value's id as a string (`"69"`) and `display_value` its label (`"S"`); a text field
/// has its text in both. The `_customer` and `_merchant` variants repeat the display name and
/// value (the sandbox has no separate merchant wording); `name`, the option's internal name, is
/// its display name.
struct OptionView<'a> {
    id: u64,
    order_product_id: u64,
    option: &'a LineOption,
}

impl Serialize for OptionView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let o = self.option;
        let value = match o.value_id {
            Some(id) => id.to_string(),
            None => o.display_value.clone(),
        };
        let mut m = s.serialize_struct("ProductOption", 16)?;
        m.serialize_field("id", &self.id)?;
        m.serialize_field("option_id", &o.option_id)?;
        m.serialize_field("order_product_id", &self.order_product_id)?;
        m.serialize_field("product_option_id", &o.option_id)?;
        m.serialize_field("display_name", &o.display_name)?;
        m.serialize_field("display_name_customer", &o.display_name)?;
        m.serialize_field("display_name_merchant", &o.display_name)?;
        m.serialize_field("display_value", &o.display_value)?;
        m.serialize_field("display_value_customer", &o.display_value)?;
        m.serialize_field("display_value_merchant", &o.display_value)?;
        m.serialize_field("value", &value)?;
        m.serialize_field("type", o.kind.type_name())?;
        m.serialize_field("name", &o.display_name)?;
        m.serialize_field("display_style", o.kind.display_style())?;
        m.end()
    }
}

/// A shipping address as `/orders/{id}/shipping_addresses` renders it.
pub struct ShippingAddressView<'a> {
    pub order: &'a Order,
    pub address: &'a ShippingAddress,
    pub base: &'a str,
}

impl Serialize for ShippingAddressView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.address;
        let lines = self
            .order
            .lines
            .iter()
            .filter(|l| l.order_address_id == a.id);
        let (total, shipped) = lines.fold((0u32, 0u32), |(t, s), l| {
            (t + l.quantity, s + l.quantity_shipped)
        });
        let zero = Money(Decimal::ZERO);
        let mut m = s.serialize_struct("ShippingAddress", 30)?;
        m.serialize_field("id", &a.id)?;
        m.serialize_field("order_id", &self.order.id)?;
        serialize_address(&mut m, &a.address)?;
        m.serialize_field("items_total", &total)?;
        m.serialize_field("items_shipped", &shipped)?;
        m.serialize_field("shipping_method", &a.shipping_method)?;
        m.serialize_field("base_cost", &Money(a.base_cost))?;
        m.serialize_field("cost_ex_tax", &Money(a.cost_ex_tax))?;
        m.serialize_field("cost_inc_tax", &Money(a.cost_inc_tax))?;
        m.serialize_field("cost_tax", &Money(a.cost_tax))?;
        m.serialize_field("cost_tax_class_id", &2)?;
        m.serialize_field("base_handling_cost", &zero)?;
        m.serialize_field("handling_cost_ex_tax", &zero)?;
        m.serialize_field("handling_cost_inc_tax", &zero)?;
        m.serialize_field("handling_cost_tax", &zero)?;
        m.serialize_field("handling_cost_tax_class_id", &2)?;
        m.serialize_field("shipping_zone_id", &a.shipping_zone_id)?;
        m.serialize_field("shipping_zone_name", &a.shipping_zone_name)?;
        m.serialize_field("form_fields", &[(); 0])?;
        m.serialize_field(
            "shipping_quotes",
            &Resource {
                base: self.base,
                resource: format!(
                    "/orders/{}/shipping_addresses/{}/shipping_quotes",
                    self.order.id, a.id
                ),
            },
        )?;
        m.end()
    }
}

/// A shipment as `/orders/{id}/shipments` renders it.
pub struct ShipmentView<'a> {
    pub order: &'a Order,
    pub shipment: &'a Shipment,
}

/// Display names and tracking links of the `shipping_provider` values BigCommerce accepts.
pub fn provider_display_name(provider: &str) -> &str {
    match provider {
        "auspost" => "Australia Post",
        "canadapost" => "Canada Post",
        "endicia" => "Endicia",
        "usps" => "USPS",
        "fedex" => "FedEx",
        "royalmail" => "Royal Mail",
        "ups" | "upsready" | "upsonline" => "UPS",
        "shipperhq" => "ShipperHQ",
        "" => "",
        other => other,
    }
}

impl Serialize for ShipmentView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let sh = self.shipment;
        let ship_to = self
            .order
            .shipping_addresses
            .iter()
            .find(|a| a.id == sh.order_address_id);
        let mut m = s.serialize_struct("Shipment", 20)?;
        m.serialize_field("id", &sh.id)?;
        m.serialize_field("order_id", &self.order.id)?;
        m.serialize_field("customer_id", &self.order.customer_id)?;
        m.serialize_field("order_address_id", &sh.order_address_id)?;
        m.serialize_field("date_created", &Rfc2822(Some(sh.date_created)))?;
        m.serialize_field("tracking_number", &sh.tracking_number)?;
        m.serialize_field("merchant_shipping_cost", &Money(sh.merchant_shipping_cost))?;
        m.serialize_field("shipping_method", &sh.shipping_method)?;
        m.serialize_field("shipping_provider", &sh.shipping_provider)?;
        m.serialize_field("tracking_carrier", &sh.tracking_carrier)?;
        m.serialize_field("tracking_link", &sh.tracking_link)?;
        m.serialize_field("comments", &sh.comments)?;
        m.serialize_field(
            "billing_address",
            &PlainAddress(&self.order.billing_address),
        )?;
        m.serialize_field(
            "shipping_address",
            &PlainAddress(
                ship_to
                    .map(|a| &a.address)
                    .unwrap_or(&self.order.billing_address),
            ),
        )?;
        m.serialize_field("items", &sh.items)?;
        m.serialize_field(
            "shipping_provider_display_name",
            provider_display_name(&sh.shipping_provider),
        )?;
        let generated = if sh.tracking_link.is_empty() && !sh.tracking_number.is_empty() {
            match sh.shipping_provider.as_str() {
                "usps" => format!(
                    "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
                    sh.tracking_number
                ),
                "ups" | "upsready" | "upsonline" => {
                    format!("https://www.ups.com/track?tracknum={}", sh.tracking_number)
                }
                "fedex" => format!(
                    "https://www.fedex.com/fedextrack/?trknbr={}",
                    sh.tracking_number
                ),
                "canadapost" => format!(
                    "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={}",
                    sh.tracking_number
                ),
                _ => String::new(),
            }
        } else {
            String::new()
        };
        m.serialize_field("generated_tracking_link", &generated)?;
        m.end()
    }
}

struct PlainAddress<'a>(&'a Address);

impl Serialize for PlainAddress<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("Address", 12)?;
        serialize_address(&mut m, self.0)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(value: &str) -> String {
        serde_json::to_string(&Money(value.parse().unwrap())).unwrap()
    }

    #[test]
    fn money_has_exactly_four_places() {
        assert_eq!(money("12.34"), "\"12.3400\"");
        assert_eq!(money("0"), "\"0.0000\"");
        assert_eq!(money("-1.5"), "\"-1.5000\"");
        assert_eq!(money("0.00005"), "\"0.0001\"");
        assert_eq!(money("123456789.123456"), "\"123456789.1235\"");
    }

    #[test]
    fn dates_are_rfc_2822_in_utc() {
        let at = DateTime::parse_from_rfc3339("2019-03-05T21:50:23Z")
            .unwrap()
            .with_timezone(&Utc);
        let text = serde_json::to_string(&Rfc2822(Some(at))).unwrap();
        assert_eq!(text, "\"Tue, 05 Mar 2019 21:50:23 +0000\"");
    }
}
