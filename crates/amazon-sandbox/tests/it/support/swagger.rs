//! Validates sandbox responses against the response schemas of Amazon's published models
//! (Swagger 2.0), read when present from `../shared/amazon/reference` beside the checkout
//! (they are not in the repository). The target response schema becomes the root of a JSON
//! Schema whose `definitions` are the model's, so `$ref: '#/definitions/...'` resolves as
//! written.
//!
//! Strictness: every object schema that lists `properties` and says nothing of
//! `additionalProperties` is closed (`additionalProperties: false`), so the sandbox cannot
//! invent fields or misspell one (a misspelt optional field would otherwise pass unnoticed).
//! Schemas under `allOf` stay open, since each part lists only its own properties.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

/// `<workspace>/../shared/amazon/reference`, if present.
pub fn reference_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/amazon/reference");
    dir.is_dir().then_some(dir)
}

/// One model, converted.
pub struct Spec {
    pub name: String,
    doc: Value,
}

impl Spec {
    pub fn load(dir: &Path, file: &str) -> Spec {
        let text = std::fs::read_to_string(dir.join(file)).expect("read model");
        let doc: Value = serde_json::from_str(&text).expect("model is JSON");
        Spec {
            name: file.to_string(),
            doc: convert(doc, false),
        }
    }

    /// Validates `body` against the documented response; panics with every violation.
    pub fn check(&self, path: &str, method: &str, status: u16, body: &Value) {
        let method = method.to_ascii_lowercase();
        let response = self
            .doc
            .pointer(&format!(
                "/paths/{}/{}/responses/{}",
                escape(path),
                method,
                status
            ))
            .unwrap_or_else(|| {
                panic!(
                    "{}: no documented {status} response for {method} {path}",
                    self.name
                )
            });
        let target = response.get("schema").cloned().unwrap_or_else(|| {
            panic!(
                "{}: the {status} response of {method} {path} has no schema",
                self.name
            )
        });
        let schema = json!({
            "allOf": [target],
            "definitions": self.doc.get("definitions").cloned().unwrap_or(Value::Null),
        });
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(false)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{}: schema for {method} {path}: {e}", self.name));
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| {
                let mut text = e.to_string();
                if text.len() > 300 {
                    let cut = (0..=300)
                        .rev()
                        .find(|i| text.is_char_boundary(*i))
                        .unwrap_or(0);
                    text = format!("{}... (schema path {})", &text[..cut], e.schema_path);
                }
                format!("  at {}: {}", e.instance_path, text)
            })
            .collect();
        assert!(
            errors.is_empty(),
            "{}: {method} {path} -> {status} does not conform:\n{}\nbody: {body}",
            self.name,
            errors.join("\n")
        );
    }

    /// Whether the model documents `status` for `method path` (with a schema).
    pub fn documents(&self, path: &str, method: &str, status: u16) -> bool {
        self.doc
            .pointer(&format!(
                "/paths/{}/{}/responses/{}/schema",
                escape(path),
                method.to_ascii_lowercase(),
                status
            ))
            .is_some()
    }
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Drops vendor keys and examples; closes object schemas outside `allOf`.
fn convert(value: Value, in_all_of: bool) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            let closable = !in_all_of
                && map.contains_key("properties")
                && !map.contains_key("additionalProperties");
            for (k, v) in map {
                if k.starts_with("x-") || k == "example" || k == "examples" {
                    continue;
                }
                let child_in_all_of = k == "allOf";
                let v = if k == "properties"
                    || k == "definitions"
                    || k == "paths"
                    || k == "responses"
                {
                    // Maps of names: convert each entry as a schema of its own.
                    match v {
                        Value::Object(entries) => Value::Object(
                            entries
                                .into_iter()
                                .map(|(name, e)| (name, convert(e, false)))
                                .collect(),
                        ),
                        other => other,
                    }
                } else if child_in_all_of {
                    match v {
                        Value::Array(parts) => {
                            Value::Array(parts.into_iter().map(|p| convert(p, true)).collect())
                        }
                        other => other,
                    }
                } else {
                    convert(v, false)
                };
                out.insert(k, v);
            }
            if closable {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(|v| convert(v, false)).collect()),
        other => other,
    }
}
