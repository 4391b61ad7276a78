//! Stores: the tenancy check every store-level service starts with.

use super::{AppState, ServiceError};
use crate::accounts::StoreAccess;
use crate::storage::{StoreId, StoreScope};

/// The scope of a store for a caller who reaches `access`: [`ServiceError::StoreNotFound`] when
/// it does not exist or is not the caller's (the owner is checked in SQL for merchants), so
/// another tenant's store is the same "not found" as an id that never existed.
pub async fn scope_for(
    state: &AppState,
    access: StoreAccess,
    store_id: i64,
) -> Result<StoreScope, ServiceError> {
    if store_id <= 0 {
        return Err(ServiceError::StoreNotFound);
    }
    Ok(state
        .storage
        .store_scope_for(access, StoreId::from_raw(store_id))
        .await?)
}
