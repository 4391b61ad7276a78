//! Small hand-made building blocks for tests and examples: a product, a variant, an address,
//! an order by SKU. The seeded generator ([`crate::generate`]) builds whole stores; these are
//! for tests that need to know exactly what is in the store.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;

use crate::model::{Address, InventoryTracking, OptionKind, OptionValue, Product, Variant};
use crate::store::{NewOrder, NewOrderLine};

/// A product priced 19.99, created 30 days ago; `add_product` assigns its ids.
pub fn product(
    name: &str,
    sku: &str,
    tracking: InventoryTracking,
    level: i64,
    variants: Vec<Variant>,
) -> Product {
    let at = Utc::now() - Duration::days(30);
    let at = DateTime::from_timestamp(at.timestamp(), 0).expect("a valid timestamp");
    Product {
        id: 0,
        name: name.to_string(),
        sku: sku.to_string(),
        price: Decimal::new(1999, 2),
        weight: Decimal::new(5, 1),
        inventory_tracking: tracking,
        inventory_level: level,
        inventory_warning_level: 0,
        is_visible: true,
        date_created: at,
        date_modified: at,
        variants,
    }
}

/// A variant of one option value (`Size` = `size`).
pub fn variant(sku: &str, size: &str, level: i64) -> Variant {
    Variant {
        id: 0,
        product_id: 0,
        sku: sku.to_string(),
        sku_id: None,
        price: None,
        weight: None,
        inventory_level: level,
        inventory_warning_level: 0,
        upc: String::new(),
        option_values: vec![OptionValue {
            id: 1,
            option_id: 1,
            option_display_name: "Size".to_string(),
            label: size.to_string(),
            kind: OptionKind::MultipleChoice,
        }],
    }
}

/// An address in Ottawa (`CA`) or Austin (any other country code).
pub fn address(first: &str, country_iso2: &str) -> Address {
    let canadian = country_iso2 == "CA";
    Address {
        first_name: first.to_string(),
        last_name: "Tremblay".to_string(),
        company: String::new(),
        street_1: "12 Rideau St".to_string(),
        street_2: String::new(),
        city: if canadian { "Ottawa" } else { "Austin" }.to_string(),
        state: if canadian { "Ontario" } else { "Texas" }.to_string(),
        zip: if canadian { "K1N 5W8" } else { "78701" }.to_string(),
        country: if canadian { "Canada" } else { "United States" }.to_string(),
        country_iso2: country_iso2.to_string(),
        phone: "613-555-0199".to_string(),
        email: format!("{}@example.com", first.to_lowercase()),
    }
}

/// An order of `lines` (SKU, quantity, index of the shipping address) shipping to
/// `addresses` Canadian addresses.
pub fn order(addresses: usize, lines: &[(&str, u32, usize)]) -> NewOrder {
    NewOrder {
        billing_address: Some(address("Marie", "CA")),
        shipping_addresses: (0..addresses)
            .map(|i| address(["Marie", "Luc", "Anne"][i % 3], "CA"))
            .collect(),
        lines: lines
            .iter()
            .map(|(sku, quantity, address_index)| NewOrderLine {
                sku: sku.to_string(),
                quantity: *quantity,
                address_index: *address_index,
                modifiers: Vec::new(),
            })
            .collect(),
        ..NewOrder::default()
    }
}
