//! Compares the sandbox's responses with the response **examples** of BigCommerce's official
//! OpenAPI descriptions, field by field and nested: every key of an example must be in the
//! sandbox's answer for the same resource, with a value of the same shape. Values differ by
//! data, so what is compared is the shape: JSON type, and for strings their kind (empty,
//! numeric such as `"69"` or `"12.3400"`, RFC 2822 date, ISO 8601 date, other text).
//!
//! Rules, chosen to compare what a client relies on and nothing that is only data:
//! - `null` on either side matches anything (a value may be unset); an empty string matches
//!   any string; integers and floats are both numbers.
//! - Arrays: each element of the example is compared with one element of the sandbox's array:
//!   the one with the same `type` when elements carry a string `type` (order product options
//!   differ by type), else the one at the same index (or the last). An element whose `type`
//!   the sandbox's array does not have is reported as not covered, so a test must make the
//!   sandbox produce every kind the example shows, or list the kind as a known difference.
//!   An empty array in the sandbox's answer has nothing to compare.
//! - Known differences are given as the last segments of a path (`zip`, `data.map_price`),
//!   `*` for any array index, and are documented in docs/SANDBOX.md ("Known differences from
//!   the documented examples").

use serde_json::Value;

/// One known, intentional difference: `path` is the field (`*` for any array index), `why`
/// the reason (also in docs/SANDBOX.md).
pub struct Known {
    pub path: &'static str,
    pub why: &'static str,
}

/// docs/SANDBOX.md, which must list every known difference by its path.
pub fn assert_documented(known: &[Known]) {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/SANDBOX.md"),
    )
    .expect("read docs/SANDBOX.md");
    for k in known {
        assert!(
            doc.contains(&format!("`{}`", k.path)),
            "docs/SANDBOX.md does not list the known difference `{}` ({})",
            k.path,
            k.why
        );
    }
}

/// The kind of a JSON value, for comparison.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::String(s) => string_kind(s),
    }
}

fn string_kind(s: &str) -> &'static str {
    if s.is_empty() {
        return "empty string";
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next().unwrap_or("0");
    if !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && !fraction.is_empty()
        && fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return "numeric string";
    }
    if chrono::DateTime::parse_from_rfc2822(s).is_ok() {
        return "RFC 2822 date";
    }
    if chrono::DateTime::parse_from_rfc3339(s).is_ok()
        || chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z").is_ok()
    {
        return "ISO 8601 date";
    }
    "text"
}

fn compatible(example: &Value, actual: &Value) -> bool {
    let (e, a) = (kind(example), kind(actual));
    let both_strings = example.is_string() && actual.is_string();
    e == a
        || e == "null"
        || a == "null"
        || both_strings && (e == "empty string" || a == "empty string")
}

/// Every difference between `example` and `actual` at `path`, as `path: what`.
pub fn differences(example: &Value, actual: &Value, known: &[Known]) -> Vec<String> {
    let mut out = Vec::new();
    walk("", example, actual, &mut out);
    out.retain(|line| {
        let path = line.split(':').next().unwrap_or("");
        !known.iter().any(|k| matches_path(k.path, path))
    });
    out
}

/// `pattern` matches the last segments of `path`: `zip` matches `0.billing_address.zip`; `*`
/// stands for any array index, and `*(type=File Upload)` for any index of an element not
/// covered for that type.
fn matches_path(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern.split('.').collect();
    let q: Vec<&str> = path.split('.').collect();
    if p.len() > q.len() {
        return false;
    }
    p.iter().zip(&q[q.len() - p.len()..]).all(|(p, q)| {
        p == q
            || p.strip_prefix('*').is_some_and(|rest| {
                q.strip_suffix(rest).is_some_and(|index| {
                    !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit())
                })
            })
    })
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(path: &str, example: &Value, actual: &Value, out: &mut Vec<String>) {
    match (example, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, e_value) in e {
                let here = join(path, key);
                match a.get(key) {
                    None => out.push(format!("{here}: missing (example: {e_value})")),
                    Some(a_value) => walk(&here, e_value, a_value, out),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if a.is_empty() {
                return;
            }
            for (index, e_item) in e.iter().enumerate() {
                let here = join(path, &index.to_string());
                let typed = e_item.get("type").and_then(Value::as_str);
                let counterpart = match typed {
                    Some(t) if a.iter().all(|x| x.get("type").is_some()) => a
                        .iter()
                        .find(|x| x.get("type").and_then(Value::as_str) == Some(t)),
                    _ => a.get(index).or_else(|| a.last()),
                };
                match counterpart {
                    Some(a_item) => walk(&here, e_item, a_item, out),
                    None => out.push(format!(
                        "{here}(type={}): not covered (the sandbox's answer has no element of this type)",
                        typed.unwrap_or("")
                    )),
                }
            }
        }
        _ => {
            if !compatible(example, actual) {
                out.push(format!(
                    "{path}: {} in the sandbox ({actual}), {} in the example ({example})",
                    kind(actual),
                    kind(example)
                ));
            }
        }
    }
}

/// Every difference, not in `known`, between `actual` and each documented example of
/// `method path -> status`, prefixed with the spec, the operation and the example's name. An
/// operation without an example is itself reported: the caller named the wrong one.
pub fn compare(
    spec: &super::openapi::Spec,
    path: &str,
    method: &str,
    status: u16,
    actual: &Value,
    known: &[Known],
) -> Vec<String> {
    let examples = spec.examples(path, method, status);
    if examples.is_empty() {
        return vec![format!(
            "{}: no documented example for {method} {path} -> {status}",
            spec.name
        )];
    }
    let mut report = Vec::new();
    for (name, example) in &examples {
        for line in differences(example, actual, known) {
            report.push(format!("{} {method} {path} [{name}] {line}", spec.name));
        }
    }
    report
}
