//! The seeded generator of a living store: a catalog and a history of orders that look like a
//! small Canadian merchant's (apparel, home goods, gear and pantry items; shoppers in Canada and
//! the United States).
//!
//! Everything comes from one [`ChaCha8Rng`] seeded with the store's seed, and the store is
//! built through [`StoreData`]'s own rules (`add_product`, `place_order`, `create_shipment`), so
//! the same seed gives the same store byte for byte, and the history obeys the same rules as
//! orders placed later over HTTP. Only dates move: they are "now" minus generated offsets (in
//! whole seconds), so a store built today has orders from the past year rather than from a
//! fixed calendar date. [`populate_at`] takes "now" explicitly for tests.
//!
//! What the catalog exercises: all three inventory tracking modes (about half the products
//! track stock per variant, a third per product, the rest not at all), 2–6 variants from Size,
//! Colour, Scent... options with their own SKUs, and stock levels of which some are low and a
//! few are zero. What the history exercises: orders of 1–4 lines mostly, about one in 25,000
//! (and always the 500th) with 51–80 lines (beyond the 50 line items BigCommerce embeds per
//! consignment; rare, as B2B-sized orders are, so imports stay near one request per 250), about
//! one in 20 shipping to 2–3 addresses, shipments with carriers and tracking numbers, and the
//! spread of statuses an integration meets: most old orders shipped or completed, recent ones
//! awaiting fulfillment, and the cancelled, refunded, unpaid and held ones in between.
//!
//! Speed matters: benchmarks build stores of 100,000 orders. The name and address tables are
//! static, an order is drawn without building any index of the catalog (products are picked by
//! id range), and the event buffer the store's rules fill is reused and thrown away: history
//! fires no webhooks.

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use crate::model::{status, Address, InventoryTracking, OptionKind, OptionValue, Product, Variant};
use crate::store::{self, Event, NewOrder, NewOrderLine, NewShipment, StoreData};

/// Fills `data` with `products` products and `orders` historical orders, deterministically
/// from `seed`, with dates relative to the current time.
///
/// The history ends a minute before now: it is the past, and a client that (rightly) lets the
/// store settle for a few seconds before reading a time window sees all of it at once. What
/// happens from now on comes from live mode, the control API or the tests.
pub fn populate(data: &mut StoreData, seed: u64, products: usize, orders: usize) {
    populate_at(
        data,
        seed,
        products,
        orders,
        store::now() - chrono::Duration::seconds(HISTORY_ENDS_BEFORE_NOW_SECS),
    );
}

/// How long before "now" the generated history ends.
pub const HISTORY_ENDS_BEFORE_NOW_SECS: i64 = 60;

/// [`populate`] with an explicit "now" (whole seconds): the same arguments give the same store.
pub fn populate_at(
    data: &mut StoreData,
    seed: u64,
    products: usize,
    orders: usize,
    now: DateTime<Utc>,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let planned_levels = add_catalog(&mut rng, data, products, now);
    add_history(&mut rng, data, orders, now);
    take_stock(data, &planned_levels);
}

// ---------------------------------------------------------------------------------------------
// Catalog
// ---------------------------------------------------------------------------------------------

/// An option products can vary by; values are (label, SKU code).
struct OptionDef {
    name: &'static str,
    /// Colours are swatches; the others rectangles (multiple choice).
    kind: OptionKind,
    values: &'static [(&'static str, &'static str)],
}

#[rustfmt::skip]
const SIZE: OptionDef = OptionDef {
    name: "Size",
    kind: OptionKind::MultipleChoice,
    values: &[
        ("XS", "XS"), ("S", "S"), ("M", "M"), ("L", "L"), ("XL", "XL"), ("XXL", "XXL"),
    ],
};
#[rustfmt::skip]
const SHOE_SIZE: OptionDef = OptionDef {
    name: "Size",
    kind: OptionKind::MultipleChoice,
    values: &[
        ("7", "7"), ("8", "8"), ("9", "9"), ("10", "10"), ("11", "11"), ("12", "12"),
    ],
};
#[rustfmt::skip]
const COLOUR: OptionDef = OptionDef {
    name: "Colour",
    kind: OptionKind::Swatch,
    values: &[
        ("Black", "BLK"), ("Navy", "NVY"), ("Heather Grey", "GRY"), ("Forest Green", "GRN"),
        ("Red", "RED"), ("Oatmeal", "OAT"), ("White", "WHT"),
    ],
};
#[rustfmt::skip]
const SCENT: OptionDef = OptionDef {
    name: "Scent",
    kind: OptionKind::MultipleChoice,
    values: &[
        ("Cedar & Sage", "CDS"), ("Balsam Fir", "BAL"), ("Lavender", "LAV"), ("Sea Salt", "SEA"),
        ("Unscented", "UNS"),
    ],
};
#[rustfmt::skip]
const WEIGHT: OptionDef = OptionDef {
    name: "Weight",
    kind: OptionKind::MultipleChoice,
    values: &[
        ("50 g", "50G"), ("100 g", "100G"), ("250 g", "250G"), ("500 g", "500G"),
    ],
};
#[rustfmt::skip]
const VOLUME: OptionDef = OptionDef {
    name: "Volume",
    kind: OptionKind::MultipleChoice,
    values: &[
        ("250 ml", "250ML"), ("500 ml", "500ML"), ("1 L", "1L"), ("4 L", "4L"),
    ],
};
#[rustfmt::skip]
const PAPER: OptionDef = OptionDef {
    name: "Paper",
    kind: OptionKind::MultipleChoice,
    values: &[
        ("Ruled", "RUL"), ("Dotted", "DOT"), ("Blank", "BLK"), ("Grid", "GRD"),
    ],
};
#[rustfmt::skip]
const CAPACITY: OptionDef = OptionDef {
    name: "Capacity",
    kind: OptionKind::MultipleChoice,
    values: &[("500 ml", "500"), ("750 ml", "750"), ("1 L", "1000")],
};

/// A kind of product: its noun, SKU code, styles (name prefix, SKU code), price range in whole
/// dollars, weight range in grams and the options its variants differ by.
struct Kind {
    noun: &'static str,
    code: &'static str,
    styles: &'static [(&'static str, &'static str)],
    dollars: (i64, i64),
    grams: (i64, i64),
    options: &'static [&'static OptionDef],
}

#[rustfmt::skip]
const APPAREL: &[(&str, &str)] = &[
    ("Merino Wool", "MER"), ("Organic Cotton", "ORG"), ("Recycled", "REC"), ("Classic", "CLS"),
    ("Alpine", "ALP"), ("Heritage", "HER"), ("Everyday", "EVD"), ("Fleece-Lined", "FLC"),
    ("Bamboo", "BAM"),
];
#[rustfmt::skip]
const HOME: &[(&str, &str)] = &[
    ("Cedar", "CED"), ("Stoneware", "STN"), ("Handmade", "HND"), ("Rustic", "RST"),
    ("Nordic", "NRD"), ("Linen", "LIN"), ("Enamel", "ENM"), ("Walnut", "WAL"),
];
#[rustfmt::skip]
const GEAR: &[(&str, &str)] = &[
    ("Trail", "TRL"), ("Urban", "URB"), ("Expedition", "EXP"), ("Compact", "CMP"),
    ("Insulated", "INS"), ("Waterproof", "WPF"), ("Ultralight", "ULT"), ("Commuter", "CMT"),
];
#[rustfmt::skip]
const TEAS: &[(&str, &str)] = &[
    ("Earl Grey", "EGR"), ("Masala Chai", "CHI"), ("Peppermint", "PPM"), ("Sencha Green", "SEN"),
    ("Rooibos", "RBS"), ("Labrador", "LAB"),
];
#[rustfmt::skip]
const COFFEES: &[(&str, &str)] = &[
    ("Dark Roast", "DRK"), ("Medium Roast", "MED"), ("Espresso", "ESP"),
    ("Swiss Water Decaf", "DCF"),
];
#[rustfmt::skip]
const SYRUPS: &[(&str, &str)] = &[
    ("Golden Maple", "GLD"), ("Amber Maple", "AMB"), ("Dark Maple", "DRK"),
    ("Very Dark Maple", "VDK"),
];

const fn kind(
    noun: &'static str,
    code: &'static str,
    styles: &'static [(&'static str, &'static str)],
    dollars: (i64, i64),
    grams: (i64, i64),
    options: &'static [&'static OptionDef],
) -> Kind {
    Kind {
        noun,
        code,
        styles,
        dollars,
        grams,
        options,
    }
}

#[rustfmt::skip]
const KINDS: &[Kind] = &[
    kind("Socks", "SOCK", APPAREL, (9, 29), (60, 150), &[&SIZE, &COLOUR]),
    kind("T-Shirt", "TEE", APPAREL, (19, 45), (150, 250), &[&SIZE, &COLOUR]),
    kind("Hoodie", "HOOD", APPAREL, (49, 119), (450, 800), &[&SIZE, &COLOUR]),
    kind("Beanie", "BEAN", APPAREL, (19, 39), (80, 150), &[&COLOUR]),
    kind("Mittens", "MITT", APPAREL, (24, 59), (100, 200), &[&SIZE, &COLOUR]),
    kind("Scarf", "SCRF", APPAREL, (29, 89), (150, 300), &[&COLOUR]),
    kind("Rain Jacket", "JKT", GEAR, (99, 289), (350, 700), &[&SIZE, &COLOUR]),
    kind("Hiking Boots", "BOOT", GEAR, (129, 259), (900, 1500), &[&SHOE_SIZE, &COLOUR]),
    kind("Backpack", "BPK", GEAR, (59, 199), (600, 1400), &[&COLOUR]),
    kind("Water Bottle", "BTL", GEAR, (19, 49), (250, 450), &[&CAPACITY, &COLOUR]),
    kind("Headlamp", "LAMP", GEAR, (29, 89), (80, 160), &[&COLOUR]),
    kind("Coffee Mug", "MUG", HOME, (14, 39), (300, 450), &[&COLOUR]),
    kind("Candle", "CNDL", HOME, (18, 48), (250, 600), &[&SCENT]),
    kind("Cutting Board", "BRD", HOME, (35, 129), (800, 2200), &[]),
    kind("Throw Blanket", "BLKT", HOME, (59, 179), (900, 1800), &[&COLOUR]),
    kind("Tote Bag", "TOTE", HOME, (15, 45), (120, 300), &[&COLOUR]),
    kind("Notebook", "NOTE", HOME, (9, 32), (200, 400), &[&PAPER, &COLOUR]),
    kind("Soap Bar", "SOAP", HOME, (6, 14), (100, 160), &[&SCENT]),
    kind("Tea", "TEA", TEAS, (8, 26), (60, 300), &[&WEIGHT]),
    kind("Coffee Beans", "COF", COFFEES, (14, 34), (350, 1050), &[&WEIGHT]),
    kind("Syrup", "SYRP", SYRUPS, (9, 49), (300, 4500), &[&VOLUME]),
];

/// Words that tell apart products of the same kind and style ("Trail Backpack Pro").
#[rustfmt::skip]
const SERIES: &[&str] = &[
    "Pro", "Lite", "Plus", "Kids", "Sport", "Studio", "Max", "Mini", "Signature", "Original",
    "Limited Edition", "Travel", "Deluxe", "Essential",
];

/// A stock level the final stock-take restores (sold out or low) for one SKU: product id and
/// the variant's index (`None` for product-level stock).
struct PlannedLevel {
    product_id: u64,
    variant: Option<usize>,
    level: i64,
}

/// Adds `count` products and returns the sold-out and low stock levels to restore after the
/// history (which restocks whatever it sells out).
fn add_catalog(
    rng: &mut ChaCha8Rng,
    data: &mut StoreData,
    count: usize,
    now: DateTime<Utc>,
) -> Vec<PlannedLevel> {
    // How many products of each (kind, style) exist so far: the SKU's serial number.
    let mut serials: Vec<Vec<u32>> = KINDS.iter().map(|k| vec![0; k.styles.len()]).collect();
    let mut planned = Vec::new();
    let mut next_option_id = 100u64;
    let mut next_value_id = 1000u64;
    for _ in 0..count {
        let kind_index = rng.gen_range(0..KINDS.len());
        let kind = &KINDS[kind_index];
        let style_index = rng.gen_range(0..kind.styles.len());
        let (style, style_code) = kind.styles[style_index];
        serials[kind_index][style_index] += 1;
        let serial = serials[kind_index][style_index];
        let base_name = format!("{style} {}", kind.noun);
        // BigCommerce requires unique product names: later products of the same kind and style
        // get a series word, and past the list a number.
        let name = match serial as usize {
            1 => base_name,
            n if n - 2 < SERIES.len() => format!("{base_name} {}", SERIES[n - 2]),
            n => format!("{base_name} No. {n}"),
        };
        let sku = format!("{}-{style_code}-{serial:03}", kind.code);
        let ending = [99, 99, 95, 49, 0][rng.gen_range(0..5)];
        let dollars = rng.gen_range(kind.dollars.0..=kind.dollars.1);
        let price = Decimal::new(dollars * 100 + ending, 2);
        // Kilograms with two decimals (the store's weight unit is kg).
        let weight = Decimal::new(rng.gen_range(kind.grams.0..=kind.grams.1) / 10, 2);
        let roll = rng.gen_range(0..100);
        let tracking = if roll < 50 && !kind.options.is_empty() {
            InventoryTracking::Variant
        } else if roll < 85 {
            InventoryTracking::Product
        } else {
            InventoryTracking::None
        };
        let created = now - Duration::seconds(rng.gen_range(400 * 86_400..1_200 * 86_400));
        let modified = created + Duration::seconds(rng.gen_range(0..30 * 86_400));
        let mut product = Product {
            id: 0,
            name,
            sku,
            price,
            weight,
            inventory_tracking: tracking,
            inventory_level: 0,
            inventory_warning_level: 0,
            is_visible: rng.gen_ratio(19, 20),
            date_created: created,
            date_modified: modified,
            variants: Vec::new(),
        };
        let mut levels = Vec::new();
        match tracking {
            InventoryTracking::Variant => {
                product.inventory_warning_level = 5;
                product.variants =
                    variants(rng, kind, &product, &mut next_option_id, &mut next_value_id);
                for (index, variant) in product.variants.iter_mut().enumerate() {
                    let (level, plan) = initial_level(rng);
                    variant.inventory_level = level;
                    variant.inventory_warning_level = 3;
                    if plan {
                        levels.push((Some(index), level));
                    }
                }
            }
            InventoryTracking::Product => {
                let (level, plan) = initial_level(rng);
                product.inventory_level = level;
                product.inventory_warning_level = 5;
                if plan {
                    levels.push((None, level));
                }
            }
            InventoryTracking::None => {}
        }
        let product_id = data.add_product(product);
        if let Some(base) = data
            .products
            .get_mut(&product_id)
            .and_then(|p| p.variants.first_mut())
            .filter(|v| v.option_values.is_empty())
        {
            base.upc = upc(rng);
        }
        planned.extend(levels.into_iter().map(|(variant, level)| PlannedLevel {
            product_id,
            variant,
            level,
        }));
    }
    planned
}

/// 2–6 variants of a product from one or two of its kind's options, each value range a
/// contiguous run (S–L rather than S, XL).
fn variants(
    rng: &mut ChaCha8Rng,
    kind: &Kind,
    product: &Product,
    next_option_id: &mut u64,
    next_value_id: &mut u64,
) -> Vec<Variant> {
    let first = kind.options[0];
    let second = kind.options.get(1).filter(|_| rng.gen_bool(0.5));
    let (first_count, second_count) = match second {
        Some(_) => [(2, 2), (3, 2), (2, 3)][rng.gen_range(0..3)],
        None => (rng.gen_range(2..=first.values.len().min(6)), 1),
    };
    let first_values = pick_run(rng, first, first_count, next_option_id, next_value_id);
    let second_values = match second {
        Some(option) => pick_run(rng, option, second_count, next_option_id, next_value_id),
        None => Vec::new(),
    };
    let mut variants = Vec::with_capacity(first_count * second_count);
    let seconds: Vec<Option<&(OptionValue, &str)>> = if second_values.is_empty() {
        vec![None]
    } else {
        second_values.iter().map(Some).collect()
    };
    for (a, a_code) in &first_values {
        for b in seconds.iter().copied() {
            let mut sku = format!("{}-{a_code}", product.sku);
            let mut option_values = vec![a.clone()];
            if let Some((b, b_code)) = b {
                sku.push('-');
                sku.push_str(b_code);
                option_values.push(b.clone());
            }
            // Bigger sizes cost a little more, as in many apparel stores.
            let price =
                matches!(*a_code, "XL" | "XXL").then(|| product.price + Decimal::new(200, 2));
            variants.push(Variant {
                id: 0,
                product_id: 0,
                sku,
                sku_id: None,
                price,
                weight: None,
                inventory_level: 0,
                inventory_warning_level: 0,
                upc: if rng.gen_ratio(3, 5) {
                    upc(rng)
                } else {
                    String::new()
                },
                option_values,
            });
        }
    }
    variants
}

/// `count` consecutive values of an option, as option values with fresh ids, with their codes.
fn pick_run(
    rng: &mut ChaCha8Rng,
    option: &OptionDef,
    count: usize,
    next_option_id: &mut u64,
    next_value_id: &mut u64,
) -> Vec<(OptionValue, &'static str)> {
    let option_id = *next_option_id;
    *next_option_id += 1;
    let count = count.min(option.values.len());
    let start = rng.gen_range(0..=option.values.len() - count);
    option.values[start..start + count]
        .iter()
        .map(|(label, code)| {
            let id = *next_value_id;
            *next_value_id += 1;
            let value = OptionValue {
                id,
                option_id,
                option_display_name: option.name.to_string(),
                label: label.to_string(),
                kind: option.kind,
            };
            (value, *code)
        })
        .collect()
}

/// A starting stock level, and whether the final stock-take restores it (sold out or low).
fn initial_level(rng: &mut ChaCha8Rng) -> (i64, bool) {
    match rng.gen_range(0..100) {
        0..=3 => (0, true),
        4..=15 => (rng.gen_range(1..=5), true),
        16..=79 => (rng.gen_range(20..=150), false),
        _ => (rng.gen_range(150..=600), false),
    }
}

/// A 12-digit UPC-A with a valid check digit.
fn upc(rng: &mut impl Rng) -> String {
    let mut digits = [0u8; 12];
    digits[0] = 6; // GS1 Canada prefixes start at 6.
    for digit in &mut digits[1..11] {
        *digit = rng.gen_range(0..10);
    }
    let odd: u32 = digits[..11].iter().step_by(2).map(|&d| d as u32).sum();
    let even: u32 = digits[1..11].iter().step_by(2).map(|&d| d as u32).sum();
    digits[11] = ((10 - (odd * 3 + even) % 10) % 10) as u8;
    digits.iter().map(|d| (b'0' + d) as char).collect()
}

/// The last stock-take: the SKUs planned to be sold out or low are set so, whatever the
/// history did to them; and the base variant of each simple product shows the product's stock.
fn take_stock(data: &mut StoreData, planned: &[PlannedLevel]) {
    for plan in planned {
        let Some(product) = data.products.get_mut(&plan.product_id) else {
            continue;
        };
        match plan.variant {
            None => product.inventory_level = plan.level,
            Some(index) => {
                if let Some(variant) = product.variants.get_mut(index) {
                    variant.inventory_level = plan.level;
                }
            }
        }
    }
    for product in data.products.values_mut() {
        if product.inventory_tracking == InventoryTracking::Product
            && product.variants.len() == 1
            && product.variants[0].option_values.is_empty()
        {
            product.variants[0].inventory_level = product.inventory_level;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shoppers and addresses
// ---------------------------------------------------------------------------------------------

/// A city: name, province or state (v2 addresses carry the full name), ISO country code,
/// postal prefixes (Canadian FSAs, or the first three digits of US ZIP codes), area code.
type City = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static str,
);

#[rustfmt::skip]
const CITIES_CA: &[City] = &[
    ("Toronto", "Ontario", "CA", &["M5V", "M4C", "M6H", "M4L", "M5R", "M6P"], "416"),
    ("Ottawa", "Ontario", "CA", &["K1P", "K2P", "K1S", "K1Y", "K2A"], "613"),
    ("Mississauga", "Ontario", "CA", &["L5B", "L5M", "L4Z"], "905"),
    ("Hamilton", "Ontario", "CA", &["L8P", "L8S", "L9A"], "905"),
    ("London", "Ontario", "CA", &["N6A", "N6G", "N5Y"], "519"),
    ("Kingston", "Ontario", "CA", &["K7L", "K7K", "K7M"], "613"),
    ("Thunder Bay", "Ontario", "CA", &["P7B", "P7A"], "807"),
    ("Montréal", "Quebec", "CA", &["H2X", "H3A", "H2T", "H4A", "H2J"], "514"),
    ("Québec", "Quebec", "CA", &["G1R", "G1K", "G1S"], "418"),
    ("Gatineau", "Quebec", "CA", &["J8X", "J8Y", "J9H"], "819"),
    ("Sherbrooke", "Quebec", "CA", &["J1H", "J1J"], "819"),
    ("Vancouver", "British Columbia", "CA", &["V6B", "V5K", "V6K", "V5N", "V6J"], "604"),
    ("Victoria", "British Columbia", "CA", &["V8W", "V8V", "V9A"], "250"),
    ("Kelowna", "British Columbia", "CA", &["V1Y", "V1W"], "250"),
    ("Calgary", "Alberta", "CA", &["T2P", "T2R", "T3A", "T2E"], "403"),
    ("Edmonton", "Alberta", "CA", &["T5J", "T6E", "T5K"], "780"),
    ("Winnipeg", "Manitoba", "CA", &["R3C", "R3M", "R2W"], "204"),
    ("Saskatoon", "Saskatchewan", "CA", &["S7K", "S7N", "S7H"], "306"),
    ("Regina", "Saskatchewan", "CA", &["S4P", "S4S"], "306"),
    ("Halifax", "Nova Scotia", "CA", &["B3H", "B3J", "B3K"], "902"),
    ("Fredericton", "New Brunswick", "CA", &["E3B", "E3A"], "506"),
    ("Moncton", "New Brunswick", "CA", &["E1C", "E1A"], "506"),
    ("Charlottetown", "Prince Edward Island", "CA", &["C1A"], "902"),
    ("St. John's", "Newfoundland and Labrador", "CA", &["A1C", "A1B", "A1E"], "709"),
    ("Whitehorse", "Yukon", "CA", &["Y1A"], "867"),
    ("Yellowknife", "Northwest Territories", "CA", &["X1A"], "867"),
];

#[rustfmt::skip]
const CITIES_US: &[City] = &[
    ("Seattle", "Washington", "US", &["981"], "206"),
    ("Spokane", "Washington", "US", &["992"], "509"),
    ("Portland", "Oregon", "US", &["972"], "503"),
    ("San Francisco", "California", "US", &["941"], "415"),
    ("Los Angeles", "California", "US", &["900"], "213"),
    ("San Diego", "California", "US", &["921"], "619"),
    ("Sacramento", "California", "US", &["958"], "916"),
    ("Denver", "Colorado", "US", &["802"], "303"),
    ("Phoenix", "Arizona", "US", &["850"], "602"),
    ("Austin", "Texas", "US", &["787"], "512"),
    ("Houston", "Texas", "US", &["770"], "713"),
    ("Dallas", "Texas", "US", &["752"], "214"),
    ("Chicago", "Illinois", "US", &["606"], "312"),
    ("Minneapolis", "Minnesota", "US", &["554"], "612"),
    ("Detroit", "Michigan", "US", &["482"], "313"),
    ("Columbus", "Ohio", "US", &["432"], "614"),
    ("Boston", "Massachusetts", "US", &["021"], "617"),
    ("New York", "New York", "US", &["100", "101"], "212"),
    ("Brooklyn", "New York", "US", &["112"], "718"),
    ("Buffalo", "New York", "US", &["142"], "716"),
    ("Philadelphia", "Pennsylvania", "US", &["191"], "215"),
    ("Pittsburgh", "Pennsylvania", "US", &["152"], "412"),
    ("Washington", "District of Columbia", "US", &["200"], "202"),
    ("Atlanta", "Georgia", "US", &["303"], "404"),
    ("Miami", "Florida", "US", &["331"], "305"),
    ("Orlando", "Florida", "US", &["328"], "407"),
    ("Nashville", "Tennessee", "US", &["372"], "615"),
    ("Charlotte", "North Carolina", "US", &["282"], "704"),
    ("Burlington", "Vermont", "US", &["054"], "802"),
    ("Portland", "Maine", "US", &["041"], "207"),
    ("Salt Lake City", "Utah", "US", &["841"], "801"),
    ("Anchorage", "Alaska", "US", &["995"], "907"),
    ("Honolulu", "Hawaii", "US", &["968"], "808"),
];

#[rustfmt::skip]
const FIRST_NAMES: &[&str] = &[
    "Olivia", "Liam", "Emma", "Noah", "Charlotte", "William", "Amelia", "Benjamin", "Sophia",
    "Lucas", "Chloé", "Jacob", "Emily", "Ethan", "Ava", "Logan", "Mia", "Samuel", "Zoë", "Nathan",
    "Isabelle", "Gabriel", "Léa", "Félix", "Hannah", "Owen", "Grace", "Mohammed", "Aisha", "Arjun",
    "Priya", "Wei", "Mei", "Hiroshi", "Yuki", "Mateo", "Sofia", "Diego", "Camila", "Jean-Philippe",
    "Marie-Ève", "Siobhan", "Declan", "Ingrid", "Lars", "Kwame", "Amara", "Tariq", "Leila",
    "Daniel", "Rachel", "Michael", "Jennifer", "David", "Sarah",
];

#[rustfmt::skip]
const LAST_NAMES: &[&str] = &[
    "Smith", "Tremblay", "Brown", "Roy", "Wilson", "Gagnon", "MacDonald", "Côté", "Taylor",
    "Bouchard", "Campbell", "Gauthier", "Anderson", "Morin", "Lee", "Lavoie", "Martin", "Fortin",
    "Thompson", "Gagné", "White", "Ouellet", "O'Brien", "Pelletier", "Johnson", "Bélanger",
    "Singh", "Patel", "Nguyen", "Chen", "Wong", "Kim", "Garcia", "Rodriguez", "Murphy", "Kelly",
    "Walsh", "Fraser", "Stewart", "Robertson", "Clarke", "Leblanc", "Tremblay-Roy", "St-Pierre",
    "Nakamura", "Okafor", "Haddad", "Kowalski", "Novak", "Van der Berg", "Williams", "Miller",
    "Davis", "Moore", "Jackson",
];

#[rustfmt::skip]
const STREETS: &[&str] = &[
    "Maple Avenue", "King Street West", "Queen Street East", "Main Street", "Elm Street",
    "Oak Drive", "Cedar Crescent", "Pine Road", "Birch Lane", "Lakeshore Boulevard",
    "Church Street", "Victoria Road", "Wellington Street", "Park Avenue", "Hillcrest Drive",
    "Riverside Drive", "Highland Avenue", "Bay Street", "College Street", "Spruce Court",
    "Willow Way", "Rue Saint-Denis", "Chemin de la Côte-Sainte-Catherine", "Mill Road",
    "Water Street", "Broadway", "2nd Avenue", "5th Street NW", "Jasper Avenue", "Commercial Drive",
    "Portage Avenue", "Spring Garden Road", "Sunset Boulevard", "Lincoln Avenue",
    "Washington Street", "Cherry Lane",
];

#[rustfmt::skip]
const COMPANIES: &[&str] = &[
    "Northwind Outfitters", "Maple Leaf Logistics", "Blue Heron Studio", "Tamarack Design Co.",
    "Granite Peak Consulting", "Harbourview Dental", "Prairie Sky Farms", "Lakeside Yoga",
    "Birchwood Architects Inc.", "Red River Coffee", "Summit Legal LLP", "Coastal Kayak Tours",
];

#[rustfmt::skip]
const EMAIL_DOMAINS: &[&str] = &[
    "gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com", "proton.me", "shaw.ca",
    "rogers.com", "sympatico.ca", "videotron.ca", "telus.net", "example.com",
];

#[rustfmt::skip]
const CUSTOMER_MESSAGES: &[&str] = &[
    "Please leave the parcel at the side door.",
    "It's a gift - no invoice in the box, please.",
    "Buzzer code 1204.",
    "Can you ship this before Friday? Thank you!",
    "Merci de livrer après 17 h.",
    "Please use recyclable packaging if possible.",
];

/// Letters Canada Post uses in postal codes.
const POSTAL_LETTERS: &[u8] = b"ABCEGHJKLMNPRSTVWXYZ";

fn pick<'a, T>(rng: &mut impl Rng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

/// An email address's local part from a name: lowercase ASCII, accents folded, other
/// punctuation dropped ("Marie-Ève Côté" gives "marieeve.cote").
fn push_email_part(out: &mut String, name: &str) {
    for c in name.chars() {
        let c = match c {
            'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' => 'e',
            'à' | 'â' => 'a',
            'ô' => 'o',
            'ç' => 'c',
            'ï' | 'î' => 'i',
            c => c,
        };
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        }
    }
}

/// A shopper's address in Canada (about two thirds: the store is Canadian) or the US.
pub fn random_address(rng: &mut impl Rng) -> Address {
    let (city, state, iso2, prefixes, area) = if rng.gen_ratio(2, 3) {
        *pick(rng, CITIES_CA)
    } else {
        *pick(rng, CITIES_US)
    };
    let prefix = *pick(rng, prefixes);
    let zip = if iso2 == "CA" {
        // Forward sortation area, then a local delivery unit: "K1P 5J2".
        let mut zip = String::with_capacity(7);
        zip.push_str(prefix);
        zip.push(' ');
        push_digits(&mut zip, rng, 1);
        zip.push(*pick(rng, POSTAL_LETTERS) as char);
        push_digits(&mut zip, rng, 1);
        zip
    } else {
        format!("{prefix}{:02}", rng.gen_range(1..100))
    };
    let first = *pick(rng, FIRST_NAMES);
    let last = *pick(rng, LAST_NAMES);
    let mut email = String::with_capacity(32);
    push_email_part(&mut email, first);
    email.push('.');
    push_email_part(&mut email, last);
    if rng.gen_bool(0.5) {
        email.push_str(&rng.gen_range(1..100).to_string());
    }
    email.push('@');
    let domain = *pick(rng, EMAIL_DOMAINS);
    email.push_str(domain);
    let street_2 = match rng.gen_range(0..100) {
        0..=5 => format!("Apt {}", rng.gen_range(101..2400)),
        6..=9 => format!("Unit {}", rng.gen_range(1..40)),
        10..=11 => format!("Suite {}", rng.gen_range(100..900)),
        _ => String::new(),
    };
    Address {
        first_name: first.to_string(),
        last_name: last.to_string(),
        company: if rng.gen_ratio(1, 12) {
            pick(rng, COMPANIES).to_string()
        } else {
            String::new()
        },
        street_1: format!("{} {}", rng.gen_range(1..9999), pick(rng, STREETS)),
        street_2,
        city: city.to_string(),
        state: state.to_string(),
        zip,
        country: if iso2 == "CA" {
            "Canada"
        } else {
            "United States"
        }
        .to_string(),
        country_iso2: iso2.to_string(),
        // 555-01xx numbers are reserved for fiction in North America.
        phone: format!("{area}-555-01{:02}", rng.gen_range(0..100)),
        email,
    }
}

// ---------------------------------------------------------------------------------------------
// Orders
// ---------------------------------------------------------------------------------------------

/// Most orders have 1–4 lines; about one in 25,000 has 51–80, more than the 50 line items
/// BigCommerce embeds per consignment (B2B-sized orders are rare; the history also always
/// has one, see [`LARGE_ORDER_INDEX`]).
fn line_count(rng: &mut impl Rng) -> usize {
    match rng.gen_range(0..100_000) {
        0..=3 => rng.gen_range(51..=80),
        4..=45_403 => 1,
        45_404..=70_403 => 2,
        70_404..=84_403 => 3,
        84_404..=92_403 => 4,
        _ => rng.gen_range(5..=10),
    }
}

fn quantity(rng: &mut impl Rng, large_order: bool) -> u32 {
    if large_order {
        return rng.gen_range(1..=3);
    }
    match rng.gen_range(0..100) {
        0..=69 => 1,
        70..=87 => 2,
        88..=94 => 3,
        95..=98 => rng.gen_range(4..=6),
        _ => rng.gen_range(10..=24),
    }
}

/// A random visible product's random variant, by id range so no index of the catalog is
/// needed (ids are dense: `add_product` hands them out in sequence).
fn random_sku<'a>(
    rng: &mut impl Rng,
    data: &'a StoreData,
    first: u64,
    last: u64,
) -> Option<&'a str> {
    for _ in 0..8 {
        let id = rng.gen_range(first..=last);
        let Some((_, product)) = data.products.range(id..).next() else {
            continue;
        };
        if !product.is_visible || product.variants.is_empty() {
            continue;
        }
        return Some(&pick(rng, &product.variants).sku);
    }
    None
}

/// What a shopper checks out: 1–N lines of distinct SKUs of visible products, a billing
/// address and 1–3 shipping addresses (about one order in 20 ships to several), without regard
/// to stock (see [`fit_to_stock`]). The status and date are left to the caller; an empty
/// catalog gives an order without lines.
pub fn random_new_order(rng: &mut impl Rng, data: &StoreData) -> NewOrder {
    let lines = line_count(rng);
    new_order_with_lines(rng, data, lines)
}

/// The history's order at this index (0-based) has more than 50 lines, so that every store
/// of at least this many orders exercises BigCommerce's 50-line cap.
pub const LARGE_ORDER_INDEX: usize = 499;

/// A random order of about `lines` lines (more when it ships to more addresses than that).
fn new_order_with_lines(rng: &mut impl Rng, data: &StoreData, lines: usize) -> NewOrder {
    let mut order = NewOrder::default();
    let (Some((&first, _)), Some((&last, _))) = (
        data.products.first_key_value(),
        data.products.last_key_value(),
    ) else {
        return order;
    };
    let address_count = if rng.gen_ratio(1, 20) {
        if rng.gen_ratio(7, 10) {
            2
        } else {
            3
        }
    } else {
        1
    };
    let wanted = lines.max(address_count);
    let large = wanted > 10;
    order.lines.reserve(wanted);
    if large {
        // Walk the catalog from a random product, taking about half of the SKUs: distinct
        // lines without a search per line.
        let start = rng.gen_range(first..=last);
        let products = data
            .products
            .range(start..)
            .chain(data.products.range(..start));
        'walk: for (_, product) in products.filter(|(_, p)| p.is_visible) {
            for variant in &product.variants {
                if order.lines.len() == wanted {
                    break 'walk;
                }
                if rng.gen_bool(0.5) {
                    order.lines.push(NewOrderLine {
                        sku: variant.sku.clone(),
                        quantity: quantity(rng, true),
                        address_index: 0,
                        modifiers: Vec::new(),
                    });
                }
            }
        }
    } else {
        for _ in 0..wanted {
            let Some(sku) = random_sku(rng, data, first, last) else {
                continue;
            };
            // A second pick of the same SKU adds to nothing: shoppers raise the quantity of a
            // line instead, so the line is simply skipped.
            if order.lines.iter().any(|l| l.sku == sku) {
                continue;
            }
            order.lines.push(NewOrderLine {
                sku: sku.to_string(),
                quantity: quantity(rng, false),
                address_index: 0,
                modifiers: Vec::new(),
            });
        }
    }
    let billing = random_address(rng);
    let address_count = address_count.min(order.lines.len()).max(1);
    if address_count == 1 {
        // Most shoppers ship to themselves; some send a gift.
        let ship_to = if rng.gen_ratio(17, 20) {
            billing.clone()
        } else {
            random_address(rng)
        };
        order.shipping_addresses.push(ship_to);
    } else {
        order.shipping_addresses.push(billing.clone());
        for _ in 1..address_count {
            order.shipping_addresses.push(random_address(rng));
        }
        // Every address gets at least one line; the rest go anywhere.
        for (index, line) in order.lines.iter_mut().enumerate() {
            line.address_index = if index < address_count {
                index
            } else {
                rng.gen_range(0..address_count)
            };
        }
    }
    order.billing_address = Some(billing);
    // Guests check out with customer id 0; otherwise the store assigns one.
    order.customer_id = rng.gen_ratio(1, 5).then_some(0);
    order.payment_method = Some(
        match rng.gen_range(0..100) {
            0..=71 => "Credit Card",
            72..=91 => "PayPal",
            _ => "Apple Pay",
        }
        .to_string(),
    );
    if rng.gen_ratio(1, 30) {
        order.customer_message = Some(pick(rng, CUSTOMER_MESSAGES).to_string());
    }
    order
}

/// The stock a line can draw on: `None` when its product does not track inventory.
fn available(data: &StoreData, sku: &str) -> Option<i64> {
    let location = data.skus.get(sku)?;
    let product = data.products.get(&location.product_id)?;
    match product.inventory_tracking {
        InventoryTracking::None => None,
        InventoryTracking::Product => Some(product.inventory_level),
        InventoryTracking::Variant => product
            .variants
            .iter()
            .find(|v| v.id == location.variant_id)
            .map(|v| v.inventory_level),
    }
}

/// Trims an order to what is in stock, as a storefront would: lines of sold-out SKUs are
/// dropped, quantities capped, and shipping addresses left without lines removed.
pub fn fit_to_stock(data: &StoreData, order: &mut NewOrder) {
    order
        .lines
        .retain_mut(|line| match available(data, &line.sku) {
            None => true,
            Some(level) if level <= 0 => false,
            Some(level) => {
                line.quantity = line.quantity.min(level as u32);
                true
            }
        });
    let used: Vec<bool> = (0..order.shipping_addresses.len())
        .map(|index| order.lines.iter().any(|l| l.address_index == index))
        .collect();
    if used.iter().all(|u| *u) || order.lines.is_empty() {
        return;
    }
    let mut new_index = Vec::with_capacity(used.len());
    let mut next = 0;
    for &u in &used {
        new_index.push(next);
        next += u as usize;
    }
    let mut index = 0;
    order.shipping_addresses.retain(|_| {
        index += 1;
        used[index - 1]
    });
    for line in &mut order.lines {
        line.address_index = new_index[line.address_index];
    }
}

/// Receives stock so that every line of `order` can be served: the merchant restocks a SKU
/// (with a lot of 20–100 more than needed) before it runs short, so history never oversells.
fn restock_for(rng: &mut impl Rng, data: &mut StoreData, order: &NewOrder) {
    for line in &order.lines {
        let Some(location) = data.skus.get(&line.sku).copied() else {
            continue;
        };
        let Some(product) = data.products.get_mut(&location.product_id) else {
            continue;
        };
        let need = i64::from(line.quantity);
        let level = match product.inventory_tracking {
            InventoryTracking::None => continue,
            InventoryTracking::Product => &mut product.inventory_level,
            InventoryTracking::Variant => {
                match product
                    .variants
                    .iter_mut()
                    .find(|v| v.id == location.variant_id)
                {
                    Some(variant) => &mut variant.inventory_level,
                    None => continue,
                }
            }
        };
        if *level < need {
            *level += need + rng.gen_range(20..=100);
        }
    }
}

/// What becomes of a historical order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Pending,
    AwaitingPayment,
    ManualVerification,
    AwaitingFulfillment,
    AwaitingShipment,
    PartiallyShipped,
    Shipped,
    Completed,
    Cancelled,
    Refunded,
    Declined,
}

/// Orders placed in the last two days: mostly waiting to be fulfilled.
const RECENT: &[(Fate, u32)] = &[
    (Fate::AwaitingFulfillment, 720),
    (Fate::AwaitingPayment, 80),
    (Fate::Pending, 30),
    (Fate::ManualVerification, 30),
    (Fate::AwaitingShipment, 60),
    (Fate::PartiallyShipped, 30),
    (Fate::Shipped, 30),
    (Fate::Cancelled, 20),
];

/// Orders from two to seven days ago: half shipped, the rest in progress.
const THIS_WEEK: &[(Fate, u32)] = &[
    (Fate::AwaitingFulfillment, 220),
    (Fate::AwaitingShipment, 80),
    (Fate::PartiallyShipped, 60),
    (Fate::Shipped, 500),
    (Fate::Completed, 50),
    (Fate::AwaitingPayment, 20),
    (Fate::ManualVerification, 10),
    (Fate::Pending, 10),
    (Fate::Cancelled, 40),
    (Fate::Refunded, 10),
];

/// Older orders: shipped or completed, apart from the cancelled, refunded and a few stuck.
const OLDER: &[(Fate, u32)] = &[
    (Fate::Shipped, 350),
    (Fate::Completed, 480),
    (Fate::Cancelled, 50),
    (Fate::Refunded, 30),
    (Fate::Declined, 10),
    (Fate::PartiallyShipped, 10),
    (Fate::AwaitingFulfillment, 10),
    (Fate::AwaitingPayment, 10),
    (Fate::Pending, 5),
    (Fate::ManualVerification, 5),
];

fn weighted<T: Copy>(rng: &mut impl Rng, table: &[(T, u32)]) -> T {
    let total: u32 = table.iter().map(|(_, w)| w).sum();
    let mut roll = rng.gen_range(0..total);
    for &(item, weight) in table {
        if roll < weight {
            return item;
        }
        roll -= weight;
    }
    table[table.len() - 1].0
}

/// How far back the history reaches: about three hours per order, at least two weeks (so a
/// small store still has recent and older orders) and at most a year.
fn history_span(orders: usize) -> i64 {
    (orders as i64 * 3 * 3_600).clamp(14 * 86_400, 365 * 86_400)
}

/// `at` plus `seconds`, no later than `now`.
fn later(at: DateTime<Utc>, seconds: i64, now: DateTime<Utc>) -> DateTime<Utc> {
    (at + Duration::seconds(seconds)).min(now)
}

/// A carrier: code (as `shipping_provider` and `tracking_carrier`), service name, tracking URL
/// prefix.
type Carrier = (&'static str, &'static str, &'static str);

const CANADA_POST: Carrier = (
    "canadapost",
    "Expedited Parcel",
    "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor=",
);
const UPS: Carrier = ("ups", "UPS Ground", "https://www.ups.com/track?tracknum=");
const USPS: Carrier = (
    "usps",
    "USPS Priority Mail",
    "https://tools.usps.com/go/TrackConfirmAction?tLabels=",
);
const FEDEX: Carrier = (
    "fedex",
    "FedEx Ground",
    "https://www.fedex.com/fedextrack/?trknbr=",
);

fn carrier(rng: &mut impl Rng, to_canada: bool) -> Carrier {
    if to_canada {
        weighted(rng, &[(CANADA_POST, 70), (UPS, 15), (FEDEX, 15)])
    } else {
        weighted(rng, &[(USPS, 50), (UPS, 30), (FEDEX, 20)])
    }
}

fn push_digits(out: &mut String, rng: &mut impl Rng, n: usize) {
    for _ in 0..n {
        out.push((b'0' + rng.gen_range(0..10)) as char);
    }
}

/// A tracking number in the carrier's format.
fn tracking_number(rng: &mut impl Rng, carrier: &str) -> String {
    let mut number = String::with_capacity(22);
    let digits = push_digits;
    match carrier {
        "canadapost" => digits(&mut number, rng, 16),
        "ups" => {
            number.push_str("1Z");
            for _ in 0..6 {
                let c = b"0123456789ABCDEFGHJKLMNPRSTVWXYZ"[rng.gen_range(0..32)];
                number.push(c as char);
            }
            number.push_str("03");
            digits(&mut number, rng, 8);
        }
        "usps" => {
            number.push_str("9400");
            digits(&mut number, rng, 18);
        }
        _ => digits(&mut number, rng, 12),
    }
    number
}

/// One shipment to make: to which address, and which lines (order product id, quantity).
struct ShipmentPlan {
    address_id: u64,
    to_canada: bool,
    items: Vec<(u64, u32)>,
}

/// Ships an order placed in the history, at `first_at` and after: everything (one shipment
/// per address) or, when `partial`, part of it. Returns when the last shipment left, or
/// `None` when nothing could be shipped.
fn ship_history_order(
    rng: &mut impl Rng,
    data: &mut StoreData,
    order_id: u64,
    partial: bool,
    first_at: DateTime<Utc>,
    now: DateTime<Utc>,
    events: &mut Vec<Event>,
) -> Option<DateTime<Utc>> {
    let order = data.orders.get(&order_id)?;
    let mut plans: Vec<ShipmentPlan> = order
        .shipping_addresses
        .iter()
        .map(|a| ShipmentPlan {
            address_id: a.id,
            to_canada: a.address.country_iso2 == "CA",
            items: order
                .lines
                .iter()
                .filter(|l| l.order_address_id == a.id && l.remaining() > 0)
                .map(|l| (l.id, l.remaining()))
                .collect(),
        })
        .collect();
    plans.retain(|plan| !plan.items.is_empty());
    if partial {
        // Hold something back: a whole address, half the lines, or part of a line.
        if plans.len() > 1 {
            plans.truncate(1);
        } else if let Some(plan) = plans.first_mut() {
            if plan.items.len() > 1 {
                plan.items.truncate(plan.items.len() / 2);
            } else if let Some(item) = plan.items.first_mut().filter(|i| i.1 > 1) {
                item.1 /= 2;
            }
        }
    }
    let mut at = first_at;
    let mut last = None;
    for ShipmentPlan {
        address_id,
        to_canada,
        items,
    } in plans
    {
        let (code, method, link) = carrier(rng, to_canada);
        let tracking = tracking_number(rng, code);
        let new = NewShipment {
            order_address_id: address_id,
            tracking_link: format!("{link}{tracking}"),
            tracking_number: tracking,
            merchant_shipping_cost: Some(Decimal::new(rng.gen_range(650..=2400), 2)),
            shipping_method: method.to_string(),
            shipping_provider: code.to_string(),
            tracking_carrier: code.to_string(),
            comments: String::new(),
            items,
        };
        let result = data.create_shipment(order_id, new, events);
        debug_assert!(result.is_ok(), "a generated shipment is valid: {result:?}");
        if result.is_ok() {
            // The store stamps shipments with the wall clock; history happened earlier.
            if let Some(shipment) = data
                .orders
                .get_mut(&order_id)
                .and_then(|o| o.shipments.last_mut())
            {
                shipment.date_created = at;
            }
            last = Some(at);
            at = later(at, rng.gen_range(600..2 * 86_400), now);
        }
    }
    last
}

/// Places `count` orders spread over the past, in id order, and gives each its fate.
fn add_history(rng: &mut ChaCha8Rng, data: &mut StoreData, count: usize, now: DateTime<Utc>) {
    if count == 0 || data.products.is_empty() {
        return;
    }
    let span = history_span(count);
    let start = now - Duration::seconds(span);
    let mut events = Vec::new();
    for index in 0..count {
        // Each order gets its own slice of the span so that dates grow with ids.
        let slot_start = span * index as i64 / count as i64;
        let slot_end = (span * (index as i64 + 1) / count as i64).max(slot_start + 1);
        let created = start + Duration::seconds(rng.gen_range(slot_start..slot_end));
        let age_days = (now - created).num_days();
        let table = match age_days {
            0..=1 => RECENT,
            2..=6 => THIS_WEEK,
            _ => OLDER,
        };
        let fate = weighted(rng, table);
        let mut new = if index == LARGE_ORDER_INDEX {
            let lines = rng.gen_range(51..=80);
            let mut large = new_order_with_lines(rng, data, lines);
            // One consignment, so that it is over the 50-line cap whatever the split.
            large.shipping_addresses.truncate(1);
            for line in &mut large.lines {
                line.address_index = 0;
            }
            large
        } else {
            random_new_order(rng, data)
        };
        if new.lines.is_empty() {
            continue;
        }
        restock_for(rng, data, &new);
        debug_assert!(
            new.lines.iter().all(|l| available(data, &l.sku)
                .is_none_or(|level| level >= i64::from(l.quantity))),
            "history never oversells"
        );
        new.date_created = Some(created);
        let (status_id, payment_status) = match fate {
            Fate::Pending => (status::PENDING, ""),
            Fate::AwaitingPayment => {
                new.payment_method = Some("Bank Deposit".to_string());
                (status::AWAITING_PAYMENT, "pending")
            }
            Fate::ManualVerification => (status::MANUAL_VERIFICATION, "authorized"),
            Fate::AwaitingShipment => (status::AWAITING_SHIPMENT, "captured"),
            Fate::Cancelled => (status::CANCELLED, "void"),
            Fate::Declined => (status::DECLINED, "declined"),
            // Refunded orders were paid, often shipped, then refunded below.
            Fate::AwaitingFulfillment
            | Fate::PartiallyShipped
            | Fate::Shipped
            | Fate::Completed
            | Fate::Refunded => (status::AWAITING_FULFILLMENT, "captured"),
        };
        new.status_id = Some(status_id);
        let Ok(id) = data.place_order(new, &mut events) else {
            debug_assert!(false, "a generated order is valid");
            continue;
        };
        let shipped_at = match fate {
            Fate::Shipped | Fate::Completed | Fate::PartiallyShipped => {
                let first = later(created, rng.gen_range(2 * 3_600..3 * 86_400), now);
                let partial = fate == Fate::PartiallyShipped;
                ship_history_order(rng, data, id, partial, first, now, &mut events)
            }
            Fate::Refunded if rng.gen_bool(0.5) => {
                let first = later(created, rng.gen_range(2 * 3_600..3 * 86_400), now);
                ship_history_order(rng, data, id, false, first, now, &mut events)
            }
            _ => None,
        };
        events.clear();
        let modified = match fate {
            Fate::AwaitingFulfillment
            | Fate::AwaitingPayment
            | Fate::Pending
            | Fate::ManualVerification => later(created, rng.gen_range(0..600), now),
            Fate::AwaitingShipment => later(created, rng.gen_range(3_600..86_400), now),
            Fate::PartiallyShipped | Fate::Shipped => {
                later(shipped_at.unwrap_or(created), rng.gen_range(0..300), now)
            }
            Fate::Completed => later(
                shipped_at.unwrap_or(created),
                rng.gen_range(2 * 86_400..14 * 86_400),
                now,
            ),
            Fate::Cancelled => later(created, rng.gen_range(600..3 * 86_400), now),
            Fate::Declined => later(created, rng.gen_range(300..86_400), now),
            Fate::Refunded => later(
                shipped_at.unwrap_or(created),
                rng.gen_range(86_400..20 * 86_400),
                now,
            ),
        };
        let Some(order) = data.orders.get_mut(&id) else {
            continue;
        };
        order.payment_status.clear();
        order.payment_status.push_str(payment_status);
        match fate {
            Fate::Completed => order.status_id = status::COMPLETED,
            Fate::Refunded => {
                order.status_id = status::REFUNDED;
                order.payment_status.clear();
                order.payment_status.push_str("refunded");
                for line in &mut order.lines {
                    line.quantity_refunded = line.quantity;
                }
            }
            _ => {}
        }
        // The store stamped these with the wall clock; the order's history says otherwise.
        let fully_shipped = order.lines.iter().all(|l| l.remaining() == 0);
        order.date_shipped = if fully_shipped { shipped_at } else { None };
        order.date_modified = modified.max(created);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::TimeZone;

    use super::*;
    use crate::model::StoreProfile;

    fn empty_store() -> StoreData {
        let profile = StoreProfile {
            id: "abc123".into(),
            name: "Test".into(),
            domain: "test.example".into(),
            admin_email: "a@example.com".into(),
            order_email: "o@example.com".into(),
            phone: String::new(),
            address: String::new(),
            country: "Canada".into(),
            country_code: "CA".into(),
            timezone_name: "America/Toronto".into(),
            timezone_raw_offset: -18000,
            currency: "CAD".into(),
            currency_symbol: "$".into(),
            weight_units: "kg".into(),
            dimension_units: "Centimeters".into(),
            plan_name: "Standard".into(),
            plan_level: "Standard".into(),
        };
        StoreData::new("abc123", profile, Vec::new())
    }

    fn fixed_now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
    }

    fn store(seed: u64, products: usize, orders: usize) -> StoreData {
        let mut data = empty_store();
        populate_at(&mut data, seed, products, orders, fixed_now());
        data
    }

    fn json(data: &StoreData) -> (String, String) {
        let products: Vec<_> = data.products.values().collect();
        let orders: Vec<_> = data.orders.values().collect();
        (
            serde_json::to_string(&products).unwrap(),
            serde_json::to_string(&orders).unwrap(),
        )
    }

    #[test]
    fn the_same_seed_gives_the_same_store() {
        let a = store(42, 60, 400);
        let b = store(42, 60, 400);
        assert_eq!(json(&a), json(&b));
        let c = store(43, 60, 400);
        assert_ne!(json(&a).1, json(&c).1);
    }

    #[test]
    fn the_catalog_has_every_tracking_mode_and_unique_skus_and_names() {
        let data = store(7, 200, 0);
        assert_eq!(data.products.len(), 200);
        let count = |mode| {
            data.products
                .values()
                .filter(|p| p.inventory_tracking == mode)
                .count()
        };
        let (variant, product, none) = (
            count(InventoryTracking::Variant),
            count(InventoryTracking::Product),
            count(InventoryTracking::None),
        );
        assert!((70..=130).contains(&variant), "variant-tracked: {variant}");
        assert!((40..=100).contains(&product), "product-tracked: {product}");
        assert!((10..=50).contains(&none), "untracked: {none}");
        let names: BTreeSet<_> = data.products.values().map(|p| &p.name).collect();
        assert_eq!(names.len(), 200, "product names are unique");
        let skus: usize = data.products.values().map(|p| p.variants.len()).sum();
        assert_eq!(data.skus.len(), skus, "variant SKUs are unique");
        for product in data.products.values() {
            if product.inventory_tracking == InventoryTracking::Variant {
                assert!(
                    (2..=6).contains(&product.variants.len()),
                    "{}",
                    product.name
                );
                for variant in &product.variants {
                    assert!(variant.sku.starts_with(&format!("{}-", product.sku)));
                    assert!(!variant.option_values.is_empty());
                }
            }
            assert_eq!(product.price.scale(), 2);
            assert!(product.date_created <= product.date_modified);
        }
    }

    #[test]
    fn the_history_has_the_orders_an_integration_meets() {
        let data = store(1, 200, 2_000);
        assert_eq!(data.orders.len(), 2_000);
        let orders: Vec<_> = data.orders.values().collect();
        let multi = orders
            .iter()
            .filter(|o| o.shipping_addresses.len() > 1)
            .count();
        assert!((40..=200).contains(&multi), "multi-address orders: {multi}");
        let large = orders.iter().filter(|o| o.lines.len() > 50).count();
        assert!(large >= 1, "orders with more than 50 lines: {large}");
        assert!(orders.iter().all(|o| o.lines.len() <= 80));
        let statuses: BTreeSet<u32> = orders.iter().map(|o| o.status_id).collect();
        for expected in [
            status::PENDING,
            status::SHIPPED,
            status::PARTIALLY_SHIPPED,
            status::REFUNDED,
            status::CANCELLED,
            status::AWAITING_PAYMENT,
            status::AWAITING_SHIPMENT,
            status::COMPLETED,
            status::AWAITING_FULFILLMENT,
            status::MANUAL_VERIFICATION,
        ] {
            assert!(
                statuses.contains(&expected),
                "status {expected} in {statuses:?}"
            );
        }
        let done = orders
            .iter()
            .filter(|o| matches!(o.status_id, status::SHIPPED | status::COMPLETED))
            .count();
        assert!(done > 1_000, "shipped or completed: {done}");
        // The newest orders are mostly waiting for fulfillment.
        let newest = &orders[orders.len() - 20..];
        let waiting = newest
            .iter()
            .filter(|o| o.status_id == status::AWAITING_FULFILLMENT)
            .count();
        assert!(
            waiting >= 8,
            "awaiting fulfillment among the newest 20: {waiting}"
        );
    }

    #[test]
    fn history_dates_and_shipments_are_consistent() {
        let now = fixed_now();
        let data = store(3, 100, 1_000);
        let mut previous = None;
        for order in data.orders.values() {
            if let Some(previous) = previous {
                assert!(order.date_created >= previous, "dates grow with ids");
            }
            previous = Some(order.date_created);
            assert!(order.date_created <= now && order.date_modified <= now);
            assert!(
                order.date_modified >= order.date_created,
                "order {}",
                order.id
            );
            assert!(order.date_created > now - Duration::days(366));
            for shipment in &order.shipments {
                assert!(shipment.date_created >= order.date_created);
                assert!(shipment.date_created <= order.date_modified);
                assert!(!shipment.tracking_number.is_empty());
                assert!(["canadapost", "ups", "usps", "fedex"]
                    .contains(&shipment.tracking_carrier.as_str()));
            }
            if order.status_id == status::SHIPPED || order.status_id == status::COMPLETED {
                assert!(order.lines.iter().all(|l| l.quantity_shipped == l.quantity));
                assert!(order.date_shipped.is_some());
                assert!(!order.shipments.is_empty());
            }
            if order.status_id == status::PARTIALLY_SHIPPED {
                assert!(order.items_shipped() > 0 && order.items_shipped() < order.items_total());
            }
            for address in &order.shipping_addresses {
                assert!(["CA", "US"].contains(&address.address.country_iso2.as_str()));
                assert!(order.lines.iter().any(|l| l.order_address_id == address.id));
            }
        }
    }

    #[test]
    fn stock_is_never_negative_and_some_is_low_or_sold_out() {
        let data = store(5, 150, 3_000);
        let mut levels = Vec::new();
        for product in data.products.values() {
            match product.inventory_tracking {
                InventoryTracking::Product => levels.push(product.inventory_level),
                InventoryTracking::Variant => {
                    levels.extend(product.variants.iter().map(|v| v.inventory_level))
                }
                InventoryTracking::None => {}
            }
            assert!(product.variants.iter().all(|v| v.inventory_level >= 0));
        }
        assert!(levels.iter().all(|l| *l >= 0));
        assert!(levels.contains(&0), "some SKUs are sold out");
        assert!(
            levels.iter().any(|l| (1..=5).contains(l)),
            "some SKUs are low"
        );
    }

    #[test]
    fn fit_to_stock_drops_sold_out_lines_and_their_addresses() {
        let mut data = store(9, 40, 0);
        let (sold_out, in_stock) = {
            let mut tracked = data
                .products
                .values()
                .filter(|p| p.inventory_tracking == InventoryTracking::Product);
            (tracked.next().unwrap().id, tracked.next().unwrap().id)
        };
        data.products.get_mut(&sold_out).unwrap().inventory_level = 0;
        data.products.get_mut(&in_stock).unwrap().inventory_level = 2;
        let sku = |id| data.products[&id].sku.clone();
        let mut order = NewOrder {
            shipping_addresses: vec![Address::default(), Address::default()],
            lines: vec![
                NewOrderLine {
                    sku: sku(sold_out),
                    quantity: 1,
                    address_index: 0,
                    modifiers: Vec::new(),
                },
                NewOrderLine {
                    sku: sku(in_stock),
                    quantity: 5,
                    address_index: 1,
                    modifiers: Vec::new(),
                },
            ],
            ..NewOrder::default()
        };
        fit_to_stock(&data, &mut order);
        assert_eq!(order.lines.len(), 1);
        assert_eq!(order.lines[0].quantity, 2);
        assert_eq!(order.lines[0].address_index, 0);
        assert_eq!(order.shipping_addresses.len(), 1);
    }

    #[test]
    fn upcs_have_valid_check_digits() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..100 {
            let code = upc(&mut rng);
            let digits: Vec<u32> = code.chars().map(|c| c.to_digit(10).unwrap()).collect();
            let sum: u32 = digits
                .iter()
                .enumerate()
                .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
                .sum();
            assert_eq!(sum % 10, 0, "{code}");
        }
    }

    /// `cargo test --release -p bigcommerce-sandbox --lib generate -- --ignored --nocapture`
    #[test]
    #[ignore = "timing; run in release"]
    fn populating_100k_orders_takes_seconds() {
        let started = std::time::Instant::now();
        let data = store(1, 200, 100_000);
        let elapsed = started.elapsed();
        println!(
            "populated {} products and {} orders in {:.2?}",
            data.products.len(),
            data.orders.len(),
            elapsed
        );
        assert_eq!(data.orders.len(), 100_000);
        let mut statuses = std::collections::BTreeMap::<u32, usize>::new();
        for order in data.orders.values() {
            *statuses.entry(order.status_id).or_default() += 1;
        }
        let multi = data
            .orders
            .values()
            .filter(|o| o.shipping_addresses.len() > 1)
            .count();
        let large = data.orders.values().filter(|o| o.lines.len() > 50).count();
        let lines: usize = data.orders.values().map(|o| o.lines.len()).sum();
        println!("statuses {statuses:?}; multi-address {multi}; >50 lines {large}; lines {lines}");
    }
}
