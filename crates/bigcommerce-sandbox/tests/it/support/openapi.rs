//! Validates sandbox responses against the response schemas of BigCommerce's official OpenAPI
//! descriptions, read when present from `../shared/bigcommerce/reference` beside the checkout
//! (they are not in the repository). OpenAPI 3.0 schemas are turned into JSON
//! Schema (`nullable` becomes a `null` alternative) and the whole document is kept as the root
//! so that `$ref: '#/components/...'` resolves as written.

use std::path::PathBuf;

use serde_json::{json, Map, Value};

/// Where the reference folder is, if present: `<workspace>/../shared/bigcommerce/reference`.
pub fn reference_dir() -> Option<PathBuf> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bigcommerce/reference");
    dir.is_dir().then_some(dir)
}

/// One OpenAPI document, converted to JSON Schema.
pub struct Spec {
    pub name: String,
    doc: Value,
    /// The document as written, examples included.
    raw: Value,
}

impl Spec {
    /// Loads `reference/<file>`.
    pub fn load(dir: &std::path::Path, file: &str) -> Spec {
        let text = std::fs::read_to_string(dir.join(file)).expect("read spec");
        let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("parse spec yaml");
        let doc: Value = serde_json::to_value(yaml).expect("spec as json");
        Spec {
            name: file.to_string(),
            raw: doc.clone(),
            doc: convert(doc),
        }
    }

    /// The JSON pointer of the response schema for `method path -> status`.
    fn response_schema_pointer(&self, path: &str, method: &str, status: u16) -> Option<String> {
        let method = method.to_ascii_lowercase();
        let op = self.doc.get("paths")?.get(path)?.get(&method)?;
        let mut response = op.get("responses")?.get(status.to_string())?;
        let mut pointer;
        if let Some(reference) = response.get("$ref").and_then(Value::as_str) {
            pointer = reference.trim_start_matches('#').to_string();
            response = self.doc.pointer(&pointer)?;
        } else {
            pointer = format!("/paths/{}/{}/responses/{}", escape(path), method, status);
        }
        let content = response.get("content")?;
        let media = if content.get("application/json").is_some() {
            "application/json"
        } else {
            content.as_object()?.keys().next()?.as_str()
        };
        content.get(media)?.get("schema")?;
        pointer.push_str(&format!("/content/{}/schema", escape(media)));
        Some(pointer)
    }

    /// The documented JSON examples of `method path -> status`, by name: the media type's
    /// `example`, and each of its `examples` (`value`, or a `$ref` to `components/examples`).
    pub fn examples(&self, path: &str, method: &str, status: u16) -> Vec<(String, Value)> {
        let resolve = |value: &Value| -> Option<Value> {
            match value.get("$ref").and_then(Value::as_str) {
                Some(reference) => self.raw.pointer(reference.trim_start_matches('#')).cloned(),
                None => Some(value.clone()),
            }
        };
        let Some(response) = self
            .raw
            .get("paths")
            .and_then(|p| p.get(path))
            .and_then(|p| p.get(method.to_ascii_lowercase()))
            .and_then(|op| op.get("responses"))
            .and_then(|r| r.get(status.to_string()))
            .and_then(resolve)
        else {
            return Vec::new();
        };
        let Some(media) = response
            .get("content")
            .and_then(|c| c.get("application/json"))
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(example) = media.get("example") {
            out.push(("example".to_string(), example.clone()));
        }
        if let Some(Value::Object(examples)) = media.get("examples") {
            for (name, example) in examples {
                if let Some(value) = resolve(example).and_then(|e| e.get("value").cloned()) {
                    out.push((name.clone(), value));
                }
            }
        }
        out
    }

    /// Validates `body` against the documented response; panics with every violation.
    pub fn check(&self, path: &str, method: &str, status: u16, body: &Value) {
        let pointer = self
            .response_schema_pointer(path, method, status)
            .unwrap_or_else(|| {
                panic!(
                    "{}: no documented {status} JSON response for {method} {path}",
                    self.name
                )
            });
        // The target schema becomes the root, with `components` beside it so that its
        // `$ref: '#/components/...'` resolve as written.
        let target = self
            .doc
            .pointer(&pointer)
            .cloned()
            .expect("pointer resolves");
        let schema = json!({
            "allOf": [target],
            "components": self.doc.get("components").cloned().unwrap_or(Value::Null),
        });
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
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
            "{}: {method} {path} -> {status} does not conform:\n{}",
            self.name,
            errors.join("\n")
        );
    }
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Properties whose description says they can be `null` while their schema types them without
/// `nullable`: `base_variant_id` ("`null` for complex products") and `option_set_id` (a legacy
/// option set, absent on most products). They are read as nullable.
const NULLABLE_BY_DESCRIPTION: [&str; 2] = ["base_variant_id", "option_set_id"];

/// OpenAPI 3.0 -> JSON Schema: `nullable: true` (and the OpenAPI 2 leftover `x-nullable: true`
/// some inline schemas still carry) admits `null`; examples and vendor keys go.
/// `oneOf` is read as `anyOf`: the specs use it for alternatives that overlap (a resource link
/// `{url, resource}` also satisfies an object schema with no required fields), which strict
/// `oneOf` would reject whichever shape is sent.
fn convert(value: Value) -> Value {
    match value {
        Value::Object(mut map) => {
            if let Some(Value::Object(properties)) = map.get_mut("properties") {
                for name in NULLABLE_BY_DESCRIPTION {
                    if let Some(Value::Object(property)) = properties.get_mut(name) {
                        property.insert("nullable".into(), Value::Bool(true));
                    }
                }
            }
            let nullable = map.get("nullable").and_then(Value::as_bool) == Some(true)
                || map.get("x-nullable").and_then(Value::as_bool) == Some(true);
            let mut out = Map::new();
            for (k, v) in map {
                if k == "nullable" || k == "example" || k == "examples" || k.starts_with("x-") {
                    continue;
                }
                let k = if k == "oneOf" { "anyOf".to_string() } else { k };
                out.insert(k, convert(v));
            }
            if nullable {
                match out.get("type").cloned() {
                    Some(Value::String(t)) => {
                        out.insert("type".into(), json!([t, "null"]));
                        if let Some(Value::Array(values)) = out.get_mut("enum") {
                            values.push(Value::Null);
                        }
                    }
                    _ => {
                        return json!({"anyOf": [Value::Object(out), {"type": "null"}]});
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(convert).collect()),
        other => other,
    }
}
