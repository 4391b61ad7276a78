//! Catalog v3: products and variants (`products_catalog.v3.yml`,
//! `product-variants_catalog.v3.yml`), with the `{data, meta}` envelope, offset pagination,
//! the filters a sync needs, the two batch updates and the two single-resource updates
//! (`PUT /catalog/products/{product_id}`, `PUT /catalog/products/{product_id}/variants/{variant_id}`).
//!
//! # Stock and `inventory_tracking`
//! - `none`: stock is not tracked; orders do not change it and no inventory webhook fires. The
//!   stored levels are still reported as they are.
//! - `product`: one level, `product.inventory_level`. A simple product's base variant mirrors
//!   it (`store.rs` keeps them equal).
//! - `variant`: each variant has its level; the product's `inventory_level` is reported as the
//!   **sum of its variants**, as BigCommerce does, and writing a product-level
//!   `inventory_level` has no visible effect (it is stored but the sum is what reads return).
//!
//! # Batch updates
//! `PUT /catalog/products` (at most 10) and `PUT /catalog/variants` (at most 50) answer `413`
//! with BigCommerce's title when the array is longer. They are **all-or-nothing for
//! validation**: every item is checked first (JSON types, required `id`, the id exists, SKU
//! uniqueness) and nothing is applied unless all pass. The spec lists `422` for "missing
//! required fields or invalid data" and `409` for duplicate SKUs without any partial-success
//! body for those; its only partial answer is `207`, for failures *after* validation (inventory
//! or URL saving), which the sandbox never produces.
//!
//! # Not emulated
//! Only the fields the sandbox models change on write (`name`, `sku`, `price`, `is_visible`,
//! `inventory_level`, `inventory_warning_level`, `inventory_tracking`; for variants `sku`,
//! `price`, `inventory_level`, `inventory_warning_level`); other valid fields are accepted and
//! not stored. Fields the model lacks (dimensions, SEO, pre-order, ...) are rendered with
//! BigCommerce's defaults. Creating products or variants, images, options and modifiers are not
//! emulated (`include=images,options,...` renders empty arrays). Invalid filter values answer
//! `422` naming the parameter; unknown parameters and `sort` values are ignored.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

use super::errors::{self, v3_error};
use super::{json, AppState};
use crate::model::{InventoryTracking, Product, Variant};
use crate::state::StoreHandle;
use crate::store::{ProductUpdate, StoreData, VariantUpdate};

type Params = Query<HashMap<String, String>>;

/// Most products a batch update takes.
pub const PRODUCT_BATCH_MAX: usize = 10;
/// Most variants a batch update takes.
pub const VARIANT_BATCH_MAX: usize = 50;
/// Items per page when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 50;
/// Most items per page.
pub const MAX_LIMIT: usize = 250;
/// Page size when `include` asks for `options` or `modifiers` (the spec's limit).
const OPTIONS_PAGE_LIMIT: usize = 10;
/// The catalog's inventory ceiling; larger writes are clamped, as the Catalog API does.
const INVENTORY_MAX: i64 = 2_147_483_647;

const TITLE_INVALID: &str = "JSON data is missing or invalid";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v3/catalog/products",
            get(list_products).put(update_products),
        )
        .route(
            "/v3/catalog/products/{product_id}",
            get(get_product).put(update_product),
        )
        .route(
            "/v3/catalog/products/{product_id}/variants",
            get(list_product_variants),
        )
        .route(
            "/v3/catalog/products/{product_id}/variants/{variant_id}",
            get(get_product_variant).put(update_product_variant),
        )
        .route(
            "/v3/catalog/variants",
            get(list_variants).put(update_variants),
        )
}

// ---------------------------------------------------------------------------------------------
// Shared v3 helpers (also used by the webhooks API).

/// `page` and `limit` of a v3 collection request.
#[derive(Debug, Clone, Copy)]
pub(super) struct PageRequest {
    pub page: usize,
    pub limit: usize,
}

impl PageRequest {
    /// Reads `page` (default 1) and `limit` (default 50, at most `max`). Values that are not
    /// positive integers fall back to the defaults, as BigCommerce does.
    pub fn from_params(params: &HashMap<String, String>, max: usize) -> PageRequest {
        let read = |key: &str| {
            params
                .get(key)
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|v| *v > 0)
        };
        PageRequest {
            page: read("page").unwrap_or(1),
            limit: read("limit").unwrap_or(DEFAULT_LIMIT).min(max),
        }
    }

    /// The items of this page.
    pub fn slice<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let start = (self.page - 1).saturating_mul(self.limit).min(items.len());
        let end = start.saturating_add(self.limit).min(items.len());
        &items[start..end]
    }

    /// `meta.pagination` with BigCommerce's relative links (`?page=2&limit=50`). Other query
    /// parameters are kept, before `page` and `limit`, so the links repeat the same query.
    pub fn pagination(&self, total: usize, count: usize, raw_query: Option<&str>) -> Value {
        let total_pages = total.div_ceil(self.limit);
        let others: Vec<&str> = raw_query
            .unwrap_or("")
            .split('&')
            .filter(|pair| {
                let key = pair.split('=').next().unwrap_or("");
                !pair.is_empty() && key != "page" && key != "limit"
            })
            .collect();
        let link = |page: usize| {
            let mut query = others.join("&");
            if !query.is_empty() {
                query.push('&');
            }
            format!("?{query}page={page}&limit={}", self.limit)
        };
        let mut links = Map::new();
        if self.page > 1 && total_pages > 0 {
            links.insert(
                "previous".into(),
                json!(link((self.page - 1).min(total_pages))),
            );
        }
        links.insert("current".into(), json!(link(self.page)));
        if self.page < total_pages {
            links.insert("next".into(), json!(link(self.page + 1)));
        }
        json!({
            "total": total,
            "count": count,
            "per_page": self.limit,
            "current_page": self.page,
            "total_pages": total_pages,
            "links": links,
        })
    }
}

/// A v3 `422` naming the offending field(s).
pub(super) fn unprocessable(title: &str, field: &str, message: &str) -> Response {
    let mut errors = Map::new();
    errors.insert(field.to_string(), json!(message));
    v3_error(StatusCode::UNPROCESSABLE_ENTITY, title, errors)
}

/// ISO 8601 as BigCommerce writes it: `2018-08-15T14:49:02+00:00`.
pub(super) fn iso(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

fn store(state: &AppState, hash: &str) -> Result<Arc<StoreHandle>, Response> {
    state
        .store(hash)
        .ok_or_else(|| not_found("The store was not found."))
}

fn not_found(title: &str) -> Response {
    v3_error(StatusCode::NOT_FOUND, title, Map::new())
}

fn product_not_found() -> Response {
    not_found("The requested product was not found.")
}

fn variant_not_found() -> Response {
    not_found("The requested variant was not found.")
}

// ---------------------------------------------------------------------------------------------
// Rendering.

/// A money or measure as a JSON number: whole values as integers (`10`), others as floats
/// (`7.95`), as BigCommerce prints them.
fn number(value: Decimal) -> Value {
    let value = value.normalize();
    if value.fract().is_zero() {
        if let Some(whole) = value.to_i64() {
            return json!(whole);
        }
    }
    value.to_f64().map(|v| json!(v)).unwrap_or(json!(0))
}

fn optional_number(value: Option<Decimal>) -> Value {
    value.map(number).unwrap_or(Value::Null)
}

fn slug(name: &str) -> String {
    let mut slug = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').to_string()
}

/// A simple product has one variant without option values: its base variant.
fn base_variant(product: &Product) -> Option<&Variant> {
    match product.variants.as_slice() {
        [only] if only.option_values.is_empty() => Some(only),
        _ => None,
    }
}

/// What `include=` asked for.
#[derive(Debug, Default, Clone)]
struct Includes {
    variants: bool,
    /// Sub-resources the sandbox does not model, rendered as empty arrays.
    empty: Vec<&'static str>,
    channels: bool,
    /// `options` or `modifiers` cap the page at 10 items.
    caps_page: bool,
}

impl Includes {
    fn parse(include: Option<&String>) -> Includes {
        let mut includes = Includes::default();
        for item in include.map(|s| s.split(',')).into_iter().flatten() {
            match item.trim() {
                "variants" => includes.variants = true,
                "channels" => includes.channels = true,
                other => {
                    const EMPTY: [&str; 8] = [
                        "images",
                        "custom_fields",
                        "bulk_pricing_rules",
                        "videos",
                        "options",
                        "modifiers",
                        "parent_relations",
                        "reviews",
                    ];
                    if let Some(name) = EMPTY.iter().find(|name| **name == other) {
                        if !includes.empty.contains(name) {
                            includes.empty.push(name);
                        }
                        includes.caps_page |= other == "options" || other == "modifiers";
                    }
                }
            }
        }
        includes
    }
}

/// `include_fields` / `exclude_fields`: `id` (and the requested sub-resources) always stay.
#[derive(Debug, Default, Clone)]
struct FieldSelection {
    include: Option<Vec<String>>,
    exclude: Vec<String>,
}

impl FieldSelection {
    fn parse(params: &HashMap<String, String>) -> FieldSelection {
        let list = |key: &str| {
            params.get(key).map(|v| {
                v.split(',')
                    .map(|f| f.trim().to_string())
                    .filter(|f| !f.is_empty())
                    .collect::<Vec<_>>()
            })
        };
        FieldSelection {
            include: list("include_fields"),
            exclude: list("exclude_fields").unwrap_or_default(),
        }
    }

    fn apply(&self, mut object: Map<String, Value>, keep: &[&str]) -> Value {
        if let Some(include) = &self.include {
            object.retain(|key, _| {
                key == "id" || keep.contains(&key.as_str()) || include.contains(key)
            });
        }
        object.retain(|key, _| key == "id" || !self.exclude.contains(key));
        Value::Object(object)
    }
}

/// Quantities sold per product, over the orders that are not archived.
fn total_sold(data: &StoreData) -> HashMap<u64, u64> {
    let mut sold: HashMap<u64, u64> = HashMap::new();
    for order in data.orders.values().filter(|o| !o.is_deleted) {
        for line in &order.lines {
            *sold.entry(line.product_id).or_default() += u64::from(line.quantity);
        }
    }
    sold
}

fn render_variant(variant: &Variant, product: &Product) -> Map<String, Value> {
    let option_values: Vec<Value> = variant
        .option_values
        .iter()
        .map(|o| {
            json!({
                "id": o.id,
                "label": o.label,
                "option_id": o.option_id,
                "option_display_name": o.option_display_name,
            })
        })
        .collect();
    let fields = [
        ("id", json!(variant.id)),
        ("product_id", json!(variant.product_id)),
        ("sku", json!(variant.sku)),
        ("sku_id", json!(variant.sku_id)),
        ("price", optional_number(variant.price)),
        (
            "calculated_price",
            number(variant.price.unwrap_or(product.price)),
        ),
        ("sale_price", Value::Null),
        ("retail_price", Value::Null),
        ("map_price", Value::Null),
        ("weight", optional_number(variant.weight)),
        (
            "calculated_weight",
            number(variant.weight.unwrap_or(product.weight)),
        ),
        ("width", Value::Null),
        ("height", Value::Null),
        ("depth", Value::Null),
        ("is_free_shipping", json!(false)),
        ("fixed_cost_shipping_price", Value::Null),
        ("purchasing_disabled", json!(false)),
        ("purchasing_disabled_message", json!("")),
        ("image_url", json!("")),
        ("cost_price", json!(0)),
        ("upc", json!(variant.upc)),
        ("mpn", json!("")),
        ("gtin", json!("")),
        ("inventory_level", json!(variant.inventory_level)),
        (
            "inventory_warning_level",
            json!(variant.inventory_warning_level),
        ),
        ("bin_picking_number", json!("")),
        ("option_values", Value::Array(option_values)),
    ];
    // Unset overrides (`price`, `weight`, dimensions, ...) inherit from the product and are
    // `null`, as BigCommerce sends them and as `productVariant_Base` types them (`nullable`;
    // the inline schema of `GET /catalog/variants` says the same with `x-nullable`).
    fields
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect()
}

fn render_product(
    product: &Product,
    sold: &HashMap<u64, u64>,
    includes: &Includes,
) -> Map<String, Value> {
    let base = base_variant(product);
    let fields = [
        ("id", json!(product.id)),
        ("name", json!(product.name)),
        ("type", json!("physical")),
        ("sku", json!(product.sku)),
        ("description", json!("")),
        ("weight", number(product.weight)),
        ("width", json!(0)),
        ("depth", json!(0)),
        ("height", json!(0)),
        ("price", number(product.price)),
        ("cost_price", json!(0)),
        ("retail_price", json!(0)),
        ("sale_price", json!(0)),
        ("map_price", json!(0)),
        ("tax_class_id", json!(0)),
        ("product_tax_code", json!("")),
        ("calculated_price", number(product.price)),
        ("categories", json!([])),
        ("brand_id", json!(0)),
        ("option_set_display", json!("right")),
        ("inventory_level", json!(product.reported_inventory_level())),
        (
            "inventory_warning_level",
            json!(product.inventory_warning_level),
        ),
        (
            "inventory_tracking",
            json!(product.inventory_tracking.as_str()),
        ),
        ("reviews_rating_sum", json!(0)),
        ("reviews_count", json!(0)),
        (
            "total_sold",
            json!(sold.get(&product.id).copied().unwrap_or(0)),
        ),
        ("fixed_cost_shipping_price", json!(0)),
        ("is_free_shipping", json!(false)),
        ("is_visible", json!(product.is_visible)),
        ("is_featured", json!(false)),
        ("related_products", json!([-1])),
        ("warranty", json!("")),
        ("bin_picking_number", json!("")),
        ("layout_file", json!("product.html")),
        ("upc", json!(base.map(|v| v.upc.as_str()).unwrap_or(""))),
        ("mpn", json!("")),
        ("gtin", json!("")),
        ("search_keywords", json!("")),
        ("availability", json!("available")),
        ("availability_description", json!("")),
        ("gift_wrapping_options_type", json!("any")),
        ("gift_wrapping_options_list", json!([])),
        ("sort_order", json!(0)),
        ("condition", json!("New")),
        ("is_condition_shown", json!(false)),
        ("order_quantity_minimum", json!(0)),
        ("order_quantity_maximum", json!(0)),
        ("page_title", json!("")),
        ("meta_keywords", json!([])),
        ("meta_description", json!("")),
        ("date_created", json!(iso(product.date_created))),
        ("date_modified", json!(iso(product.date_modified))),
        ("view_count", json!(0)),
        ("preorder_release_date", Value::Null),
        ("preorder_message", json!("")),
        ("is_preorder_only", json!(false)),
        ("is_price_hidden", json!(false)),
        ("price_hidden_label", json!("")),
        (
            "custom_url",
            json!({"url": format!("/{}/", slug(&product.name)), "is_customized": false}),
        ),
        ("open_graph_type", json!("product")),
        ("open_graph_title", json!("")),
        ("open_graph_description", json!("")),
        ("open_graph_use_meta_description", json!(true)),
        ("open_graph_use_product_name", json!(true)),
        ("open_graph_use_image", json!(true)),
    ];
    let mut object: Map<String, Value> = fields
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect();
    // `base_variant_id` is the base variant of a simple product and `null` for a product with
    // options, as the spec's description says (its schema types it as a plain integer);
    // `option_set_id` is `null`: the sandbox has no legacy (v2) option sets. Both are in
    // BigCommerce's examples. `date_last_imported` (never imported) stays out.
    object.insert(
        "base_variant_id".into(),
        base.map(|v| json!(v.id)).unwrap_or(Value::Null),
    );
    object.insert("option_set_id".into(), Value::Null);
    if includes.variants {
        let variants: Vec<Value> = product
            .variants
            .iter()
            .map(|v| Value::Object(render_variant(v, product)))
            .collect();
        object.insert("variants".into(), Value::Array(variants));
    }
    for name in &includes.empty {
        object.insert((*name).to_string(), json!([]));
    }
    if includes.channels {
        object.insert("channels".into(), json!([1]));
    }
    object
}

/// The sub-resources `include_fields` must not strip.
fn kept_includes(includes: &Includes) -> Vec<&'static str> {
    let mut keep = includes.empty.clone();
    if includes.variants {
        keep.push("variants");
    }
    if includes.channels {
        keep.push("channels");
    }
    keep
}

// ---------------------------------------------------------------------------------------------
// Filters.

/// Reads a comma-separated list of ids, or answers 422 naming the parameter.
fn id_list(params: &HashMap<String, String>, key: &str) -> Result<Option<Vec<u64>>, Response> {
    let Some(raw) = params.get(key) else {
        return Ok(None);
    };
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u64>())
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
        .map_err(|_| invalid_filter(key, "must be a comma-separated list of integers"))
}

fn string_list(params: &HashMap<String, String>, key: &str) -> Option<Vec<String>> {
    params.get(key).map(|raw| {
        raw.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

fn integer(params: &HashMap<String, String>, key: &str) -> Result<Option<i64>, Response> {
    params
        .get(key)
        .map(|raw| {
            raw.trim()
                .parse::<i64>()
                .map_err(|_| invalid_filter(key, "must be an integer"))
        })
        .transpose()
}

fn boolean(params: &HashMap<String, String>, key: &str) -> Result<Option<bool>, Response> {
    params
        .get(key)
        .map(|raw| match raw.trim() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(invalid_filter(key, "must be true, false, 1 or 0")),
        })
        .transpose()
}

fn date(params: &HashMap<String, String>, key: &str) -> Result<Option<DateTime<Utc>>, Response> {
    params
        .get(key)
        .map(|raw| {
            parse_date(raw, Utc::now()).ok_or_else(|| {
                invalid_filter(
                    key,
                    "must be an ISO 8601 date or date-time (2025-01-15T00:03:17Z) or a Unix timestamp",
                )
            })
        })
        .transpose()
}

fn invalid_filter(key: &str, message: &str) -> Response {
    unprocessable(
        &format!("The filter '{key}' is not valid."),
        key,
        &format!("{key} {message}."),
    )
}

/// Parses a v3 date filter: a Unix timestamp, an ISO 8601 date-time (without an offset it is
/// UTC), or a bare date — to which, as the spec says of `date_modified:min|max`, "the API
/// automatically adds the current time of the request".
pub fn parse_date(raw: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        return raw
            .parse::<i64>()
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, 0));
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Some(at.with_timezone(&Utc));
    }
    if let Ok(at) = DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%z") {
        return Some(at.with_timezone(&Utc));
    }
    if let Ok(at) = NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(at.and_utc());
    }
    if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Some(day.and_time(now.time()).and_utc());
    }
    None
}

/// The product filters of `GET /catalog/products`.
#[derive(Debug, Default)]
struct ProductFilter {
    id: Option<i64>,
    id_in: Option<Vec<u64>>,
    id_not_in: Option<Vec<u64>>,
    id_min: Option<i64>,
    id_max: Option<i64>,
    id_greater: Option<i64>,
    id_less: Option<i64>,
    sku: Option<String>,
    sku_in: Option<Vec<String>>,
    name: Option<String>,
    name_like: Option<String>,
    keyword: Option<String>,
    is_visible: Option<bool>,
    modified_day: Option<NaiveDate>,
    modified_min: Option<DateTime<Utc>>,
    modified_max: Option<DateTime<Utc>>,
    level: Option<i64>,
    level_in: Option<Vec<u64>>,
    level_min: Option<i64>,
    level_max: Option<i64>,
    level_greater: Option<i64>,
    level_less: Option<i64>,
    inventory_low: Option<bool>,
    out_of_stock: Option<bool>,
}

impl ProductFilter {
    fn parse(params: &HashMap<String, String>) -> Result<ProductFilter, Response> {
        let modified_day = match params.get("date_modified") {
            None => None,
            Some(raw) => Some(
                parse_date(raw, Utc::now())
                    .map(|at| at.date_naive())
                    .ok_or_else(|| {
                        invalid_filter("date_modified", "must be a date (2024-07-18)")
                    })?,
            ),
        };
        Ok(ProductFilter {
            id: integer(params, "id")?,
            id_in: id_list(params, "id:in")?,
            id_not_in: id_list(params, "id:not_in")?,
            id_min: integer(params, "id:min")?,
            id_max: integer(params, "id:max")?,
            id_greater: integer(params, "id:greater")?,
            id_less: integer(params, "id:less")?,
            sku: params.get("sku").cloned(),
            sku_in: string_list(params, "sku:in"),
            name: params.get("name").cloned(),
            name_like: params.get("name:like").map(|s| s.to_lowercase()),
            keyword: params.get("keyword").map(|s| s.to_lowercase()),
            is_visible: boolean(params, "is_visible")?,
            modified_day,
            modified_min: date(params, "date_modified:min")?,
            modified_max: date(params, "date_modified:max")?,
            level: integer(params, "inventory_level")?,
            level_in: id_list(params, "inventory_level:in")?,
            level_min: integer(params, "inventory_level:min")?,
            level_max: integer(params, "inventory_level:max")?,
            level_greater: integer(params, "inventory_level:greater")?,
            level_less: integer(params, "inventory_level:less")?,
            inventory_low: boolean(params, "inventory_low")?,
            out_of_stock: boolean(params, "out_of_stock")?,
        })
    }

    fn matches(&self, p: &Product) -> bool {
        let id = p.id as i64;
        let level = p.reported_inventory_level();
        let tracked = p.inventory_tracking != InventoryTracking::None;
        self.id.is_none_or(|v| id == v)
            && self.id_in.as_ref().is_none_or(|ids| ids.contains(&p.id))
            && self
                .id_not_in
                .as_ref()
                .is_none_or(|ids| !ids.contains(&p.id))
            && self.id_min.is_none_or(|v| id >= v)
            && self.id_max.is_none_or(|v| id <= v)
            && self.id_greater.is_none_or(|v| id > v)
            && self.id_less.is_none_or(|v| id < v)
            && self.sku.as_ref().is_none_or(|sku| &p.sku == sku)
            && self
                .sku_in
                .as_ref()
                .is_none_or(|skus| skus.contains(&p.sku))
            && self.name.as_ref().is_none_or(|name| &p.name == name)
            && self
                .name_like
                .as_ref()
                .is_none_or(|like| p.name.to_lowercase().contains(like))
            && self.keyword.as_ref().is_none_or(|word| {
                p.name.to_lowercase().contains(word)
                    || p.variants
                        .iter()
                        .any(|v| v.sku.to_lowercase().contains(word))
            })
            && self.is_visible.is_none_or(|v| p.is_visible == v)
            && self
                .modified_day
                .is_none_or(|day| p.date_modified.date_naive() == day)
            && self.modified_min.is_none_or(|at| p.date_modified >= at)
            && self.modified_max.is_none_or(|at| p.date_modified <= at)
            && self.level.is_none_or(|v| level == v)
            && self
                .level_in
                .as_ref()
                .is_none_or(|levels| levels.iter().any(|l| *l as i64 == level))
            && self.level_min.is_none_or(|v| level >= v)
            && self.level_max.is_none_or(|v| level <= v)
            && self.level_greater.is_none_or(|v| level > v)
            && self.level_less.is_none_or(|v| level < v)
            && self
                .inventory_low
                .is_none_or(|low| !low || (tracked && level <= p.inventory_warning_level))
            && self
                .out_of_stock
                .is_none_or(|out| !out || (tracked && level <= 0))
    }
}

fn sort_products(
    products: &mut [&Product],
    params: &HashMap<String, String>,
    sold: &HashMap<u64, u64>,
) {
    let sort = params.get("sort").map(String::as_str).unwrap_or("id");
    products.sort_by(|a, b| {
        let order = match sort {
            "name" => a.name.cmp(&b.name),
            "sku" => a.sku.cmp(&b.sku),
            "price" | "calculated_price" => a.price.cmp(&b.price),
            "date_modified" => a.date_modified.cmp(&b.date_modified),
            "inventory_level" => a
                .reported_inventory_level()
                .cmp(&b.reported_inventory_level()),
            "is_visible" => a.is_visible.cmp(&b.is_visible),
            "total_sold" => sold.get(&a.id).cmp(&sold.get(&b.id)),
            _ => std::cmp::Ordering::Equal,
        };
        order.then(a.id.cmp(&b.id))
    });
    if params.get("direction").map(String::as_str) == Some("desc") {
        products.reverse();
    }
}

// ---------------------------------------------------------------------------------------------
// Products.

async fn list_products(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    Query(params): Params,
    RawQuery(raw): RawQuery,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(store) => store,
        Err(response) => return response,
    };
    let filter = match ProductFilter::parse(&params) {
        Ok(filter) => filter,
        Err(response) => return response,
    };
    let includes = Includes::parse(params.get("include"));
    let fields = FieldSelection::parse(&params);
    let keep = kept_includes(&includes);
    let max = if includes.caps_page {
        OPTIONS_PAGE_LIMIT
    } else {
        MAX_LIMIT
    };
    let page = PageRequest::from_params(&params, max);
    let body = {
        let data = store.data.read();
        let sold = total_sold(&data);
        let mut products: Vec<&Product> = data
            .products
            .values()
            .filter(|p| filter.matches(p))
            .collect();
        sort_products(&mut products, &params, &sold);
        let items: Vec<Value> = page
            .slice(&products)
            .iter()
            .map(|p| fields.apply(render_product(p, &sold, &includes), &keep))
            .collect();
        let meta = page.pagination(products.len(), items.len(), raw.as_deref());
        json!({"data": items, "meta": {"pagination": meta}})
    };
    json(StatusCode::OK, &body)
}

async fn get_product(
    State(state): State<AppState>,
    Path((hash, product_id)): Path<(String, String)>,
    Query(params): Params,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(store) => store,
        Err(response) => return response,
    };
    let includes = Includes::parse(params.get("include"));
    let fields = FieldSelection::parse(&params);
    let body = {
        let data = store.data.read();
        let Some(product) = product_id
            .parse::<u64>()
            .ok()
            .and_then(|id| data.products.get(&id))
        else {
            return product_not_found();
        };
        let sold = total_sold(&data);
        let rendered = fields.apply(
            render_product(product, &sold, &includes),
            &kept_includes(&includes),
        );
        json!({"data": rendered, "meta": {}})
    };
    json(StatusCode::OK, &body)
}

/// Reads one field of a batch item, recording a type error under `"{index}.{field}"`, or of a
/// single resource's body (`index` is `None`), under `"{field}"`.
struct Item<'a> {
    index: Option<usize>,
    object: &'a Map<String, Value>,
    errors: &'a mut Map<String, Value>,
}

impl Item<'_> {
    fn error(&mut self, field: &str, message: impl Into<String>) {
        let key = match self.index {
            Some(index) => format!("{index}.{field}"),
            None => field.to_string(),
        };
        self.errors.insert(key, json!(message.into()));
    }

    fn get(&self, field: &str) -> Option<&Value> {
        self.object.get(field).filter(|v| !v.is_null())
    }

    fn id(&mut self) -> Option<u64> {
        match self.object.get("id") {
            None | Some(Value::Null) => {
                self.error("id", "id is required to update an item in a batch.");
                None
            }
            Some(v) => match v.as_u64().filter(|id| *id > 0) {
                Some(id) => Some(id),
                None => {
                    self.error("id", "id must be a positive integer.");
                    None
                }
            },
        }
    }

    /// An inventory figure: an integer from 0, clamped to the catalog's ceiling.
    fn level(&mut self, field: &str) -> Option<i64> {
        let value = self.get(field)?;
        match value.as_i64() {
            Some(level) if level >= 0 => Some(level.min(INVENTORY_MAX)),
            Some(_) => {
                self.error(
                    field,
                    format!("{field} must be greater than or equal to 0."),
                );
                None
            }
            None if value.as_u64().is_some() => Some(INVENTORY_MAX),
            None => {
                self.error(field, format!("{field} must be an integer."));
                None
            }
        }
    }

    fn price(&mut self, field: &str) -> Option<Decimal> {
        let value = self.get(field)?;
        let parsed = value
            .as_f64()
            .and_then(|f| Decimal::try_from(f).ok())
            .filter(|d| !d.is_sign_negative());
        if parsed.is_none() {
            self.error(
                field,
                format!("{field} must be a number greater than or equal to 0."),
            );
        }
        parsed.map(|d| d.round_dp(4))
    }

    fn string(&mut self, field: &str, min: usize, max: usize) -> Option<String> {
        let value = self.get(field)?;
        match value.as_str() {
            Some(s) if (min..=max).contains(&s.chars().count()) => Some(s.to_string()),
            Some(_) => {
                self.error(
                    field,
                    format!("{field} must be {min} to {max} characters long."),
                );
                None
            }
            None => {
                self.error(field, format!("{field} must be a string."));
                None
            }
        }
    }

    fn boolean(&mut self, field: &str) -> Option<bool> {
        let value = self.get(field)?;
        let parsed = value.as_bool();
        if parsed.is_none() {
            self.error(field, format!("{field} must be a boolean."));
        }
        parsed
    }

    fn tracking(&mut self) -> Option<InventoryTracking> {
        let value = self.get("inventory_tracking")?;
        let parsed = match value.as_str() {
            Some("none") => Some(InventoryTracking::None),
            Some("product") => Some(InventoryTracking::Product),
            Some("variant") => Some(InventoryTracking::Variant),
            _ => None,
        };
        if parsed.is_none() {
            self.error(
                "inventory_tracking",
                "inventory_tracking must be one of none, product, variant.",
            );
        }
        parsed
    }
}

/// Parses a batch body: a JSON array of objects of at most `max` items.
fn batch_items(body: &Bytes, max: usize, noun: &str) -> Result<Vec<Map<String, Value>>, Response> {
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        v3_error(
            StatusCode::BAD_REQUEST,
            "Input is invalid: the request body is not valid JSON.",
            Map::new(),
        )
    })?;
    let Value::Array(items) = value else {
        return Err(unprocessable(
            TITLE_INVALID,
            "body",
            &format!("The request body must be an array of {noun}."),
        ));
    };
    if items.len() > max {
        return Err(v3_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "The request payload is too large. The maximum items allowed in the array is {max}."
            ),
            Map::new(),
        ));
    }
    if items.is_empty() {
        return Err(unprocessable(
            TITLE_INVALID,
            "body",
            &format!("The request body must contain at least one of the {noun} to update."),
        ));
    }
    let mut objects = Vec::with_capacity(items.len());
    let mut errors = Map::new();
    for (index, item) in items.into_iter().enumerate() {
        match item {
            Value::Object(object) => objects.push(object),
            _ => {
                errors.insert(
                    format!("{index}"),
                    json!("Each item must be a JSON object."),
                );
            }
        }
    }
    if !errors.is_empty() {
        return Err(v3_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            TITLE_INVALID,
            errors,
        ));
    }
    Ok(objects)
}

/// A SKU already used by another product's variant answers 409, as BigCommerce does for
/// "duplicate unique values, such as name or SKU".
fn sku_conflict(
    data: &StoreData,
    sku: &str,
    own_product: Option<u64>,
    own_variant: Option<u64>,
) -> bool {
    data.skus.get(sku).is_some_and(|at| {
        own_product.is_none_or(|p| at.product_id != p)
            && own_variant.is_none_or(|v| at.variant_id != v)
    })
}

async fn update_products(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(store) => store,
        Err(response) => return response,
    };
    let items = match batch_items(&body, PRODUCT_BATCH_MAX, "products") {
        Ok(items) => items,
        Err(response) => return response,
    };
    let mut errors = Map::new();
    let updates: Vec<Option<ProductUpdate>> = items
        .iter()
        .enumerate()
        .map(|(index, object)| {
            let mut item = Item {
                index: Some(index),
                object,
                errors: &mut errors,
            };
            let update = ProductUpdate {
                id: item.id().unwrap_or(0),
                inventory_level: item.level("inventory_level"),
                inventory_warning_level: item.level("inventory_warning_level"),
                inventory_tracking: item.tracking(),
                price: item.price("price"),
                name: item.string("name", 1, 250),
                sku: item.string("sku", 0, 255),
                is_visible: item.boolean("is_visible"),
            };
            (update.id > 0).then_some(update)
        })
        .collect();
    if !errors.is_empty() {
        return v3_error(StatusCode::UNPROCESSABLE_ENTITY, TITLE_INVALID, errors);
    }
    let updates: Vec<ProductUpdate> = updates.into_iter().flatten().collect();
    let fields = FieldSelection::parse(&params);
    let mut events = Vec::new();
    let rendered = {
        let mut data = store.data.write();
        let mut conflicts = Map::new();
        for (index, update) in updates.iter().enumerate() {
            if !data.products.contains_key(&update.id) {
                errors.insert(
                    format!("{index}.id"),
                    json!(format!("Product {} does not exist.", update.id)),
                );
            } else if let Some(sku) = update.sku.as_deref().filter(|s| !s.is_empty()) {
                if sku_conflict(&data, sku, Some(update.id), None) {
                    conflicts.insert(
                        format!("{index}.sku"),
                        json!(format!("Sku {sku} is not unique.")),
                    );
                }
            }
        }
        if !errors.is_empty() {
            return v3_error(StatusCode::UNPROCESSABLE_ENTITY, TITLE_INVALID, errors);
        }
        if !conflicts.is_empty() {
            return v3_error(
                StatusCode::CONFLICT,
                "The product conflicts with another product: duplicate SKU.",
                conflicts,
            );
        }
        for update in &updates {
            // Validated above, so this cannot fail half-way through the batch.
            if let Err(error) = data.update_product(update, &mut events) {
                tracing::error!(store.hash = %hash, product.id = update.id, %error.message, "validated product update failed");
            }
        }
        let sold = total_sold(&data);
        let none = Includes::default();
        updates
            .iter()
            .filter_map(|u| data.products.get(&u.id))
            .map(|p| fields.apply(render_product(p, &sold, &none), &[]))
            .collect::<Vec<_>>()
    };
    state.webhooks.publish(&store, events);
    json(StatusCode::OK, &json!({"data": rendered, "meta": {}}))
}

// ---------------------------------------------------------------------------------------------
// Variants.

async fn list_product_variants(
    State(state): State<AppState>,
    Path((hash, product_id)): Path<(String, String)>,
    Query(params): Params,
    RawQuery(raw): RawQuery,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(store) => store,
        Err(response) => return response,
    };
    let fields = FieldSelection::parse(&params);
    let page = PageRequest::from_params(&params, MAX_LIMIT);
    let body = {
        let data = store.data.read();
        let Some(product) = product_id
            .parse::<u64>()
            .ok()
            .and_then(|id| data.products.get(&id))
        else {
            return product_not_found();
        };
        let items: Vec<Value> = page
            .slice(&product.variants)
            .iter()
            .map(|v| fields.apply(render_variant(v, product), &[]))
            .collect();
        let meta = page.pagination(product.variants.len(), items.len(), raw.as_deref());
        json!({"data": items, "meta": {"pagination": meta}})
    };
    json(StatusCode::OK, &body)
}

async fn get_product_variant(
    State(state): State<AppState>,
    Path((hash, product_id, variant_id)): Path<(String, String, String)>,
    Query(params): Params,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(store) => store,
        Err(response) => return response,
    };
    let fields = FieldSelection::parse(&params);
    let body = {
        let data = store.data.read();
        let Some(product) = product_id
            .parse::<u64>()
            .ok()
            .and_then(|id| data.products.get(&id))
        else {
            return product_not_found();
        };
        let Some(variant) = variant_id
            .parse::<u64>()
            .ok()
            .and_then(|id| product.variants.iter().find(|v| v.id == id))
        else {
            return variant_not_found();
        };
        json!({"data": fields.apply(render_variant(variant, product), &[]), "meta": {}})
    };
    json(StatusCode::OK, &body)
}

async fn list_variants(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    Query(params): Params,
    RawQuery(raw): RawQuery,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(store) => store,
        Err(response) => return response,
    };
    let filters = (|| {
        Ok::<_, Response>((
            integer(&params, "id")?,
            id_list(&params, "id:in")?,
            id_list(&params, "product_id:in")?,
        ))
    })();
    let (id, id_in, product_in) = match filters {
        Ok(filters) => filters,
        Err(response) => return response,
    };
    let sku = params.get("sku");
    let sku_in = string_list(&params, "sku:in");
    let upc = params.get("upc");
    let fields = FieldSelection::parse(&params);
    let page = PageRequest::from_params(&params, MAX_LIMIT);
    let body = {
        let data = store.data.read();
        let mut variants: Vec<(&Variant, &Product)> = data
            .products
            .values()
            .filter(|p| product_in.as_ref().is_none_or(|ids| ids.contains(&p.id)))
            .flat_map(|p| p.variants.iter().map(move |v| (v, p)))
            .filter(|(v, _)| {
                id.is_none_or(|id| v.id as i64 == id)
                    && id_in.as_ref().is_none_or(|ids| ids.contains(&v.id))
                    && sku.is_none_or(|sku| &v.sku == sku)
                    && sku_in.as_ref().is_none_or(|skus| skus.contains(&v.sku))
                    && upc.is_none_or(|upc| &v.upc == upc)
            })
            .collect();
        variants.sort_by_key(|(v, _)| v.id);
        let items: Vec<Value> = page
            .slice(&variants)
            .iter()
            .map(|(v, p)| fields.apply(render_variant(v, p), &[]))
            .collect();
        let meta = page.pagination(variants.len(), items.len(), raw.as_deref());
        json!({"data": items, "meta": {"pagination": meta}})
    };
    json(StatusCode::OK, &body)
}

/// The variants batch `422`. The spec describes a `batch_errors` array for this endpoint while
/// the products batch answers a flat error object; since which one the live API sends is not
/// certain, the sandbox sends both: the flat fields and `batch_errors: [the same object]`.
fn variant_batch_error(status: StatusCode, title: &str, errors: Map<String, Value>) -> Response {
    let error = json!({
        "status": status.as_u16(),
        "title": title,
        "type": errors::STATUS_CODES_DOC,
        "errors": errors,
    });
    let mut body = error.clone();
    body["batch_errors"] = json!([error]);
    json(status, &body)
}

async fn update_variants(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(store) => store,
        Err(response) => return response,
    };
    let items = match batch_items(&body, VARIANT_BATCH_MAX, "variants") {
        Ok(items) => items,
        Err(response) => return response,
    };
    let mut errors = Map::new();
    let updates: Vec<Option<VariantUpdate>> = items
        .iter()
        .enumerate()
        .map(|(index, object)| {
            let mut item = Item {
                index: Some(index),
                object,
                errors: &mut errors,
            };
            let update = VariantUpdate {
                id: item.id().unwrap_or(0),
                inventory_level: item.level("inventory_level"),
                inventory_warning_level: item.level("inventory_warning_level"),
                price: item.price("price"),
                sku: item.string("sku", 1, 255),
            };
            (update.id > 0).then_some(update)
        })
        .collect();
    if !errors.is_empty() {
        return variant_batch_error(StatusCode::UNPROCESSABLE_ENTITY, TITLE_INVALID, errors);
    }
    let updates: Vec<VariantUpdate> = updates.into_iter().flatten().collect();
    let fields = FieldSelection::parse(&params);
    let mut events = Vec::new();
    let rendered = {
        let mut data = store.data.write();
        let owners: HashMap<u64, u64> = data
            .products
            .values()
            .flat_map(|p| p.variants.iter().map(|v| (v.id, p.id)))
            .collect();
        let mut conflicts = Map::new();
        for (index, update) in updates.iter().enumerate() {
            if !owners.contains_key(&update.id) {
                errors.insert(
                    format!("{index}.id"),
                    json!(format!("Variant {} does not exist.", update.id)),
                );
            } else if let Some(sku) = &update.sku {
                if sku_conflict(&data, sku, None, Some(update.id)) {
                    conflicts.insert(
                        format!("{index}.sku"),
                        json!(format!("Sku {sku} is not unique.")),
                    );
                }
            }
        }
        if !errors.is_empty() {
            return variant_batch_error(StatusCode::UNPROCESSABLE_ENTITY, TITLE_INVALID, errors);
        }
        if !conflicts.is_empty() {
            return variant_batch_error(
                StatusCode::CONFLICT,
                "The variant conflicts with another variant: duplicate SKU.",
                conflicts,
            );
        }
        for update in &updates {
            if let Err(error) = data.update_variant(update, &mut events) {
                tracing::error!(store.hash = %hash, variant.id = update.id, %error.message, "validated variant update failed");
            }
        }
        updates
            .iter()
            .filter_map(|u| {
                let product = data.products.get(owners.get(&u.id)?)?;
                let variant = product.variants.iter().find(|v| v.id == u.id)?;
                Some(fields.apply(render_variant(variant, product), &[]))
            })
            .collect::<Vec<_>>()
    };
    state.webhooks.publish(&store, events);
    json(StatusCode::OK, &json!({"data": rendered, "meta": {}}))
}

// ---------------------------------------------------------------------------------------------
// Single-resource updates: `PUT /catalog/products/{product_id}` and
// `PUT /catalog/products/{product_id}/variants/{variant_id}`. The same fields and rules as the
// batches (the store applies them with the same functions, so the same webhooks fire); errors
// name the field alone (`inventory_level`), not an item index.

/// Parses a single resource's body: one JSON object.
fn single_item(body: &Bytes, noun: &str) -> Result<Map<String, Value>, Response> {
    let value: Value = serde_json::from_slice(body).map_err(|_| {
        v3_error(
            StatusCode::BAD_REQUEST,
            "Input is invalid: the request body is not valid JSON.",
            Map::new(),
        )
    })?;
    match value {
        Value::Object(object) => Ok(object),
        _ => Err(unprocessable(
            TITLE_INVALID,
            "body",
            &format!("The request body must be a {noun} object."),
        )),
    }
}

async fn update_product(
    State(state): State<AppState>,
    Path((hash, product_id)): Path<(String, String)>,
    Query(params): Params,
    body: Bytes,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(store) => store,
        Err(response) => return response,
    };
    let Ok(id) = product_id.parse::<u64>() else {
        return product_not_found();
    };
    let object = match single_item(&body, "product") {
        Ok(object) => object,
        Err(response) => return response,
    };
    let mut errors = Map::new();
    let mut item = Item {
        index: None,
        object: &object,
        errors: &mut errors,
    };
    let update = ProductUpdate {
        id,
        inventory_level: item.level("inventory_level"),
        inventory_warning_level: item.level("inventory_warning_level"),
        inventory_tracking: item.tracking(),
        price: item.price("price"),
        name: item.string("name", 1, 250),
        sku: item.string("sku", 0, 255),
        is_visible: item.boolean("is_visible"),
    };
    if !errors.is_empty() {
        return v3_error(StatusCode::UNPROCESSABLE_ENTITY, TITLE_INVALID, errors);
    }
    let includes = Includes::parse(params.get("include"));
    let fields = FieldSelection::parse(&params);
    let mut events = Vec::new();
    let rendered = {
        let mut data = store.data.write();
        if !data.products.contains_key(&id) {
            return product_not_found();
        }
        if let Some(sku) = update.sku.as_deref().filter(|s| !s.is_empty()) {
            if sku_conflict(&data, sku, Some(id), None) {
                let mut conflicts = Map::new();
                conflicts.insert("sku".into(), json!(format!("Sku {sku} is not unique.")));
                return v3_error(
                    StatusCode::CONFLICT,
                    "The product conflicts with another product: duplicate SKU.",
                    conflicts,
                );
            }
        }
        if let Err(error) = data.update_product(&update, &mut events) {
            return unprocessable(TITLE_INVALID, "product", &error.message);
        }
        let sold = total_sold(&data);
        let product = &data.products[&id];
        fields.apply(
            render_product(product, &sold, &includes),
            &kept_includes(&includes),
        )
    };
    state.webhooks.publish(&store, events);
    json(StatusCode::OK, &json!({"data": rendered, "meta": {}}))
}

async fn update_product_variant(
    State(state): State<AppState>,
    Path((hash, product_id, variant_id)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let store = match store(&state, &hash) {
        Ok(store) => store,
        Err(response) => return response,
    };
    let Ok(product_id) = product_id.parse::<u64>() else {
        return product_not_found();
    };
    let Ok(variant_id) = variant_id.parse::<u64>() else {
        return variant_not_found();
    };
    let object = match single_item(&body, "variant") {
        Ok(object) => object,
        Err(response) => return response,
    };
    let mut errors = Map::new();
    let mut item = Item {
        index: None,
        object: &object,
        errors: &mut errors,
    };
    let update = VariantUpdate {
        id: variant_id,
        inventory_level: item.level("inventory_level"),
        inventory_warning_level: item.level("inventory_warning_level"),
        price: item.price("price"),
        sku: item.string("sku", 1, 255),
    };
    if !errors.is_empty() {
        return v3_error(StatusCode::UNPROCESSABLE_ENTITY, TITLE_INVALID, errors);
    }
    let mut events = Vec::new();
    let rendered = {
        let mut data = store.data.write();
        let Some(product) = data.products.get(&product_id) else {
            return product_not_found();
        };
        if !product.variants.iter().any(|v| v.id == variant_id) {
            return variant_not_found();
        }
        if let Some(sku) = &update.sku {
            if sku_conflict(&data, sku, None, Some(variant_id)) {
                let mut conflicts = Map::new();
                conflicts.insert("sku".into(), json!(format!("Sku {sku} is not unique.")));
                return v3_error(
                    StatusCode::CONFLICT,
                    "The variant conflicts with another variant: duplicate SKU.",
                    conflicts,
                );
            }
        }
        if let Err(error) = data.update_variant(&update, &mut events) {
            return unprocessable(TITLE_INVALID, "variant", &error.message);
        }
        let product = &data.products[&product_id];
        let variant = product
            .variants
            .iter()
            .find(|v| v.id == variant_id)
            .expect("checked above");
        Value::Object(render_variant(variant, product))
    };
    state.webhooks.publish(&store, events);
    json(StatusCode::OK, &json!({"data": rendered, "meta": {}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_links_keep_other_parameters_and_omit_missing_neighbours() {
        let page = PageRequest { page: 2, limit: 2 };
        let meta = page.pagination(5, 2, Some("include=variants&page=2&limit=2"));
        assert_eq!(meta["total_pages"], 3);
        assert_eq!(
            meta["links"]["previous"],
            "?include=variants&page=1&limit=2"
        );
        assert_eq!(meta["links"]["current"], "?include=variants&page=2&limit=2");
        assert_eq!(meta["links"]["next"], "?include=variants&page=3&limit=2");
        let first = PageRequest { page: 1, limit: 50 }.pagination(3, 3, None);
        assert_eq!(first["links"], json!({"current": "?page=1&limit=50"}));
    }

    #[test]
    fn dates_parse_as_unix_iso_and_bare_day_with_the_current_time() {
        let now = DateTime::parse_from_rfc3339("2025-03-01T10:20:30Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_date("1700000000", now).unwrap().timestamp(),
            1_700_000_000
        );
        assert_eq!(
            iso(parse_date("2025-01-15T00:03:17Z", now).unwrap()),
            "2025-01-15T00:03:17+00:00"
        );
        assert_eq!(
            iso(parse_date("2025-01-15T00:03:17-05:00", now).unwrap()),
            "2025-01-15T05:03:17+00:00"
        );
        assert_eq!(
            iso(parse_date("2025-01-15", now).unwrap()),
            "2025-01-15T10:20:30+00:00"
        );
        assert!(parse_date("yesterday", now).is_none());
    }

    #[test]
    fn numbers_render_whole_values_as_integers() {
        assert_eq!(number(Decimal::new(1000, 2)), json!(10));
        assert_eq!(number(Decimal::new(795, 2)), json!(7.95));
    }
}
