//! The seeded generator of a living store (stub: being written).

use crate::store::StoreData;

/// Fills `data` with `products` products and `orders` historical orders, deterministically
/// from `seed`.
pub fn populate(_data: &mut StoreData, _seed: u64, _products: usize, _orders: usize) {}
