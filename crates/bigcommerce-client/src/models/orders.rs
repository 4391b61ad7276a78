//! v2 orders: orders, order products (line items), shipping addresses, consignments, statuses
//! and counts (BigCommerce's v2 Orders reference, `orders.v2.oas2.yml`).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

use super::{Address, Resource};
use crate::dates::de_opt_datetime;
use crate::money::{
    de_opt_bool, de_opt_decimal, de_opt_string, de_opt_u64, de_u64, de_u64_or_zero,
};

/// The key BigCommerce puts inside a consignment whose `line_items` were cut at 50.
pub const CONSIGNMENT_WARNING_KEY: &str = "__warning__";

/// Most line items BigCommerce embeds in one consignment with `include=consignments.line_items`.
pub const CONSIGNMENT_LINE_ITEM_CAP: usize = 50;

/// An order (`order_Resp`), with the fields a fulfilment hub uses typed and the whole JSON
/// object kept as text in [`Order::raw`] so it can be stored as received
/// ([`Order::raw_json`]).
///
/// Serializing an `Order` writes `raw` back unchanged.
///
/// # Parsing
/// An order is read once into [`RawValue`] (which only validates and slices the text), then
/// the typed fields are read from that text; no `serde_json::Value` tree is built and unknown
/// fields are skipped. Only if that typed pass fails (a `consignments` shape the client does
/// not know, a duplicated key) is the order read again through a `Value`, which keeps every
/// lenient rule: an unknown consignment shape becomes [`Consignments::Unrecognized`] instead of
/// an error. Because it holds a [`RawValue`], an `Order` can only be deserialized by
/// `serde_json` (from text, bytes, a reader or a `Value`).
#[derive(Debug, Clone, Deserialize)]
#[serde(remote = "Self")]
pub struct Order {
    /// Order id.
    #[serde(deserialize_with = "de_u64")]
    pub id: u64,
    /// Customer id (`0` for guests).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub customer_id: Option<u64>,
    /// Creation time.
    #[serde(default, deserialize_with = "de_opt_datetime")]
    pub date_created: Option<DateTime<Utc>>,
    /// Last modification time (one-second resolution).
    #[serde(default, deserialize_with = "de_opt_datetime")]
    pub date_modified: Option<DateTime<Utc>>,
    /// Shipping time; `None` while unshipped (BigCommerce sends `""`).
    #[serde(default, deserialize_with = "de_opt_datetime")]
    pub date_shipped: Option<DateTime<Utc>>,
    /// Status id (see [`OrderStatus`]).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub status_id: Option<u64>,
    /// Status name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub status: Option<String>,
    /// The merchant's label for the status.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub custom_status: Option<String>,
    /// Subtotal excluding tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub subtotal_ex_tax: Option<Decimal>,
    /// Subtotal including tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub subtotal_inc_tax: Option<Decimal>,
    /// Shipping cost excluding tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub shipping_cost_ex_tax: Option<Decimal>,
    /// Shipping cost including tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub shipping_cost_inc_tax: Option<Decimal>,
    /// Handling cost including tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub handling_cost_inc_tax: Option<Decimal>,
    /// Total excluding tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub total_ex_tax: Option<Decimal>,
    /// Total including tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub total_inc_tax: Option<Decimal>,
    /// Total tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub total_tax: Option<Decimal>,
    /// Discount amount.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub discount_amount: Option<Decimal>,
    /// Coupon discount.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub coupon_discount: Option<Decimal>,
    /// Amount refunded so far.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub refunded_amount: Option<Decimal>,
    /// Number of items (sum of quantities).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub items_total: Option<u64>,
    /// Number of items shipped.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub items_shipped: Option<u64>,
    /// Payment method display name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub payment_method: Option<String>,
    /// Payment status (`authorized`, `captured`, `paid`, `""`...).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub payment_status: Option<String>,
    /// Transaction currency (the one the shopper pays in).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub default_currency_code: Option<String>,
    /// Display currency.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub currency_code: Option<String>,
    /// The store's default currency.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub store_default_currency_code: Option<String>,
    /// Display-currency exchange rate.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub currency_exchange_rate: Option<Decimal>,
    /// Billing address (its `email` is the customer's email).
    #[serde(default)]
    pub billing_address: Option<Address>,
    /// Whether the order is archived (deleted).
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub is_deleted: Option<bool>,
    /// Whether the order has only digital items.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub order_is_digital: Option<bool>,
    /// Number of shipping addresses.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub shipping_address_count: Option<u64>,
    /// Sales channel.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub channel_id: Option<u64>,
    /// Order source (`www`, `manual`, `external`...).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub order_source: Option<String>,
    /// Shopper's comment.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub customer_message: Option<String>,
    /// Merchant's notes.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub staff_notes: Option<String>,
    /// Order id in an external system.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub external_order_id: Option<String>,
    /// Link to the order's products.
    #[serde(default, deserialize_with = "de_opt_resource")]
    pub products: Option<Resource>,
    /// Link to the order's shipping addresses.
    #[serde(default, deserialize_with = "de_opt_resource")]
    pub shipping_addresses: Option<Resource>,
    /// Link to the order's coupons.
    #[serde(default, deserialize_with = "de_opt_resource")]
    pub coupons: Option<Resource>,
    /// Consignments: a link, or the embedded object with `include=consignments[.line_items]`.
    #[serde(default, deserialize_with = "de_opt_typed_consignments")]
    pub consignments: Option<Consignments>,
    /// The whole order object, as the JSON text received (`null` for an order built by hand).
    #[serde(skip)]
    pub raw: Box<RawValue>,
}

impl<'de> Deserialize<'de> for Order {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Order::from_raw(raw).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Order {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

impl PartialEq for Order {
    fn eq(&self, other: &Self) -> bool {
        // Destructured so that a new field cannot be forgotten here. `raw` compares as text:
        // two orders are equal when they were received byte for byte the same.
        let Order {
            id,
            customer_id,
            date_created,
            date_modified,
            date_shipped,
            status_id,
            status,
            custom_status,
            subtotal_ex_tax,
            subtotal_inc_tax,
            shipping_cost_ex_tax,
            shipping_cost_inc_tax,
            handling_cost_inc_tax,
            total_ex_tax,
            total_inc_tax,
            total_tax,
            discount_amount,
            coupon_discount,
            refunded_amount,
            items_total,
            items_shipped,
            payment_method,
            payment_status,
            default_currency_code,
            currency_code,
            store_default_currency_code,
            currency_exchange_rate,
            billing_address,
            is_deleted,
            order_is_digital,
            shipping_address_count,
            channel_id,
            order_source,
            customer_message,
            staff_notes,
            external_order_id,
            products,
            shipping_addresses,
            coupons,
            consignments,
            raw,
        } = self;
        *id == other.id
            && *customer_id == other.customer_id
            && *date_created == other.date_created
            && *date_modified == other.date_modified
            && *date_shipped == other.date_shipped
            && *status_id == other.status_id
            && *status == other.status
            && *custom_status == other.custom_status
            && *subtotal_ex_tax == other.subtotal_ex_tax
            && *subtotal_inc_tax == other.subtotal_inc_tax
            && *shipping_cost_ex_tax == other.shipping_cost_ex_tax
            && *shipping_cost_inc_tax == other.shipping_cost_inc_tax
            && *handling_cost_inc_tax == other.handling_cost_inc_tax
            && *total_ex_tax == other.total_ex_tax
            && *total_inc_tax == other.total_inc_tax
            && *total_tax == other.total_tax
            && *discount_amount == other.discount_amount
            && *coupon_discount == other.coupon_discount
            && *refunded_amount == other.refunded_amount
            && *items_total == other.items_total
            && *items_shipped == other.items_shipped
            && *payment_method == other.payment_method
            && *payment_status == other.payment_status
            && *default_currency_code == other.default_currency_code
            && *currency_code == other.currency_code
            && *store_default_currency_code == other.store_default_currency_code
            && *currency_exchange_rate == other.currency_exchange_rate
            && *billing_address == other.billing_address
            && *is_deleted == other.is_deleted
            && *order_is_digital == other.order_is_digital
            && *shipping_address_count == other.shipping_address_count
            && *channel_id == other.channel_id
            && *order_source == other.order_source
            && *customer_message == other.customer_message
            && *staff_notes == other.staff_notes
            && *external_order_id == other.external_order_id
            && *products == other.products
            && *shipping_addresses == other.shipping_addresses
            && *coupons == other.coupons
            && *consignments == other.consignments
            && raw.get() == other.raw.get()
    }
}

impl Order {
    /// Reads the typed fields from the order's text and keeps the text.
    fn from_raw(raw: Box<RawValue>) -> Result<Self, serde_json::Error> {
        let typed = {
            let mut deserializer = serde_json::Deserializer::from_str(raw.get());
            Order::deserialize(&mut deserializer)
        };
        let mut order = match typed {
            Ok(order) => order,
            Err(_) => Order::from_value_leniently(serde_json::from_str(raw.get())?)?,
        };
        order.raw = raw;
        Ok(order)
    }

    /// The slow path for the rare order the typed pass rejects: read through a `Value` (so
    /// duplicated keys resolve to the last one) and classify `consignments` from its `Value`
    /// with [`Consignments::from_value`], which never fails.
    fn from_value_leniently(mut value: Value) -> Result<Self, serde_json::Error> {
        let consignments = value
            .as_object_mut()
            .and_then(|object| object.remove("consignments"))
            .filter(|consignments| !consignments.is_null());
        let mut order = Order::deserialize(&value)?;
        order.consignments = consignments.map(Consignments::from_value);
        Ok(order)
    }

    /// The whole order object as received, for storage. Parsing it again gives the same
    /// `Order`.
    pub fn raw_json(&self) -> &str {
        self.raw.get()
    }

    /// The customer's email (from the billing address).
    pub fn customer_email(&self) -> Option<&str> {
        self.billing_address.as_ref()?.email.as_deref()
    }

    /// Whether BigCommerce cut the embedded line items (a consignment carries `__warning__`),
    /// so the complete list must be read from `GET /v2/orders/{id}/products`.
    pub fn line_items_truncated(&self) -> bool {
        raw_consignments_contain_warning(self.raw.get())
            || self
                .consignments
                .as_ref()
                .is_some_and(Consignments::has_warning)
    }

    /// The line items embedded in the order's consignments, when they are complete: `Some`
    /// only if consignments were included as objects with full line items, no consignment
    /// was truncated and none of the consignment kinds the client does not type (digital
    /// downloads, gift certificates) is present. `None` means "fetch the products".
    pub fn embedded_line_items(&self) -> Option<Vec<OrderProduct>> {
        if self.line_items_truncated() {
            return None;
        }
        let consignments = match self.consignments.as_ref()? {
            Consignments::Object(object) => std::slice::from_ref(object.as_ref()),
            Consignments::List(list) => list.as_slice(),
            Consignments::Link(_) | Consignments::Unrecognized(_) => return None,
        };
        let mut lines = Vec::new();
        for consignment in consignments {
            if consignment.has_untyped_consignments() {
                return None;
            }
            let items = consignment
                .shipping
                .iter()
                .flat_map(|c| c.line_items.iter())
                .chain(consignment.pickups.iter().flat_map(|c| c.line_items.iter()));
            for item in items {
                match item {
                    ConsignmentLineItem::Product(product) => lines.push(product.as_ref().clone()),
                    ConsignmentLineItem::Link(_) | ConsignmentLineItem::Other(_) => return None,
                }
            }
        }
        if lines.is_empty() && self.items_total.unwrap_or(0) > 0 {
            return None;
        }
        Some(lines)
    }
}

/// Whether the `consignments` of an order's JSON text contain a `__warning__` key at any depth.
///
/// The text is searched first: a key that decodes to `__warning__` is either spelled out or
/// written with `\u` escapes, so an order with neither (almost every order) costs one scan of
/// its text. Otherwise the text is walked, without building a `Value`, to tell a key from a
/// string that merely contains the word.
fn raw_consignments_contain_warning(order_json: &str) -> bool {
    if !order_json.contains(CONSIGNMENT_WARNING_KEY) && !order_json.contains("\\u") {
        return false;
    }
    serde_json::from_str::<ConsignmentsWarningProbe>(order_json).is_ok_and(|probe| probe.0)
}

/// Reads an order object and reports whether its `consignments` hold a `__warning__` key;
/// every other field is skipped. A repeated `consignments` key counts as its last occurrence,
/// as in a `Value`.
struct ConsignmentsWarningProbe(bool);

impl<'de> Deserialize<'de> for ConsignmentsWarningProbe {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderVisitor;

        impl<'de> Visitor<'de> for OrderVisitor {
            type Value = ConsignmentsWarningProbe;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("an order")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut found = false;
                while let Some(key) = map.next_key::<KeyIs<CONSIGNMENTS>>()? {
                    if key.0 {
                        found = map.next_value::<WarningSeeker>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(ConsignmentsWarningProbe(found))
            }

            // An order that is not an object has no consignments.
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ConsignmentsWarningProbe(false))
            }
        }

        deserializer.deserialize_any(OrderVisitor)
    }
}

const CONSIGNMENTS: u8 = 0;
const WARNING: u8 = 1;

/// A map key compared, once decoded, with `consignments` or `__warning__`.
struct KeyIs<const KEY: u8>(bool);

impl<'de, const KEY: u8> Deserialize<'de> for KeyIs<KEY> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor<const KEY: u8>;

        impl<const KEY: u8> Visitor<'_> for KeyVisitor<KEY> {
            type Value = KeyIs<KEY>;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a key")
            }

            fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
                let wanted = if KEY == CONSIGNMENTS {
                    "consignments"
                } else {
                    CONSIGNMENT_WARNING_KEY
                };
                Ok(KeyIs(key == wanted))
            }
        }

        deserializer.deserialize_str(KeyVisitor::<KEY>)
    }
}

/// Walks any JSON value without building it: `true` if some object in it has a `__warning__`
/// key (the same answer as [`contains_warning`] on its `Value`).
struct WarningSeeker(bool);

impl<'de> Deserialize<'de> for WarningSeeker {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SeekerVisitor;

        impl<'de> Visitor<'de> for SeekerVisitor {
            type Value = WarningSeeker;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("any JSON value")
            }

            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(WarningSeeker(false))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(WarningSeeker(false))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(WarningSeeker(false))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(WarningSeeker(false))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(WarningSeeker(false))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(WarningSeeker(false))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut found = false;
                while let Some(item) = seq.next_element::<WarningSeeker>()? {
                    found |= item.0;
                }
                Ok(WarningSeeker(found))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut found = false;
                while let Some(key) = map.next_key::<KeyIs<WARNING>>()? {
                    found |= key.0;
                    found |= map.next_value::<WarningSeeker>()?.0;
                }
                Ok(WarningSeeker(found))
            }
        }

        deserializer.deserialize_any(SeekerVisitor)
    }
}

fn contains_warning(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            map.contains_key(CONSIGNMENT_WARNING_KEY) || map.values().any(contains_warning)
        }
        Value::Array(items) => items.iter().any(contains_warning),
        _ => false,
    }
}

/// A sub-resource link, or `None` for anything that is not an object with string `url` and
/// `resource` (never an error).
fn de_opt_resource<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Resource>, D::Error> {
    struct LinkVisitor;

    impl<'de> Visitor<'de> for LinkVisitor {
        type Value = Option<Resource>;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("a resource link")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let (mut url, mut resource) = (None, None);
            while let Some(key) = map.next_key::<LinkKey>()? {
                match key {
                    LinkKey::Url => url = map.next_value::<OnlyString>()?.0,
                    LinkKey::Resource => resource = map.next_value::<OnlyString>()?.0,
                    LinkKey::Other => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(url
                .zip(resource)
                .map(|(url, resource)| Resource { url, resource }))
        }

        // Like `Resource`'s derived impl, a two-element array reads as `[url, resource]`.
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let url = seq.next_element::<OnlyString>()?.and_then(|url| url.0);
            let resource = seq.next_element::<OnlyString>()?.and_then(|url| url.0);
            let extra = seq.next_element::<IgnoredAny>()?.is_some();
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(url
                .zip(resource)
                .filter(|_| !extra)
                .map(|(url, resource)| Resource { url, resource }))
        }

        fn visit_some<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_any(self)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    deserializer.deserialize_any(LinkVisitor)
}

/// A key of a resource link.
enum LinkKey {
    Url,
    Resource,
    Other,
}

impl<'de> Deserialize<'de> for LinkKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl Visitor<'_> for KeyVisitor {
            type Value = LinkKey;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a key")
            }

            fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
                Ok(match key {
                    "url" => LinkKey::Url,
                    "resource" => LinkKey::Resource,
                    _ => LinkKey::Other,
                })
            }
        }

        deserializer.deserialize_str(KeyVisitor)
    }
}

/// A JSON string, or `None` for any other value (which is skipped, never an error).
struct OnlyString(Option<String>);

impl<'de> Deserialize<'de> for OnlyString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StringVisitor;

        impl<'de> Visitor<'de> for StringVisitor {
            type Value = OnlyString;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("any JSON value")
            }

            fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
                Ok(OnlyString(Some(text.to_owned())))
            }
            fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
                Ok(OnlyString(Some(text)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(OnlyString(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(OnlyString(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(OnlyString(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(OnlyString(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(OnlyString(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(OnlyString(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(OnlyString(None))
            }
        }

        deserializer.deserialize_any(StringVisitor)
    }
}

/// `consignments` read straight into typed structs by [`TypedConsignments`].
fn de_opt_typed_consignments<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Consignments>, D::Error> {
    Ok(Option::<TypedConsignments>::deserialize(deserializer)?.map(|typed| typed.0))
}

/// An order's `consignments` read in one pass, without a `Value`: a `{url, resource}` link,
/// the object structure or the legacy array. Strict: a shape that does not fit is an error,
/// and [`Order`] then falls back to [`Consignments::from_value`], which classifies it exactly
/// as before (so whenever this succeeds, it gives what `from_value` would).
struct TypedConsignments(Consignments);

impl<'de> Deserialize<'de> for TypedConsignments {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ConsignmentsVisitor;

        impl<'de> Visitor<'de> for ConsignmentsVisitor {
            type Value = TypedConsignments;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("consignments as a link, an object or an array")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let object = ConsignmentsObject::deserialize(MapAccessDeserializer::new(map))?;
                Ok(TypedConsignments(match (object.url, object.resource) {
                    (Some(url), Some(resource)) => Consignments::Link(Resource { url, resource }),
                    _ => Consignments::Object(Box::new(OrderConsignments {
                        shipping: object.shipping,
                        pickups: object.pickups,
                        downloads: object.downloads,
                        email: object.email,
                        warning: object.warning,
                    })),
                }))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                let list = Vec::<OrderConsignments>::deserialize(SeqAccessDeserializer::new(seq))?;
                Ok(TypedConsignments(Consignments::List(list)))
            }
        }

        deserializer.deserialize_any(ConsignmentsVisitor)
    }
}

/// The object form of `consignments`: [`OrderConsignments`] plus the two fields of a link.
#[derive(Deserialize)]
struct ConsignmentsObject {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    shipping: Vec<ShippingConsignment>,
    #[serde(default)]
    pickups: Vec<PickupConsignment>,
    #[serde(default)]
    downloads: Vec<Value>,
    #[serde(default)]
    email: Option<Value>,
    #[serde(default, rename = "__warning__")]
    warning: Option<ConsignmentWarning>,
}

/// An order's `consignments` field in its possible shapes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Consignments {
    /// Not included: a link to `/orders/{id}/consignments`.
    Link(Resource),
    /// `consignment_structure=object` (what the client asks for).
    Object(Box<OrderConsignments>),
    /// The legacy array structure.
    List(Vec<OrderConsignments>),
    /// A shape the client does not know; kept as received (also in [`Order::raw`]).
    Unrecognized(Value),
}

impl Consignments {
    /// Classifies a JSON value; never fails, an unknown shape becomes `Unrecognized`.
    pub fn from_value(value: Value) -> Self {
        if value.get("url").is_some() && value.get("resource").is_some() {
            if let Ok(link) = Resource::deserialize(&value) {
                return Consignments::Link(link);
            }
        }
        match &value {
            Value::Object(_) => match OrderConsignments::deserialize(&value) {
                Ok(object) => Consignments::Object(Box::new(object)),
                Err(_) => Consignments::Unrecognized(value),
            },
            Value::Array(_) => match Vec::<OrderConsignments>::deserialize(&value) {
                Ok(list) => Consignments::List(list),
                Err(_) => Consignments::Unrecognized(value),
            },
            _ => Consignments::Unrecognized(value),
        }
    }

    /// Whether any consignment carries BigCommerce's truncation `__warning__`.
    pub fn has_warning(&self) -> bool {
        match self {
            Consignments::Link(_) => false,
            Consignments::Object(object) => object.has_warning(),
            Consignments::List(list) => list.iter().any(OrderConsignments::has_warning),
            Consignments::Unrecognized(value) => contains_warning(value),
        }
    }
}

/// `orderConsignment_Get`: an order's consignments by kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderConsignments {
    /// Shipping consignments (one per shipping address).
    #[serde(default)]
    pub shipping: Vec<ShippingConsignment>,
    /// Pickup consignments.
    #[serde(default)]
    pub pickups: Vec<PickupConsignment>,
    /// Digital download consignments, as received.
    #[serde(default)]
    pub downloads: Vec<Value>,
    /// Email (gift certificate) consignments, as received.
    #[serde(default)]
    pub email: Option<Value>,
    /// A truncation warning at this level, if BigCommerce ever puts one here.
    #[serde(
        default,
        rename = "__warning__",
        skip_serializing_if = "Option::is_none"
    )]
    pub warning: Option<ConsignmentWarning>,
}

impl OrderConsignments {
    /// Whether this or any contained consignment carries a `__warning__`.
    pub fn has_warning(&self) -> bool {
        self.warning.is_some()
            || self.shipping.iter().any(|c| c.warning.is_some())
            || self.pickups.iter().any(|c| c.warning.is_some())
    }

    fn has_untyped_consignments(&self) -> bool {
        let gift_certificates = self
            .email
            .as_ref()
            .and_then(|email| email.get("gift_certificates"))
            .and_then(Value::as_array)
            .is_some_and(|list| !list.is_empty());
        !self.downloads.is_empty() || gift_certificates
    }
}

/// `__warning__`: `{"message": "Not all line items of this consignment are returned ..."}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsignmentWarning {
    /// BigCommerce's message.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub message: Option<String>,
}

/// `shippingConsignment_Get`: one shipping destination with its line items.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShippingConsignment {
    /// Consignment id (equals the order shipping address id).
    #[serde(deserialize_with = "de_u64")]
    pub id: u64,
    /// Destination.
    #[serde(flatten)]
    pub address: Address,
    /// Shipping method chosen at checkout.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub shipping_method: Option<String>,
    /// Items to ship to this address.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub items_total: Option<u64>,
    /// Items already shipped to this address.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub items_shipped: Option<u64>,
    /// Shipping cost including tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub cost_inc_tax: Option<Decimal>,
    /// Shipping cost excluding tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub cost_ex_tax: Option<Decimal>,
    /// Shipping zone name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub shipping_zone_name: Option<String>,
    /// Line items: full products with `include=consignments.line_items`, links otherwise.
    /// At most [`CONSIGNMENT_LINE_ITEM_CAP`] when `warning` is set.
    #[serde(default, deserialize_with = "de_line_items")]
    pub line_items: Vec<ConsignmentLineItem>,
    /// Set when BigCommerce cut `line_items`.
    #[serde(
        default,
        rename = "__warning__",
        skip_serializing_if = "Option::is_none"
    )]
    pub warning: Option<ConsignmentWarning>,
}

/// What [`ShippingConsignment`] is read from: its fields with the address's inline. Serde's
/// `flatten` would buffer the whole consignment, line items included, before reading it.
#[derive(Deserialize)]
struct ShippingConsignmentFields {
    #[serde(deserialize_with = "de_u64")]
    id: u64,
    #[serde(default, deserialize_with = "de_opt_string")]
    first_name: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    last_name: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    company: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    street_1: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    street_2: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    city: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    state: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    zip: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    country: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    country_iso2: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    phone: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    email: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    shipping_method: Option<String>,
    #[serde(default, deserialize_with = "de_opt_u64")]
    items_total: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_u64")]
    items_shipped: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_decimal")]
    cost_inc_tax: Option<Decimal>,
    #[serde(default, deserialize_with = "de_opt_decimal")]
    cost_ex_tax: Option<Decimal>,
    #[serde(default, deserialize_with = "de_opt_string")]
    shipping_zone_name: Option<String>,
    #[serde(default, deserialize_with = "de_line_items")]
    line_items: Vec<ConsignmentLineItem>,
    #[serde(default, rename = "__warning__")]
    warning: Option<ConsignmentWarning>,
}

impl<'de> Deserialize<'de> for ShippingConsignment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_object::<_, ShippingConsignmentFields>(deserializer, "ShippingConsignment")
            .map(Into::into)
    }
}

impl From<ShippingConsignmentFields> for ShippingConsignment {
    fn from(fields: ShippingConsignmentFields) -> Self {
        ShippingConsignment {
            id: fields.id,
            address: Address {
                first_name: fields.first_name,
                last_name: fields.last_name,
                company: fields.company,
                street_1: fields.street_1,
                street_2: fields.street_2,
                city: fields.city,
                state: fields.state,
                zip: fields.zip,
                country: fields.country,
                country_iso2: fields.country_iso2,
                phone: fields.phone,
                email: fields.email,
            },
            shipping_method: fields.shipping_method,
            items_total: fields.items_total,
            items_shipped: fields.items_shipped,
            cost_inc_tax: fields.cost_inc_tax,
            cost_ex_tax: fields.cost_ex_tax,
            shipping_zone_name: fields.shipping_zone_name,
            line_items: fields.line_items,
            warning: fields.warning,
        }
    }
}

/// Reads `T` from a JSON object only, as the former `#[serde(flatten)]` structs did: a derived
/// impl alone would also take an array, field by field.
fn from_object<'de, D, T>(deserializer: D, name: &'static str) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct ObjectVisitor<T>(&'static str, std::marker::PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
        type Value = T;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            write!(formatter, "struct {}", self.0)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(MapAccessDeserializer::new(map))
        }
    }

    deserializer.deserialize_map(ObjectVisitor(name, std::marker::PhantomData))
}

/// `pickupConsignment_Get`: items collected at a pickup location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PickupConsignment {
    /// Consignment id.
    #[serde(deserialize_with = "de_u64")]
    pub id: u64,
    /// Pickup method id.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub pickup_method_id: Option<u64>,
    /// Pickup location, as received.
    #[serde(default)]
    pub location: Option<Value>,
    /// Line items (see [`ShippingConsignment::line_items`]).
    #[serde(default, deserialize_with = "de_line_items")]
    pub line_items: Vec<ConsignmentLineItem>,
    /// Set when BigCommerce cut `line_items`.
    #[serde(
        default,
        rename = "__warning__",
        skip_serializing_if = "Option::is_none"
    )]
    pub warning: Option<ConsignmentWarning>,
}

/// One entry of a consignment's `line_items`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ConsignmentLineItem {
    /// A full order product (`include=consignments.line_items`).
    Product(Box<OrderProduct>),
    /// A link to `/orders/{id}/products/{product_id}`.
    Link(Resource),
    /// Anything else, as received.
    Other(Value),
}

/// Never fails on valid JSON. The item is sliced as text ([`RawValue`]) and read as an
/// [`OrderProduct`]; only an item that is not one (a link, something unknown) is read again
/// through a `Value` to be classified. Only `serde_json` can deserialize it.
impl<'de> Deserialize<'de> for ConsignmentLineItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Ok(ConsignmentLineItem::from_raw(&raw))
    }
}

impl ConsignmentLineItem {
    fn from_raw(raw: &RawValue) -> Self {
        // Only an object is a product: the derived impl would also read an array positionally.
        if raw.get().trim_start().starts_with('{') {
            if let Ok(product) = serde_json::from_str::<OrderProduct>(raw.get()) {
                return ConsignmentLineItem::Product(Box::new(product));
            }
        }
        ConsignmentLineItem::from_value(serde_json::from_str(raw.get()).unwrap_or(Value::Null))
    }

    fn from_value(value: Value) -> Self {
        if value.get("id").is_some() {
            if let Ok(product) = OrderProduct::deserialize(&value) {
                return ConsignmentLineItem::Product(Box::new(product));
            }
        }
        if let Ok(link) = Resource::deserialize(&value) {
            return ConsignmentLineItem::Link(link);
        }
        ConsignmentLineItem::Other(value)
    }
}

/// `line_items`: an array of items, a single item object, or anything else for none. Never
/// fails on valid JSON.
fn de_line_items<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ConsignmentLineItem>, D::Error> {
    struct LineItemsVisitor;

    impl<'de> Visitor<'de> for LineItemsVisitor {
        type Value = Vec<ConsignmentLineItem>;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("line items")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(item) = seq.next_element::<ConsignmentLineItem>()? {
                items.push(item);
            }
            Ok(items)
        }

        // Rare enough to go through a `Value`.
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            let item = Value::deserialize(MapAccessDeserializer::new(map))?;
            Ok(vec![ConsignmentLineItem::from_value(item)])
        }

        fn visit_some<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_any(self)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }

    deserializer.deserialize_any(LineItemsVisitor)
}

/// `orderProducts`: one line item of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderProduct {
    /// Order product id (what shipments reference as `order_product_id`).
    #[serde(deserialize_with = "de_u64")]
    pub id: u64,
    /// Order id.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub order_id: Option<u64>,
    /// Catalog product id (`0` for custom products).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub product_id: Option<u64>,
    /// Catalog variant id.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub variant_id: Option<u64>,
    /// The shipping address (consignment) this line ships to.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub order_address_id: Option<u64>,
    /// Product name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub name: Option<String>,
    /// SKU.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub sku: Option<String>,
    /// UPC.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub upc: Option<String>,
    /// `physical`, `digital`...
    #[serde(default, rename = "type", deserialize_with = "de_opt_string")]
    pub product_type: Option<String>,
    /// Quantity ordered.
    #[serde(default, deserialize_with = "de_u64_or_zero")]
    pub quantity: u64,
    /// Quantity shipped so far.
    #[serde(default, deserialize_with = "de_u64_or_zero")]
    pub quantity_shipped: u64,
    /// Quantity refunded.
    #[serde(default, deserialize_with = "de_u64_or_zero")]
    pub quantity_refunded: u64,
    /// Base price.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub base_price: Option<Decimal>,
    /// Unit price excluding tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub price_ex_tax: Option<Decimal>,
    /// Unit price including tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub price_inc_tax: Option<Decimal>,
    /// Line total excluding tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub total_ex_tax: Option<Decimal>,
    /// Line total including tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub total_inc_tax: Option<Decimal>,
    /// Unit weight.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub weight: Option<Decimal>,
    /// Bundled child lines point to their parent line.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub parent_order_product_id: Option<u64>,
    /// Whether this line is part of a bundle.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub is_bundled_product: Option<bool>,
    /// Bin picking number.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub bin_picking_number: Option<String>,
    /// Selected options.
    #[serde(default)]
    pub product_options: Vec<OrderProductOption>,
}

/// A selected option of an order product (size, colour...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderProductOption {
    /// Option name shown to the shopper.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub display_name: Option<String>,
    /// Selected value shown to the shopper.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub display_value: Option<String>,
}

/// `orderShippingAddress`: a destination of an order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderShippingAddress {
    /// Shipping address id (a shipment's `order_address_id`).
    #[serde(deserialize_with = "de_u64")]
    pub id: u64,
    /// Order id.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub order_id: Option<u64>,
    /// The address.
    #[serde(flatten)]
    pub address: Address,
    /// Shipping method chosen at checkout.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub shipping_method: Option<String>,
    /// Items to ship here.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub items_total: Option<u64>,
    /// Items already shipped here.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub items_shipped: Option<u64>,
    /// Shipping cost including tax.
    #[serde(default, deserialize_with = "de_opt_decimal")]
    pub cost_inc_tax: Option<Decimal>,
    /// Shipping zone name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub shipping_zone_name: Option<String>,
}

/// What [`OrderShippingAddress`] is read from: its fields with the address's inline (see
/// [`ShippingConsignmentFields`]).
#[derive(Deserialize)]
struct OrderShippingAddressFields {
    #[serde(deserialize_with = "de_u64")]
    id: u64,
    #[serde(default, deserialize_with = "de_opt_u64")]
    order_id: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_string")]
    first_name: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    last_name: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    company: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    street_1: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    street_2: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    city: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    state: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    zip: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    country: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    country_iso2: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    phone: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    email: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    shipping_method: Option<String>,
    #[serde(default, deserialize_with = "de_opt_u64")]
    items_total: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_u64")]
    items_shipped: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_decimal")]
    cost_inc_tax: Option<Decimal>,
    #[serde(default, deserialize_with = "de_opt_string")]
    shipping_zone_name: Option<String>,
}

impl<'de> Deserialize<'de> for OrderShippingAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        from_object::<_, OrderShippingAddressFields>(deserializer, "OrderShippingAddress")
            .map(Into::into)
    }
}

impl From<OrderShippingAddressFields> for OrderShippingAddress {
    fn from(fields: OrderShippingAddressFields) -> Self {
        OrderShippingAddress {
            id: fields.id,
            order_id: fields.order_id,
            address: Address {
                first_name: fields.first_name,
                last_name: fields.last_name,
                company: fields.company,
                street_1: fields.street_1,
                street_2: fields.street_2,
                city: fields.city,
                state: fields.state,
                zip: fields.zip,
                country: fields.country,
                country_iso2: fields.country_iso2,
                phone: fields.phone,
                email: fields.email,
            },
            shipping_method: fields.shipping_method,
            items_total: fields.items_total,
            items_shipped: fields.items_shipped,
            cost_inc_tax: fields.cost_inc_tax,
            shipping_zone_name: fields.shipping_zone_name,
        }
    }
}

/// `orderStatus_Base`: one of the store's order statuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderStatus {
    /// Status id.
    #[serde(deserialize_with = "de_u64")]
    pub id: u64,
    /// Name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub name: Option<String>,
    /// System label.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub system_label: Option<String>,
    /// The merchant's label.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub custom_label: Option<String>,
    /// System description.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub system_description: Option<String>,
    /// Orders in this status (only from `/orders/count`).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub count: Option<u64>,
    /// Sort order (only from `/orders/count`).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub sort_order: Option<u64>,
}

/// `ordersCount_Full`: the number of orders, overall and per status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdersCount {
    /// Count per status.
    #[serde(default)]
    pub statuses: Vec<OrderStatus>,
    /// Total count.
    #[serde(default, deserialize_with = "de_u64_or_zero")]
    pub count: u64,
}

/// Body of `PUT /v2/orders/{id}`. Only set fields are sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpdateOrder {
    /// New status id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_id: Option<u64>,
    /// `true` archives the order (same as DELETE).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_deleted: Option<bool>,
    /// Merchant's notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff_notes: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::format_query_datetime;

    const ORDER: &str = r#"{
        "id": 100, "customer_id": 20,
        "date_created": "Wed, 10 Jan 2018 21:05:30 +0000",
        "date_modified": "Wed, 05 Dec 2018 20:16:55 +0000",
        "date_shipped": "",
        "status_id": 11, "status": "Awaiting Fulfillment",
        "subtotal_ex_tax": "336.3200", "total_inc_tax": "361.9500", "total_tax": "0.0000",
        "items_total": 17, "items_shipped": 0,
        "payment_method": "Credit Card", "payment_status": "authorized",
        "payment_provider_id": 12345,
        "currency_code": "USD", "default_currency_code": "USD",
        "currency_exchange_rate": "1.0000000000",
        "billing_address": {"first_name": "Jane", "last_name": "Doe", "zip": 78751,
                            "email": "janedoe@example.com", "form_fields": []},
        "is_deleted": false, "credit_card_type": null,
        "products": {"url": "https://api.bigcommerce.com/stores/abc/v2/orders/100/products",
                     "resource": "/orders/100/products"},
        "shipping_addresses": {"url": "https://api.bigcommerce.com/stores/abc/v2/orders/100/shippingaddresses",
                               "resource": "/orders/100/shippingaddresses"},
        "consignments": {"url": "https://api.bigcommerce.com/stores/abc/v2/orders/100/consignments",
                         "resource": "/orders/100/consignments"},
        "some_future_field": {"nested": true}
    }"#;

    /// BigCommerce puts the chosen option value's id in `value` ("69") and the label in
    /// `display_value` ("S"); a text field has its text in both. The label is read from
    /// `display_value`.
    #[test]
    fn an_option_label_is_its_display_value_not_its_value() {
        let option: OrderProductOption = serde_json::from_str(
            r#"{"id": 45, "option_id": 18, "display_name": "Size", "display_name_customer": "Size",
                "display_value": "S", "display_value_customer": "S", "value": "69",
                "type": "Multiple choice", "name": "Apparel sizes", "display_style": "Rectangle"}"#,
        )
        .unwrap();
        assert_eq!(option.display_name.as_deref(), Some("Size"));
        assert_eq!(option.display_value.as_deref(), Some("S"));
    }

    #[test]
    fn an_order_is_parsed_with_money_dates_links_and_raw_json() {
        let order: Order = serde_json::from_str(ORDER).unwrap();
        assert_eq!(order.id, 100);
        assert_eq!(order.status_id, Some(11));
        assert_eq!(order.date_shipped, None);
        assert_eq!(
            format_query_datetime(&order.date_modified.unwrap()),
            "2018-12-05T20:16:55Z"
        );
        assert_eq!(order.total_inc_tax, Some(Decimal::new(3619500, 4)));
        assert_eq!(order.customer_email(), Some("janedoe@example.com"));
        assert_eq!(
            order.billing_address.as_ref().unwrap().zip.as_deref(),
            Some("78751")
        );
        assert_eq!(
            order.products.as_ref().unwrap().resource,
            "/orders/100/products"
        );
        assert!(matches!(order.consignments, Some(Consignments::Link(_))));
        let raw: Value = serde_json::from_str(order.raw_json()).unwrap();
        assert_eq!(raw["some_future_field"]["nested"], Value::Bool(true));
        assert!(!order.line_items_truncated());
        assert_eq!(order.embedded_line_items(), None);
        // Serializing writes the raw JSON back unchanged.
        let round_trip = serde_json::to_value(&order).unwrap();
        assert_eq!(round_trip, serde_json::from_str::<Value>(ORDER).unwrap());
    }

    fn line(id: u64) -> Value {
        serde_json::json!({
            "id": id, "order_id": 200, "product_id": 77, "variant_id": 500 + id,
            "order_address_id": 51, "name": "Towel", "sku": format!("SKU-{id}"),
            "type": "physical", "base_price": "55.9900", "price_inc_tax": "65.2300",
            "total_inc_tax": "65.2300", "weight": "1.0000", "quantity": 1,
            "quantity_shipped": 0, "product_options": []
        })
    }

    fn order_with_consignment(lines: usize, warning: bool) -> Order {
        let mut shipping = serde_json::json!({
            "id": 51, "first_name": "Jane", "last_name": "Doe", "street_1": "123 Main Street",
            "city": "Austin", "state": "Texas", "zip": "12345", "country": "United States",
            "country_iso2": "US", "email": "janedoe@example.com", "phone": 410999888,
            "shipping_method": "Free Shipping", "items_total": lines, "items_shipped": 0,
            "base_cost": 5.1, "cost_inc_tax": 6.2,
            "line_items": (1..=lines.min(CONSIGNMENT_LINE_ITEM_CAP) as u64).map(line).collect::<Vec<_>>()
        });
        if warning {
            shipping[CONSIGNMENT_WARNING_KEY] = serde_json::json!({
                "message": "Not all line items of this consignment are returned with this response, only 50 are included. Please use the `/v2/orders/{order_id}/products` endpoint to fetch all line items."
            });
        }
        let order = serde_json::json!({
            "id": 200, "status_id": 11, "items_total": lines,
            "date_modified": "Tue, 05 Mar 2019 21:50:23 +0000",
            "consignments": {"pickups": [], "shipping": [shipping], "downloads": [],
                             "email": {"gift_certificates": []}}
        });
        serde_json::from_value(order).unwrap()
    }

    #[test]
    fn embedded_line_items_are_used_when_complete() {
        let order = order_with_consignment(3, false);
        assert!(!order.line_items_truncated());
        let Some(Consignments::Object(consignments)) = &order.consignments else {
            panic!("expected object consignments");
        };
        let shipping = &consignments.shipping[0];
        assert_eq!(shipping.id, 51);
        assert_eq!(shipping.address.phone.as_deref(), Some("410999888"));
        assert_eq!(shipping.cost_inc_tax, Some(Decimal::new(62, 1)));
        let lines = order.embedded_line_items().unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].sku.as_deref(), Some("SKU-1"));
        assert_eq!(lines[0].variant_id, Some(501));
        assert_eq!(lines[0].price_inc_tax, Some(Decimal::new(652300, 4)));
    }

    #[test]
    fn a_consignment_with_the_warning_marks_the_order_truncated() {
        let order = order_with_consignment(120, true);
        assert!(order.line_items_truncated());
        let Some(Consignments::Object(consignments)) = &order.consignments else {
            panic!("expected object consignments");
        };
        let shipping = &consignments.shipping[0];
        assert_eq!(shipping.line_items.len(), CONSIGNMENT_LINE_ITEM_CAP);
        assert!(shipping
            .warning
            .as_ref()
            .unwrap()
            .message
            .as_deref()
            .unwrap()
            .contains("only 50 are included"));
        assert_eq!(order.embedded_line_items(), None);
    }

    #[test]
    fn line_item_links_are_not_taken_as_complete_lines() {
        let order: Order = serde_json::from_value(serde_json::json!({
            "id": 5, "items_total": 1,
            "consignments": {"shipping": [{"id": 1, "line_items": [
                {"url": "https://x/v2/orders/5/products/12", "resource": "/orders/5/products/12"}
            ]}]}
        }))
        .unwrap();
        let Some(Consignments::Object(consignments)) = &order.consignments else {
            panic!("expected object consignments");
        };
        assert!(matches!(
            consignments.shipping[0].line_items[0],
            ConsignmentLineItem::Link(_)
        ));
        assert_eq!(order.embedded_line_items(), None);
    }

    #[test]
    fn an_unknown_consignment_shape_does_not_break_the_order() {
        let order: Order = serde_json::from_value(serde_json::json!({
            "id": 6, "consignments": {"shipping": "surprise", "__warning__": {"message": "cut"}}
        }))
        .unwrap();
        assert!(matches!(
            order.consignments,
            Some(Consignments::Unrecognized(_))
        ));
        assert!(order.line_items_truncated());
    }

    /// Parses `json` both ways: the typed pass over the text (what `Order`'s `Deserialize`
    /// does) and the `Value` path it falls back to, which mirrors the former implementation.
    fn parsed_both_ways(json: &str) -> (Order, Order) {
        let typed: Order = serde_json::from_str(json).unwrap();
        let mut through_value = Order::from_value_leniently(serde_json::from_str(json).unwrap())
            .expect("the Value path parses it");
        through_value.raw = typed.raw.clone();
        (typed, through_value)
    }

    #[test]
    fn the_raw_json_is_kept_byte_for_byte_and_written_back_verbatim() {
        let json =
            "{ \"id\" : 7,\n  \"total_inc_tax\": \"1.5000\", \"zz\": [1, 2.50, \"\\u00e9\"] }";
        let page = format!("[{json}, {{\"id\": 8}}]");
        let orders: Vec<Order> = serde_json::from_str(&page).unwrap();
        assert_eq!(orders[0].raw_json(), json);
        assert_eq!(orders[1].raw_json(), r#"{"id": 8}"#);
        assert_eq!(serde_json::to_string(&orders[0]).unwrap(), json);
        let again: Order = serde_json::from_str(orders[0].raw_json()).unwrap();
        assert_eq!(again, orders[0]);
    }

    #[test]
    fn typed_and_value_paths_agree_on_odd_but_valid_orders() {
        for json in [
            ORDER,
            r#"{"id": "12", "customer_id": -1, "date_shipped": 0, "status_id": 11.0,
                "total_inc_tax": 5.1, "items_total": "3", "is_deleted": "yes",
                "order_is_digital": 0, "status": 42, "custom_status": true,
                "date_created": "2018-08-15T14:48:31", "date_modified": 1561488106,
                "billing_address": {"zip": 78751, "phone": null, "email": ""},
                "products": "not a link", "coupons": {"url": 5, "resource": "/r"},
                "shipping_addresses": ["https://x/v2/orders/12/shippingaddresses", "/orders/12/shippingaddresses"],
                "payment_method": {"nested": [1]}, "subtotal_ex_tax": [], "consignments": null}"#,
            r#"{"id": 13, "consignments": [{"shipping": [{"id": 1, "line_items": {"id": 9, "quantity": "2"}}]}]}"#,
            r#"{"id": 14, "consignments": {"shipping": [{"id": "2", "zip": 1234, "line_items": [
                {"id": 1, "product_options": [{"display_name": "Size", "display_value": 10}]},
                {"url": "https://x/v2/orders/14/products/2", "resource": "/orders/14/products/2"},
                {"id": "not a number"}, [1, 2], "text", null, 3
            ]}], "pickups": [{"id": 3, "location": {"name": "Dock"}, "line_items": null}],
            "downloads": [{"id": 4}], "email": {"gift_certificates": [{"id": 5}]}}}"#,
            r#"{"id": 15, "consignments": {"url": "https://x/v2/orders/15/consignments",
                "resource": "/orders/15/consignments", "shipping": "not a list"}}"#,
            r#"{"id": 16, "consignments": {"url": 1, "resource": "/x"}}"#,
            r#"{"id": 17, "consignments": "text"}"#,
            r#"{"id": 18, "consignments": {"shipping": null}}"#,
            r#"{"id": 19, "status_id": 1, "status_id": 2, "consignments": {"shipping": [{"id": 1, "id": 2}]}}"#,
        ] {
            let (typed, through_value) = parsed_both_ways(json);
            assert_eq!(typed, through_value, "{json}");
            assert_eq!(
                typed.line_items_truncated(),
                through_value.line_items_truncated(),
                "{json}"
            );
            assert_eq!(
                typed.embedded_line_items(),
                through_value.embedded_line_items(),
                "{json}"
            );
        }
    }

    #[test]
    fn odd_shapes_are_classified_as_before() {
        let order: Order = serde_json::from_str(
            r#"{"id": 1, "status_id": 1, "status_id": 2, "products": "x",
                "consignments": [{"shipping": [{"id": 1, "line_items": [
                    {"url": "https://x/1", "resource": "/orders/1/products/1"}, 7]}]}]}"#,
        )
        .unwrap();
        assert_eq!(order.status_id, Some(2), "the last of a repeated key wins");
        assert_eq!(order.products, None);
        let Some(Consignments::List(list)) = &order.consignments else {
            panic!("expected the legacy list, got {:?}", order.consignments);
        };
        let lines = &list[0].shipping[0].line_items;
        assert!(matches!(lines[0], ConsignmentLineItem::Link(_)));
        assert_eq!(lines[1], ConsignmentLineItem::Other(Value::from(7)));
        let Some(Consignments::Unrecognized(value)) =
            serde_json::from_str::<Order>(r#"{"id": 2, "consignments": {"pickups": 3}}"#)
                .unwrap()
                .consignments
        else {
            panic!("expected an unrecognized shape");
        };
        assert_eq!(value, serde_json::json!({"pickups": 3}));
    }

    #[test]
    fn a_warning_anywhere_in_the_consignments_marks_the_order_truncated() {
        let truncated = |json: &str| {
            let order: Order = serde_json::from_str(json).unwrap();
            order.line_items_truncated()
        };
        // Deep inside a line item, in an untyped consignment, or with an escaped key.
        assert!(truncated(
            r#"{"id": 1, "consignments": {"shipping": [{"id": 1, "line_items": [{"id": 2, "x": {"__warning__": {}}}]}]}}"#
        ));
        assert!(truncated(
            r#"{"id": 1, "consignments": {"email": {"gift_certificates": [{"__warning__": "cut"}]}}}"#
        ));
        assert!(truncated(
            r#"{"id": 1, "consignments": {"shipping": [{"id": 1, "\u005f_warning__": {"message": "cut"}}]}}"#
        ));
        // The word as a value, or outside the consignments, is not the marker.
        assert!(!truncated(
            r#"{"id": 1, "staff_notes": "__warning__", "consignments": {"shipping": [{"id": 1, "city": "__warning__", "line_items": []}]}}"#
        ));
        assert!(!truncated(
            r#"{"id": 1, "extra": {"__warning__": {}}, "consignments": {"shipping": [], "note": "\u00e9"}}"#
        ));
    }

    #[test]
    fn order_count_and_statuses_are_parsed() {
        let count: OrdersCount = serde_json::from_str(
            r#"{"statuses": [{"id": 11, "name": "Awaiting Fulfillment", "system_label": "Awaiting Fulfillment",
                "custom_label": "Awaiting Fulfillment", "system_description": "paid", "count": 31, "sort_order": 3}],
                "count": 133}"#,
        )
        .unwrap();
        assert_eq!(count.count, 133);
        assert_eq!(count.statuses[0].count, Some(31));
        let just_count: OrdersCount = serde_json::from_str(r#"{"count": 27}"#).unwrap();
        assert_eq!(just_count.count, 27);
    }

    #[test]
    fn update_order_sends_only_set_fields() {
        let body = UpdateOrder {
            status_id: Some(2),
            ..UpdateOrder::default()
        };
        assert_eq!(serde_json::to_string(&body).unwrap(), r#"{"status_id":2}"#);
    }
}
