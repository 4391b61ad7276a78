//! v2 store information and system time (`store_information.v2.yml`).

use serde::{Deserialize, Serialize};

use crate::money::{de_opt_bool, de_opt_i64, de_opt_string, de_opt_u64};

/// `GET /v2/store`: the store's global settings (the fields a hub shows or needs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreInfo {
    /// Store hash.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub id: Option<String>,
    /// Primary domain.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub domain: Option<String>,
    /// Storefront URL.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub secure_url: Option<String>,
    /// Control panel URL (`https://store-{hash}.mybigcommerce.com`).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub control_panel_base_url: Option<String>,
    /// `live`, `prelaunch`...
    #[serde(default, deserialize_with = "de_opt_string")]
    pub status: Option<String>,
    /// Store name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub name: Option<String>,
    /// Admin email.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub admin_email: Option<String>,
    /// Order notification email.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub order_email: Option<String>,
    /// Country name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub country: Option<String>,
    /// ISO country code.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub country_code: Option<String>,
    /// Time zone.
    #[serde(default)]
    pub timezone: Option<StoreTimezone>,
    /// Default currency code.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub currency: Option<String>,
    /// Weight unit (`Ounces`, `Grams`...).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub weight_units: Option<String>,
    /// Dimension unit.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub dimension_units: Option<String>,
    /// Plan name (the quota depends on it).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub plan_name: Option<String>,
    /// Plan level.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub plan_level: Option<String>,
    /// Whether the store is on a trial.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub plan_is_trial: Option<bool>,
    /// Numeric store id.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub store_id: Option<String>,
    /// Default channel id.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub default_channel_id: Option<u64>,
}

/// The store's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreTimezone {
    /// IANA name, e.g. `America/Chicago`.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub name: Option<String>,
    /// Offset from UTC in seconds.
    #[serde(default, deserialize_with = "de_opt_i64")]
    pub raw_offset: Option<i64>,
    /// Offset during daylight saving time in seconds.
    #[serde(default, deserialize_with = "de_opt_i64")]
    pub dst_offset: Option<i64>,
}

/// `GET /v2/time`: `{"time": 1529512970}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreTime {
    /// UNIX seconds.
    pub time: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_information_is_parsed() {
        let store: StoreInfo = serde_json::from_str(
            r#"{"id": "abc123", "domain": "my-awesome.store", "status": "live", "name": "BigCommerce",
                "timezone": {"name": "America/Chicago", "raw_offset": -21600, "dst_offset": -18000,
                             "dst_correction": true},
                "currency": "USD", "weight_units": "Ounces", "plan_name": "Standard",
                "plan_is_trial": false, "store_id": 4884484848484, "default_channel_id": 1,
                "features": {"stencil_enabled": true}}"#,
        )
        .unwrap();
        assert_eq!(store.id.as_deref(), Some("abc123"));
        assert_eq!(store.store_id.as_deref(), Some("4884484848484"));
        assert_eq!(store.timezone.unwrap().raw_offset, Some(-21600));
    }
}
