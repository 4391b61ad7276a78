//! Carriers, as the hub names them. Channel-agnostic: how a channel spells each one is the
//! channel's business (each channel's `fulfilment.rs`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A carrier a shipment travels with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Carrier {
    /// Canada Post.
    CanadaPost,
    /// UPS.
    Ups,
    /// FedEx.
    FedEx,
    /// USPS.
    Usps,
    /// DHL (Express).
    Dhl,
    /// Purolator.
    Purolator,
    /// Any other carrier, by the name the merchant gave (shown to the shopper as is).
    Custom(String),
}

/// The longest custom carrier name accepted (it becomes the shipment's shipping method).
pub const MAX_CUSTOM_NAME: usize = 100;

impl Carrier {
    /// The named carriers with their CLI spelling, in the order help texts list them.
    pub const KNOWN: [(&'static str, Carrier); 6] = [
        ("canada-post", Carrier::CanadaPost),
        ("ups", Carrier::Ups),
        ("fedex", Carrier::FedEx),
        ("usps", Carrier::Usps),
        ("dhl", Carrier::Dhl),
        ("purolator", Carrier::Purolator),
    ];

    /// The CLI and storage spelling: `canada-post`, ..., or `custom:<name>`.
    pub fn slug(&self) -> String {
        match self {
            Carrier::Custom(name) => format!("custom:{name}"),
            known => Self::KNOWN
                .iter()
                .find(|(_, c)| c == known)
                .map(|(slug, _)| (*slug).to_owned())
                .unwrap_or_default(),
        }
    }

    /// The name a person reads.
    pub fn display_name(&self) -> &str {
        match self {
            Carrier::CanadaPost => "Canada Post",
            Carrier::Ups => "UPS",
            Carrier::FedEx => "FedEx",
            Carrier::Usps => "USPS",
            Carrier::Dhl => "DHL",
            Carrier::Purolator => "Purolator",
            Carrier::Custom(name) => name,
        }
    }
}

impl fmt::Display for Carrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.slug())
    }
}

/// Why a carrier name was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown carrier {given:?}: use one of canada-post, ups, fedex, usps, dhl, purolator, or \
     custom:<name> for another carrier (e.g. custom:\"Speedy Couriers\")"
)]
pub struct UnknownCarrier {
    /// What was given.
    pub given: String,
}

impl FromStr for Carrier {
    type Err = UnknownCarrier;

    /// Case-insensitive, and forgiving about spaces and underscores (`Canada Post`,
    /// `canada_post`, `canadapost` are all Canada Post). `custom:NAME` keeps NAME as written.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let unknown = || UnknownCarrier {
            given: text.to_owned(),
        };
        if let Some((prefix, name)) = text.split_once(':') {
            let name = name.trim();
            if !prefix.trim().eq_ignore_ascii_case("custom")
                || name.is_empty()
                || name.chars().count() > MAX_CUSTOM_NAME
                || name.chars().any(char::is_control)
            {
                return Err(unknown());
            }
            return Ok(Carrier::Custom(name.to_owned()));
        }
        let key: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '_'))
            .flat_map(char::to_lowercase)
            .collect();
        match key.as_str() {
            "canadapost" => Ok(Carrier::CanadaPost),
            "ups" => Ok(Carrier::Ups),
            "fedex" => Ok(Carrier::FedEx),
            "usps" => Ok(Carrier::Usps),
            "dhl" | "dhlexpress" => Ok(Carrier::Dhl),
            "purolator" => Ok(Carrier::Purolator),
            _ => Err(unknown()),
        }
    }
}

impl From<Carrier> for String {
    fn from(carrier: Carrier) -> String {
        carrier.slug()
    }
}

impl TryFrom<String> for Carrier {
    type Error = UnknownCarrier;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_carriers_parse_forgivingly_and_round_trip_through_their_slug() {
        for (slug, carrier) in Carrier::KNOWN {
            assert_eq!(slug.parse::<Carrier>().unwrap(), carrier);
            assert_eq!(carrier.slug(), slug);
        }
        assert_eq!(
            "Canada Post".parse::<Carrier>().unwrap(),
            Carrier::CanadaPost
        );
        assert_eq!(
            "CANADA_POST".parse::<Carrier>().unwrap(),
            Carrier::CanadaPost
        );
        assert_eq!("FedEx".parse::<Carrier>().unwrap(), Carrier::FedEx);
    }

    #[test]
    fn a_custom_carrier_keeps_its_name_and_a_typo_is_refused_with_the_choices() {
        let custom: Carrier = "custom: Speedy Couriers".parse().unwrap();
        assert_eq!(custom, Carrier::Custom("Speedy Couriers".into()));
        assert_eq!(custom.slug(), "custom:Speedy Couriers");
        let error = "canda-post".parse::<Carrier>().unwrap_err().to_string();
        assert!(
            error.contains("canada-post") && error.contains("custom:<name>"),
            "{error}"
        );
        assert!("custom:".parse::<Carrier>().is_err());
        assert!("other:x".parse::<Carrier>().is_err());
    }
}
