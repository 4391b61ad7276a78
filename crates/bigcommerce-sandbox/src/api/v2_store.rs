//! Store information v2: `GET /v2/store` and `GET /v2/time`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::json;

use super::errors::v2_error;
use super::{json, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/store", get(get_store))
        .route("/v2/time", get(get_time))
}

async fn get_store(State(state): State<AppState>, Path(hash): Path<String>) -> Response {
    let Some(store) = state.store(&hash) else {
        return v2_error(
            StatusCode::NOT_FOUND,
            "The requested resource was not found.",
            None,
        );
    };
    let data = store.data.read();
    let p = &data.profile;
    let offset_hours = p.timezone_raw_offset / 3600;
    json(
        StatusCode::OK,
        &json!({
            "id": p.id,
            "account_uuid": format!("00000000-0000-4000-8000-{:0>12}", &p.id[..p.id.len().min(12)]),
            "domain": p.domain,
            "secure_url": format!("https://{}", p.domain),
            "control_panel_base_url": format!("https://store-{}.mybigcommerce.com", p.id),
            "status": "live",
            "name": p.name,
            "first_name": "Sandbox",
            "last_name": "Merchant",
            "address": p.address,
            "country": p.country,
            "country_code": p.country_code,
            "infrastructure_region": "us-central1",
            "phone": p.phone,
            "admin_email": p.admin_email,
            "order_email": p.order_email,
            "favicon_url": "",
            "timezone": {
                "name": p.timezone_name,
                "raw_offset": p.timezone_raw_offset,
                "dst_offset": p.timezone_raw_offset + 3600,
                "dst_correction": true,
                "date_format": {
                    "display": "M jS Y",
                    "export": "M jS Y",
                    "extended_display": "M jS Y @ g:i A",
                },
            },
            "language": "en",
            "currency": p.currency,
            "currency_symbol": p.currency_symbol,
            "decimal_separator": ".",
            "thousands_separator": ",",
            "decimal_places": 2,
            "currency_symbol_location": "left",
            "weight_units": p.weight_units,
            "dimension_units": p.dimension_units,
            "dimension_decimal_places": 2,
            "dimension_decimal_token": ".",
            "dimension_thousands_token": ",",
            "plan_name": p.plan_name,
            "plan_level": p.plan_level,
            "plan_is_trial": false,
            "industry": "Retail",
            "logo": [],
            "is_price_entered_with_tax": false,
            "store_id": 1_000_000 + (offset_hours.unsigned_abs() as i64),
            "default_channel_id": 1,
            "default_site_id": 1000,
            "active_comparison_modules": [],
            "features": {
                "stencil_enabled": true,
                "sitewidehttps_enabled": true,
                "facebook_catalog_id": "",
                "checkout_type": "optimized",
                "wishlists_enabled": false,
                "graphql_storefront_api_enabled": true,
                "shopper_consent_tracking_enabled": false,
                "multi_storefront_enabled": false,
                "storefront_limits": {"active": 1, "total_including_inactive": 1},
            },
        }),
    )
}

async fn get_time() -> Response {
    json(
        StatusCode::OK,
        &json!({"time": chrono::Utc::now().timestamp()}),
    )
}
