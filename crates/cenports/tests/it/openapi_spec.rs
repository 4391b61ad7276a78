//! The API's OpenAPI document is valid OpenAPI 3.1, as judged by an independent validator:
//! PyPI's `openapi-spec-validator` (pinned to [`VALIDATOR_VERSION`]), installed once into a
//! virtualenv under Cargo's target directory. Skipped, with a notice, only where `python3` is
//! not on `PATH`. (That answers conform to the document is `tests/it/api.rs`.)

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::TempDir;

/// The validator version this test was written and verified against.
const VALIDATOR_VERSION: &str = "0.9.0";

#[test]
fn the_openapi_document_is_valid_openapi_3_1() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!(
            "\n*** NOTICE: python3 is not on PATH: SKIPPING the OpenAPI validation of the API \
             document. Install Python 3 to run it. ***\n"
        );
        return;
    }
    let python = validator_venv();
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

/// The python of a virtualenv holding the validator, made on first use and reused afterwards.
fn validator_venv() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("openapi-spec-validator-{VALIDATOR_VERSION}"));
    let python = venv.join("bin").join("python");
    // Written last: a venv without it is a half-made one from an interrupted run.
    let installed = venv.join("cenports-installed");
    if installed.exists() && python.exists() {
        return python;
    }
    let _ = std::fs::remove_dir_all(&venv);
    run(
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
        "create a virtualenv (on Debian, install python3-venv)",
    );
    run(
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("openapi-spec-validator=={VALIDATOR_VERSION}"),
        ]),
        "install openapi-spec-validator from PyPI",
    );
    std::fs::write(&installed, VALIDATOR_VERSION).unwrap();
    python
}

/// Runs a setup command, failing the test with its output if it fails.
fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("could not {what}: {command:?}: {error}"));
    assert!(
        output.status.success(),
        "could not {what}: {command:?} exited with {}\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
