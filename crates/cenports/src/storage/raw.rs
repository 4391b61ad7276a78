//! The order as received, kept compressed.
//!
//! Every imported order keeps the channel's JSON exactly as it came (for support, audits and
//! fields the hub does not map yet). It is most of the bytes the hub writes: ≈ 6.7 kB per
//! channel's order with its lines, a third of the hub's CPU per imported order when it was
//! stored as text. LZ4 (`lz4_flex`, a block with its length in front) shrinks it about
//! fivefold for a fraction of that cost. Rows written before the compressed column existed
//! keep their text, marked `json`.

use super::UnknownValue;

/// How the `raw` column of an order is encoded.
pub(crate) const ENCODING_LZ4: &str = "lz4";
const ENCODING_JSON: &str = "json";

/// Compresses an order's JSON text for the `raw` column (encoding [`ENCODING_LZ4`]).
pub(crate) fn encode(json: &str) -> Vec<u8> {
    lz4_flex::compress_prepend_size(json.as_bytes())
}

/// The JSON text back from the `raw` column and its encoding.
pub(crate) fn decode(encoding: &str, bytes: Vec<u8>) -> Result<String, UnknownValue> {
    let text = match encoding {
        ENCODING_LZ4 => lz4_flex::decompress_size_prepended(&bytes)
            .map_err(|e| UnknownValue::new("LZ4 block of an order's raw JSON", &e.to_string()))?,
        ENCODING_JSON => bytes,
        other => return Err(UnknownValue::new("raw order encoding", other)),
    };
    String::from_utf8(text)
        .map_err(|_| UnknownValue::new("raw order text (not UTF-8)", &format!("{encoding} bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_round_trips_and_shrinks() {
        let order = format!(
            r#"{{"id":1,"status":"Awaiting Fulfillment","products":[{}]}}"#,
            (0..20)
                .map(|i| format!(
                    r#"{{"id":{i},"sku":"TEE-{i}","name":"Cotton tee","quantity":1}}"#
                ))
                .collect::<Vec<_>>()
                .join(",")
        );
        let stored = encode(&order);
        assert!(
            stored.len() * 3 < order.len(),
            "{} -> {}",
            order.len(),
            stored.len()
        );
        assert_eq!(decode(ENCODING_LZ4, stored).unwrap(), order);
    }

    #[test]
    fn rows_from_before_compression_read_as_text() {
        assert_eq!(
            decode("json", b"{\"id\":7}".to_vec()).unwrap(),
            "{\"id\":7}"
        );
    }

    #[test]
    fn damaged_bytes_are_an_error_not_a_panic() {
        let mut stored =
            encode(r#"{"id":1,"note":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#);
        stored.truncate(stored.len() / 2);
        assert!(decode(ENCODING_LZ4, stored).is_err());
        assert!(decode("zip", Vec::new()).is_err());
    }
}
