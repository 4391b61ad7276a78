//! Amounts as people read them: `$104.60 CAD`, `€1,250.00 EUR`, `¥1,200 JPY`.
//!
//! Storage keeps amounts exact, as the channel sent them (`104.6000`); the dashboard shows
//! them rounded to the currency's minor unit (half away from zero, as a receipt rounds), with
//! thousands separated by commas, the currency's symbol in front when it has a common one and
//! the ISO code after, so `$` is never ambiguous between dollars. Conventions are English
//! ones (`1,234.50`) whatever the currency: the dashboard is in English.
//!
//! A table of a dozen currencies rather than a dependency: the symbols and minor units of
//! ISO 4217 that shops use; any other code is shown with two decimals and its code only.

use rust_decimal::{Decimal, RoundingStrategy};

/// The symbol and the digits after the decimal point of a currency, by ISO 4217 code.
fn convention(code: &str) -> (Option<&'static str>, u32) {
    match code {
        "USD" | "CAD" | "AUD" | "NZD" | "SGD" | "HKD" | "MXN" => (Some("$"), 2),
        "EUR" => (Some("€"), 2),
        "GBP" => (Some("£"), 2),
        "JPY" => (Some("¥"), 0),
        "KRW" => (Some("₩"), 0),
        "INR" => (Some("₹"), 2),
        "CHF" | "SEK" | "NOK" | "DKK" | "PLN" | "CZK" => (None, 2),
        "ISK" | "CLP" | "VND" => (None, 0),
        "BHD" | "KWD" | "OMR" | "JOD" | "TND" => (None, 3),
        _ => (None, 2),
    }
}

/// `amount` in `currency` (an ISO 4217 code; case and spaces are forgiven) as people read it.
pub fn format_money(amount: Decimal, currency: &str) -> String {
    let code = currency.trim().to_ascii_uppercase();
    let (symbol, digits) = convention(&code);
    let rounded = amount.round_dp_with_strategy(digits, RoundingStrategy::MidpointAwayFromZero);
    let negative = rounded.is_sign_negative() && !rounded.is_zero();
    let text = format!("{:.*}", digits as usize, rounded.abs());
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text.as_str(), None),
    };
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let number = match fraction {
        Some(f) => format!("{grouped}.{f}"),
        None => grouped,
    };
    let sign = if negative { "-" } else { "" };
    match (symbol, code.is_empty()) {
        (_, true) => format!("{sign}{number}"),
        (Some(symbol), false) => format!("{sign}{symbol}{number} {code}"),
        (None, false) => format!("{sign}{number} {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    #[test]
    fn stored_four_decimal_strings_read_as_prices() {
        assert_eq!(format_money(d("104.6000"), "CAD"), "$104.60 CAD");
        assert_eq!(format_money(d("0.0000"), "USD"), "$0.00 USD");
        assert_eq!(format_money(d("1250"), "eur"), "€1,250.00 EUR");
        assert_eq!(format_money(d("1234567.891"), "GBP"), "£1,234,567.89 GBP");
        assert_eq!(format_money(d("999.9950"), "USD"), "$1,000.00 USD");
        assert_eq!(format_money(d("100"), "USD"), "$100.00 USD");
        assert_eq!(format_money(d("100000"), "USD"), "$100,000.00 USD");
    }

    #[test]
    fn minor_units_rounding_and_signs_follow_the_currency() {
        assert_eq!(format_money(d("1200.5000"), "JPY"), "¥1,201 JPY");
        assert_eq!(format_money(d("2.0045"), "KWD"), "2.005 KWD");
        assert_eq!(format_money(d("0.125"), "CHF"), "0.13 CHF");
        assert_eq!(format_money(d("-0.125"), "USD"), "-$0.13 USD");
        assert_eq!(format_money(d("-0.001"), "USD"), "$0.00 USD");
        assert_eq!(format_money(d("-1234.5"), "SEK"), "-1,234.50 SEK");
        assert_eq!(format_money(d("7.1"), "XYZ"), "7.10 XYZ");
        assert_eq!(format_money(d("7.1"), ""), "7.10");
    }
}
