//! v3 webhooks (`/v3/hooks`). Hooks belong to the API account whose token lists them.

use reqwest::Method;

use super::{collect_pages, v3_pages};
use crate::client::Client;
use crate::error::Result;
use crate::http::Request;
use crate::models::hooks::{CreateHook, Hook, UpdateHook};
use crate::models::Envelope;

impl Client {
    /// `POST /v3/hooks`. Like every POST, never retried once it may have been sent.
    pub async fn create_hook(&self, hook: &CreateHook) -> Result<Hook> {
        let request = Request::new(Method::POST, "/v3/hooks").json(hook)?;
        let envelope: Envelope<Hook> = self.send_expecting(&request).await?;
        Ok(envelope.data)
    }

    /// `GET /v3/hooks`, all pages (an account has few hooks).
    pub async fn list_hooks(&self) -> Result<Vec<Hook>> {
        collect_pages(v3_pages(
            self.clone(),
            Request::get("/v3/hooks"),
            super::MAX_PAGE_SIZE,
            1,
        ))
        .await
    }

    /// `GET /v3/hooks/{id}`.
    pub async fn get_hook(&self, hook_id: u64) -> Result<Hook> {
        let envelope: Envelope<Hook> = self
            .send_expecting(&Request::get(format!("/v3/hooks/{hook_id}")))
            .await?;
        Ok(envelope.data)
    }

    /// `PUT /v3/hooks/{id}` (e.g. `is_active: true` to reactivate a deactivated hook).
    pub async fn update_hook(&self, hook_id: u64, update: &UpdateHook) -> Result<Hook> {
        let request = Request::new(Method::PUT, format!("/v3/hooks/{hook_id}")).json(update)?;
        let envelope: Envelope<Hook> = self.send_expecting(&request).await?;
        Ok(envelope.data)
    }

    /// `DELETE /v3/hooks/{id}`.
    pub async fn delete_hook(&self, hook_id: u64) -> Result<()> {
        let request = Request::new(Method::DELETE, format!("/v3/hooks/{hook_id}"));
        self.send::<serde_json::Value>(&request).await?;
        Ok(())
    }
}
