//! The API's OpenAPI document is valid OpenAPI 3.1, as judged by an independent validator:
//! PyPI's `openapi-spec-validator` (pinned to [`VALIDATOR_VERSION`]), installed once into a
//! virtualenv under Cargo's target directory. Skipped, with a notice, only where `python3` is
//! not on `PATH`. (That answers conform to the document is `tests/it/api.rs`.)

use std::process::Command;

use crate::common::third_party::{pip_venv, python3_available};
use crate::common::TempDir;

/// The validator version this test was written and verified against.
const VALIDATOR_VERSION: &str = "0.9.0";

#[test]
fn the_openapi_document_is_valid_openapi_3_1() {
    if !python3_available("the OpenAPI validation of the API document") {
        return;
    }
    let python = pip_venv("openapi-spec-validator", VALIDATOR_VERSION);
    let dir = TempDir::new("openapi-spec");
    std::fs::create_dir_all(&dir.0).unwrap();
    let document = dir.0.join("openapi.json");
    std::fs::write(
        &document,
        serde_json::to_string_pretty(&cenports::server::openapi()).unwrap(),
    )
    .unwrap();
    let output = Command::new(&python)
        .arg("-c")
        .arg(
            "import json, sys\n\
             from openapi_spec_validator import validate\n\
             from openapi_spec_validator.validation import OpenAPIV31SpecValidator\n\
             spec = json.load(open(sys.argv[1]))\n\
             assert spec['openapi'].startswith('3.1'), spec['openapi']\n\
             validate(spec, cls=OpenAPIV31SpecValidator)\n\
             print('valid')\n",
        )
        .arg(&document)
        .output()
        .expect("the virtualenv's python runs");
    assert!(
        output.status.success() && String::from_utf8_lossy(&output.stdout).contains("valid"),
        "the document is not valid OpenAPI 3.1:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
