//! Stock out: the levels the push writes and how a channel answers a batch.

/// The two kinds of write a channel offers, each with its own batch limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteKind {
    /// One level per variant: a SKU with a level of its own.
    Variant,
    /// One level per product, shared by the product's SKUs.
    Product,
}

impl WriteKind {
    /// `variant` or `product`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Variant => "variant",
            Self::Product => "product",
        }
    }
}

/// Where a level is written, by the channel's ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A variant's level.
    Variant {
        /// Its product.
        product_id: String,
        /// The variant.
        variant_id: String,
    },
    /// A product's level.
    Product {
        /// The product.
        product_id: String,
    },
}

impl Target {
    /// The kind of write.
    pub fn kind(&self) -> WriteKind {
        match self {
            Self::Variant { .. } => WriteKind::Variant,
            Self::Product { .. } => WriteKind::Product,
        }
    }

    /// The id the write and the read-back address: the variant's or the product's.
    pub fn id(&self) -> &str {
        match self {
            Self::Variant { variant_id, .. } => variant_id,
            Self::Product { product_id } => product_id,
        }
    }
}

/// One level to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The SKU it is for.
    pub sku: String,
    /// Where.
    pub target: Target,
    /// The level: the SKU's available quantity.
    pub level: i64,
    /// What the store last reported (`None`: never seen).
    pub reported: Option<i64>,
}

/// A channel's answer to a batch write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Every item was applied.
    Applied,
    /// Nothing was applied: the channel refused the batch, naming the refused items by their
    /// index in the batch (empty: it named none) and saying why.
    Rejected {
        /// `(index in the batch, the channel's message)`.
        items: Vec<(usize, String)>,
        /// The batch-level message (title), for a rejection that names no item.
        message: String,
    },
}
