//! `GET /v2/store` and `GET /v2/time` (scope: Information & Settings, read-only).

use chrono::{DateTime, TimeZone, Utc};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::http::Request;
use crate::models::store::{StoreInfo, StoreTime};

impl Client {
    /// `GET /v2/store`: the store's settings. A cheap way to validate credentials and scopes.
    pub async fn get_store(&self) -> Result<StoreInfo> {
        self.send_expecting(&Request::get("/v2/store")).await
    }

    /// `GET /v2/time`: BigCommerce's clock, to compute sync windows without trusting ours.
    pub async fn get_time(&self) -> Result<DateTime<Utc>> {
        let request = Request::get("/v2/time");
        let time: StoreTime = self.send_expecting(&request).await?;
        Utc.timestamp_opt(time.time, 0)
            .single()
            .ok_or_else(|| Error::Decode {
                method: request.method.clone(),
                endpoint: request.endpoint.clone(),
                message: format!("{} is not a valid UNIX time", time.time),
            })
    }
}
