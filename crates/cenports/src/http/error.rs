//! How the API answers a service's error: with the one JSON error envelope of the HTTP edge
//! ([`crate::edge::error`]).

use crate::edge::error::{ApiError, ErrorCode};
use crate::fulfilment::TrackingProblem;
use crate::service::ServiceError;

/// A service's error as the API answers it: the not-found variants are the 404 of their kind
/// (whose message points to the list to pick from), the other 4xx keep the service's message,
/// and a database or payload failure is a 500 whose cause is logged here.
impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::StoreNotFound => Self::store_not_found(),
            ServiceError::OrderNotFound => Self::order_not_found(),
            ServiceError::ShipmentNotFound => Self::shipment_not_found(),
            ServiceError::StoreDisconnected => {
                Self::new(ErrorCode::StoreDisconnected, error.to_string())
            }
            ServiceError::ShipmentDelivered => {
                Self::new(ErrorCode::ShipmentDelivered, error.to_string())
            }
            ServiceError::InvalidQuery(message) => Self::new(ErrorCode::InvalidQuery, message),
            ServiceError::Invalid(message) => Self::validation(message),
            ServiceError::Tracking(problem) => {
                let message = problem.describe("tracking_number", "tracking_link");
                match problem {
                    // Documented as `shipment_rejected` since the first version.
                    TrackingProblem::NumberMissing | TrackingProblem::NumberTooLong { .. } => {
                        Self::new(ErrorCode::ShipmentRejected, message)
                    }
                    _ => Self::validation(message),
                }
            }
            ServiceError::ShipmentRejected(reason) => {
                Self::new(ErrorCode::ShipmentRejected, reason)
            }
            ServiceError::IdempotencyKeyRequired => {
                Self::new(ErrorCode::IdempotencyKeyRequired, error.to_string())
            }
            ServiceError::IdempotencyKeyInvalid => {
                Self::new(ErrorCode::IdempotencyKeyInvalid, error.to_string())
            }
            ServiceError::IdempotencyKeyReused => {
                Self::new(ErrorCode::IdempotencyKeyReused, error.to_string())
            }
            ServiceError::BatchRefused(refusal) => {
                Self::new(ErrorCode::BatchRefused, refusal.to_string())
            }
            ServiceError::SubscriptionNotFound => Self::subscription_not_found(),
            ServiceError::DeliveryNotFound => Self::delivery_not_found(),
            ServiceError::Storage(error) => Self::from(error),
            ServiceError::Fulfilment(error) => Self::internal(&error),
            ServiceError::Channel(error) => Self::internal(&error),
        }
    }
}
