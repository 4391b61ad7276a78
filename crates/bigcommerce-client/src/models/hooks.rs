//! v3 webhooks (`webhooks.v3.yml`).
//!
//! A hook's `headers` are sent by BigCommerce with every callback and usually carry a shared
//! secret, so every type here has a hand-written `Debug` that prints header names only.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dates::de_opt_datetime;
use crate::money::{de_opt_bool, de_opt_string, de_u64};

fn redacted(headers: &Option<BTreeMap<String, String>>) -> Option<BTreeMap<&str, &str>> {
    headers
        .as_ref()
        .map(|map| map.keys().map(|key| (key.as_str(), "***")).collect())
}

/// A registered webhook (`webhook_Full`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    /// Hook id.
    #[serde(deserialize_with = "de_u64")]
    pub id: u64,
    /// The API account's client id that owns the hook.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub client_id: Option<String>,
    /// Store hash.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub store_hash: Option<String>,
    /// Event scope, e.g. `store/order/statusUpdated`.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub scope: Option<String>,
    /// Callback URL (port 443 only).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub destination: Option<String>,
    /// Whether BigCommerce sends callbacks (it deactivates a hook after 48 h of failures).
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub is_active: Option<bool>,
    /// Custom headers sent with every callback.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    /// Creation time (UNIX seconds on the wire).
    #[serde(default, deserialize_with = "de_opt_datetime")]
    pub created_at: Option<DateTime<Utc>>,
    /// Last update time (UNIX seconds on the wire).
    #[serde(default, deserialize_with = "de_opt_datetime")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hook")
            .field("id", &self.id)
            .field("client_id", &self.client_id)
            .field("store_hash", &self.store_hash)
            .field("scope", &self.scope)
            .field("destination", &self.destination)
            .field("is_active", &self.is_active)
            .field("headers", &redacted(&self.headers))
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// Body of `POST /v3/hooks`.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct CreateHook {
    /// Event scope, e.g. `store/order/*`.
    pub scope: String,
    /// Callback URL (HTTPS on port 443).
    pub destination: String,
    /// Whether the hook starts active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    /// Custom headers BigCommerce will send with every callback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
}

impl fmt::Debug for CreateHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateHook")
            .field("scope", &self.scope)
            .field("destination", &self.destination)
            .field("is_active", &self.is_active)
            .field("headers", &redacted(&self.headers))
            .finish()
    }
}

/// Body of `PUT /v3/hooks/{id}`. Only set fields are sent; at least one is required.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpdateHook {
    /// New scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// New destination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Activate or deactivate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    /// New custom headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
}

impl fmt::Debug for UpdateHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdateHook")
            .field("scope", &self.scope)
            .field("destination", &self.destination)
            .field("is_active", &self.is_active)
            .field("headers", &redacted(&self.headers))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Envelope;

    #[test]
    fn a_hook_is_parsed_with_epoch_times_and_debug_hides_header_values() {
        let envelope: Envelope<Hook> = serde_json::from_str(
            r#"{"data": {"id": 18048287, "client_id": "m9r6", "store_hash": "sftg45fsd",
                "scope": "store/order/created", "destination": "https://hub.example/webhooks",
                "is_active": true, "headers": {"X-Cenports-Key": "s3cr3t"},
                "created_at": 1561488106, "updated_at": 1561488106}, "meta": {}}"#,
        )
        .unwrap();
        let hook = envelope.data;
        assert_eq!(hook.id, 18048287);
        assert_eq!(hook.is_active, Some(true));
        assert_eq!(
            hook.created_at.unwrap().to_rfc3339(),
            "2019-06-25T18:41:46+00:00"
        );
        let printed = format!("{hook:?}");
        assert!(printed.contains("X-Cenports-Key"));
        assert!(!printed.contains("s3cr3t"));
    }

    #[test]
    fn a_hook_with_null_headers_is_parsed() {
        let hook: Hook =
            serde_json::from_str(r#"{"id": 1, "scope": "store/product/*", "headers": null}"#)
                .unwrap();
        assert_eq!(hook.headers, None);
    }
}
