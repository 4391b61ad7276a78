//! Seeded generation of a seller account: listings, and a history of orders whose statuses
//! follow their age (old orders shipped or cancelled, recent ones waiting for payment or for
//! the seller), about one in six fulfilled by Amazon, buyers and addresses across Canada.
//! The same seed and the same `now` give the same account.

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::account::SellerAccount;
use crate::model::{
    Address, Buyer, FulfillmentChannel, Listing, Order, OrderItem, OrderStatus, Package,
    PackageItem,
};

const ADJECTIVES: &[&str] = &[
    "Trail", "Harbour", "Maple", "Northern", "Cedar", "Glacier", "Prairie", "Lakeside", "Birch",
    "Summit",
];
const PRODUCTS: &[(&str, &str, i64)] = &[
    ("Mug", "KITCHEN", 1899),
    ("Wool Socks", "APPAREL", 1499),
    ("Canvas Tote", "LUGGAGE", 2999),
    ("Notebook", "OFFICE_PRODUCTS", 999),
    ("Water Bottle", "KITCHEN", 2499),
    ("Toque", "APPAREL", 2299),
    ("Headlamp", "SPORTING_GOODS", 3999),
    ("Blanket", "HOME", 6999),
];
const FIRST_NAMES: &[&str] = &[
    "Amelia", "Liam", "Chloe", "Noah", "Maya", "Ethan", "Sofia", "Lucas", "Olivia", "Mateo",
];
const LAST_NAMES: &[&str] = &[
    "Tremblay", "Gagnon", "Roy", "Smith", "Brown", "Wilson", "Martin", "Lee", "Nguyen", "Singh",
];
/// (city, province, postal code prefix)
const CITIES: &[(&str, &str, &str)] = &[
    ("Ottawa", "ON", "K1N"),
    ("Toronto", "ON", "M5V"),
    ("Montréal", "QC", "H2X"),
    ("Vancouver", "BC", "V6B"),
    ("Calgary", "AB", "T2P"),
    ("Halifax", "NS", "B3H"),
    ("Winnipeg", "MB", "R3C"),
    ("Regina", "SK", "S4P"),
];
const STREETS: &[&str] = &[
    "Rideau St",
    "King St W",
    "Rue Sainte-Catherine",
    "Granville St",
    "Stephen Ave",
    "Barrington St",
    "Portage Ave",
    "Albert St",
];
const CANCEL_REASONS: &[&str] = &[
    "Found cheaper somewhere else.",
    "Ordered by mistake.",
    "Delivery date too late.",
];

/// An order id in Amazon's 3-7-7 form, e.g. `702-3159896-1390916`.
pub fn order_id(rng: &mut ChaCha8Rng) -> String {
    const PREFIXES: &[&str] = &["701", "702", "703", "902", "903", "111", "112", "113"];
    format!(
        "{}-{:07}-{:07}",
        PREFIXES[rng.gen_range(0..PREFIXES.len())],
        rng.gen_range(0..10_000_000u32),
        rng.gen_range(0..10_000_000u32)
    )
}

/// An order line for `quantity` of `listing`, priced from it (13% tax, shipping per unit).
pub fn item_for(listing: &Listing, quantity: u32, order_item_id: String) -> OrderItem {
    let price = listing.price_cents * i64::from(quantity);
    let shipping = 499 * i64::from(quantity);
    OrderItem {
        order_item_id,
        asin: listing.asin.clone(),
        seller_sku: listing.sku.clone(),
        title: listing.item_name.clone(),
        quantity_ordered: quantity,
        quantity_shipped: 0,
        item_price_cents: price,
        shipping_price_cents: shipping,
        item_tax_cents: (price + shipping) * 13 / 100,
    }
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, from: &'a [T]) -> &'a T {
    &from[rng.gen_range(0..from.len())]
}

/// A buyer and an address drawn at random.
fn buyer_and_address(rng: &mut ChaCha8Rng) -> (Buyer, Address) {
    let first = pick(rng, FIRST_NAMES);
    let last = pick(rng, LAST_NAMES);
    let (city, province, prefix) = *pick(rng, CITIES);
    let relay: String = (0..14)
        .map(|_| (b'a' + rng.gen_range(0..26u8)) as char)
        .collect();
    let buyer = Buyer {
        email: format!("{relay}@marketplace.amazon.ca"),
        name: format!("{first} {last}"),
    };
    let letters = b"ABCEGHJKLMNPRSTVWXYZ";
    let address = Address {
        name: format!("{first} {last}"),
        address_line1: format!("{} {}", rng.gen_range(1..2000), pick(rng, STREETS)),
        address_line2: rng
            .gen_bool(0.2)
            .then(|| format!("Apt {}", rng.gen_range(1..40))),
        city: city.to_string(),
        state_or_region: province.to_string(),
        postal_code: format!(
            "{prefix} {}{}{}",
            rng.gen_range(0..10),
            letters[rng.gen_range(0..letters.len())] as char,
            rng.gen_range(0..10)
        ),
        country_code: "CA".to_string(),
        phone: Some(format!("+1 613-555-{:04}", rng.gen_range(0..10_000))),
        residential: rng.gen_bool(0.9),
    };
    (buyer, address)
}

/// A new order around `items`: buyer, address, service level and ship-by window drawn at
/// random; status Pending, nothing shipped.
pub fn order_shell(
    rng: &mut ChaCha8Rng,
    marketplace_id: &str,
    currency: &str,
    amazon_order_id: String,
    purchase: DateTime<Utc>,
    channel: FulfillmentChannel,
    items: Vec<OrderItem>,
) -> Order {
    let (buyer, address) = buyer_and_address(rng);
    let expedited = rng.gen_bool(0.15);
    Order {
        amazon_order_id,
        marketplace_id: marketplace_id.to_string(),
        currency: currency.to_string(),
        purchase_date: purchase,
        last_update_date: purchase,
        status: OrderStatus::Pending,
        fulfillment_channel: channel,
        ship_service_level: if expedited {
            "Exp CA D2D Dom"
        } else {
            "Std CA D2D Dom"
        }
        .to_string(),
        shipment_service_level_category: if expedited { "Expedited" } else { "Standard" }
            .to_string(),
        is_prime: channel == FulfillmentChannel::Afn || rng.gen_bool(0.1),
        is_business_order: rng.gen_bool(0.05),
        earliest_ship_date: purchase,
        latest_ship_date: purchase + Duration::days(if expedited { 1 } else { 2 }),
        items,
        buyer,
        address,
        packages: Vec::new(),
        buyer_cancel_reason: None,
    }
}

/// Adds `listings` listings and `orders` historical orders (spread over the 30 days before
/// `now`) to the account.
pub fn populate(
    account: &mut SellerAccount,
    seed: u64,
    listings: usize,
    orders: usize,
    now: DateTime<Utc>,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0ade_0001);
    let start = now - Duration::days(30);
    for n in 0..listings {
        let (noun, product_type, price) = PRODUCTS[n % PRODUCTS.len()];
        let adjective = ADJECTIVES[(n / PRODUCTS.len()) % ADJECTIVES.len()];
        let asin: String = std::iter::once('B')
            .chain((0..9).map(|_| {
                let alphabet = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
                alphabet[rng.gen_range(0..alphabet.len())] as char
            }))
            .collect();
        let sku = format!(
            "{}-{}-{:03}",
            &adjective[..3].to_ascii_uppercase(),
            noun.split(' ').next_back().unwrap_or(noun)[..3].to_ascii_uppercase(),
            n + 1
        );
        let quantity = match rng.gen_range(0..10) {
            0 => 0,
            1 => rng.gen_range(1..4),
            _ => rng.gen_range(10..200),
        };
        account.listings.insert(
            sku.clone(),
            Listing {
                sku,
                asin,
                product_type: product_type.to_string(),
                item_name: format!("{adjective} {noun}"),
                price_cents: price + 100 * (n as i64 % 3),
                quantity,
                created: start - Duration::days(60),
                last_updated: start,
            },
        );
    }
    if account.listings.is_empty() {
        return;
    }
    let catalog: Vec<Listing> = account.listings.values().cloned().collect();
    let span = (now - start).num_seconds().max(1);
    let mut times: Vec<DateTime<Utc>> = (0..orders)
        .map(|_| start + Duration::seconds(rng.gen_range(0..span)))
        .collect();
    times.sort();
    for purchase in times {
        let channel = if rng.gen_bool(0.17) {
            FulfillmentChannel::Afn
        } else {
            FulfillmentChannel::Mfn
        };
        let lines = match rng.gen_range(0..10) {
            0..=6 => 1,
            7 | 8 => 2,
            _ => rng.gen_range(3..6),
        };
        let mut items = Vec::new();
        for _ in 0..lines {
            let listing = pick(&mut rng, &catalog).clone();
            if items
                .iter()
                .any(|i: &OrderItem| i.seller_sku == listing.sku)
            {
                continue;
            }
            let quantity = if rng.gen_bool(0.8) {
                1
            } else {
                rng.gen_range(2..4)
            };
            let id = account.next_order_item_id();
            items.push(item_for(&listing, quantity, id));
        }
        let id = account.next_order_id();
        let mut order = order_shell(
            &mut rng,
            &account.marketplace_id,
            &account.currency,
            id,
            purchase,
            channel,
            items,
        );
        settle_history(&mut rng, &mut order, now);
        account.insert(order);
    }
}

/// Gives a generated order the status and shipments its age makes likely.
fn settle_history(rng: &mut ChaCha8Rng, order: &mut Order, now: DateTime<Utc>) {
    let age = now - order.purchase_date;
    let paid_at = (order.purchase_date + Duration::minutes(rng.gen_range(1..30))).min(now);
    let roll = rng.gen_range(0..100);
    let status = if age < Duration::hours(1) && roll < 50 {
        OrderStatus::Pending
    } else if age < Duration::days(2) {
        match roll {
            0..=4 => OrderStatus::Canceled,
            5..=9 => OrderStatus::PartiallyShipped,
            10..=44 => OrderStatus::Shipped,
            _ => OrderStatus::Unshipped,
        }
    } else {
        match roll {
            0..=6 => OrderStatus::Canceled,
            7 => OrderStatus::PartiallyShipped,
            8..=9 => OrderStatus::Unshipped,
            _ => OrderStatus::Shipped,
        }
    };
    let status = match (status, order.fulfillment_channel) {
        // Amazon ships its whole order at once.
        (OrderStatus::PartiallyShipped, FulfillmentChannel::Afn) => OrderStatus::Shipped,
        (OrderStatus::PartiallyShipped, _)
            if order.items.len() == 1 && order.items[0].quantity_ordered == 1 =>
        {
            OrderStatus::Unshipped
        }
        (status, _) => status,
    };
    order.status = status;
    order.last_update_date = match status {
        OrderStatus::Pending => order.purchase_date,
        _ => paid_at,
    };
    if status == OrderStatus::Canceled && rng.gen_bool(0.5) {
        order.buyer_cancel_reason = Some(pick(rng, CANCEL_REASONS).to_string());
    }
    if matches!(status, OrderStatus::Shipped | OrderStatus::PartiallyShipped) {
        let shipped_at = (paid_at + Duration::hours(rng.gen_range(2..40))).min(now);
        let lines = order.items.len();
        let mut package_items = Vec::new();
        for (n, item) in order.items.iter_mut().enumerate() {
            // A partial shipment: the first line of several, or all but one unit of one line.
            let quantity = match status {
                OrderStatus::Shipped => item.quantity_ordered,
                _ if lines > 1 => {
                    if n == 0 {
                        item.quantity_ordered
                    } else {
                        0
                    }
                }
                _ => item.quantity_ordered - 1,
            };
            if quantity > 0 {
                item.quantity_shipped = quantity;
                package_items.push(PackageItem {
                    order_item_id: item.order_item_id.clone(),
                    quantity,
                });
            }
        }
        let afn = order.fulfillment_channel == FulfillmentChannel::Afn;
        order.packages.push(Package {
            package_reference_id: "1".to_string(),
            carrier_code: if afn { "AMZN_CA" } else { "Canada Post" }.to_string(),
            carrier_name: Some(
                if afn {
                    "Amazon Shipping"
                } else {
                    "Canada Post"
                }
                .to_string(),
            ),
            shipping_method: Some(if afn { "Standard" } else { "Expedited Parcel" }.to_string()),
            tracking_number: format!("{:016}", rng.gen_range(0..10_000_000_000_000_000u64)),
            ship_date: shipped_at,
            items: package_items,
            confirmed_at: shipped_at,
        });
        order.last_update_date = shipped_at;
        if order.items_unshipped() == 0 {
            order.status = OrderStatus::Shipped;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MARKETPLACE_CA;

    fn build(seed: u64) -> SellerAccount {
        let now = crate::clock::parse_iso("2025-03-01T12:00:00Z").unwrap();
        let mut account = SellerAccount::new("A1", MARKETPLACE_CA, "CAD", seed);
        populate(&mut account, seed, 20, 500, now);
        account
    }

    #[test]
    fn the_same_seed_gives_the_same_account() {
        let a = build(4);
        let b = build(4);
        assert_eq!(a.orders(), b.orders());
        assert_ne!(
            a.orders()[0].amazon_order_id,
            build(5).orders()[0].amazon_order_id
        );
    }

    #[test]
    fn generated_orders_are_consistent() {
        let account = build(9);
        let mut statuses = std::collections::HashSet::new();
        let mut afn = 0;
        for order in account.orders() {
            statuses.insert(order.status);
            let id = &order.amazon_order_id;
            assert_eq!(id.len(), 19, "{id}");
            assert!(order.last_update_date >= order.purchase_date);
            assert!(!order.items.is_empty());
            let shipped = order.items_shipped();
            match order.status {
                OrderStatus::Shipped => assert_eq!(order.items_unshipped(), 0),
                OrderStatus::PartiallyShipped => {
                    assert!(shipped > 0 && order.items_unshipped() > 0)
                }
                _ => assert_eq!(shipped, 0, "{order:?}"),
            }
            if order.fulfillment_channel == FulfillmentChannel::Afn {
                afn += 1;
            }
        }
        assert!(statuses.contains(&OrderStatus::Shipped));
        assert!(statuses.contains(&OrderStatus::Canceled));
        assert!(statuses.contains(&OrderStatus::Unshipped));
        assert!(afn > 30 && afn < 150, "{afn}");
    }
}
