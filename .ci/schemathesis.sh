#!/usr/bin/env bash
# Schemathesis against a served hub: every operation of /api/v1/openapi.json is called with
# generated requests (valid and invalid) authenticated by an API key, and every answer is
# checked against the document with every check (schemathesis 4.x's default): no 5xx,
# documented statuses, content types, headers and response schemas, valid data accepted,
# invalid data refused, authentication enforced. Phases: examples, coverage, fuzzing, stateful.
# About 35 s on 2 cores at 100 examples (SCHEMATHESIS_MAX_EXAMPLES to change it).
#
# The hub is the real `cenports` binary (debug build) on a fresh SQLite database, connected to
# a `cenports sandbox` store and synced, so the store and order routes have data. Two
# schema-valid requests are refused by business rules a schema cannot state (docs/API.md):
# a shipment for an order with nothing left to ship (422 shipment_rejected), a stock set
# naming a SKU twice (422 validation_failed) and a batch of shipments naming orders that are not
# the store's (422 batch_refused) and a subscription URL whose host does not resolve to a public
# address (422 validation_failed); for those four operations 422 is listed as an
# expected status of positive_data_acceptance (schemathesis.toml below). Any other
# non-conformance fails the script, and CI with it.
#
# Schemathesis is installed from PyPI into a virtualenv under target/ on first run (as
# tests/it/third_party_python_client.rs does for the BigCommerce client) and reused afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
# Hypothesis pinned too: schemathesis allows newer ones, and 4.1.x broke on a newer one.
HYPOTHESIS_VERSION=6.170.17
# Examples per operation (the fuzzing phase; the coverage and stateful phases add their own).
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-100}

if ! command -v python3 >/dev/null 2>&1; then
  echo "NOTICE: python3 is not on PATH: SKIPPING schemathesis"
  exit 0
fi

cargo build -q -p cenports --bin cenports
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
cenports="$target_dir/debug/cenports"

venv="$target_dir/schemathesis-$SCHEMATHESIS_VERSION-hypothesis-$HYPOTHESIS_VERSION"
# The marker is written last: a venv without it is a half-made one from an interrupted run.
if [ ! -f "$venv/cenports-installed" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv" || { echo "could not create a virtualenv (on Debian, install python3-venv)"; exit 1; }
  "$venv/bin/pip" install --disable-pip-version-check -q "schemathesis==$SCHEMATHESIS_VERSION" "hypothesis==$HYPOTHESIS_VERSION"
  touch "$venv/cenports-installed"
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits up to 60 s for a URL to answer 200.
wait_for() {
  for _ in $(seq 1 600); do
    if python3 -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$1" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "no answer from $1"; return 1
}

sandbox_port=$(free_port)
RUST_LOG=warn "$cenports" sandbox --port "$sandbox_port" --orders 300 --products 40 --plan unlimited \
  --credentials-dir "$work/creds" >"$work/sandbox.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$sandbox_port/_sandbox/stores"
for _ in $(seq 1 100); do [ -f "$work/creds/merchant-guide.txt" ] && break; sleep 0.1; done

export CENPORTS_DATABASE_URL="sqlite://$work/hub.db"
export CENPORTS_KEY_FILE="$work/hub.key"
export CENPORTS_BIGCOMMERCE_API_URL="http://127.0.0.1:$sandbox_port"
export CENPORTS_LOG=warn
unset CENPORTS_CONFIG CENPORTS_SECRET_KEY CENPORTS_PUBLIC_URL
email=ci@cenports.example
"$cenports" connect --email "$email" --credentials-file "$work/creds/merchant-guide.txt" >/dev/null
"$cenports" sync --email "$email" >/dev/null
key=$("$cenports" api-key create --email "$email" --name schemathesis | grep -o 'cpk_[A-Za-z0-9_-]*' | head -n 1)
[ -n "$key" ] || { echo "no API key was printed"; exit 1; }

hub_port=$(free_port)
"$cenports" serve --listen "127.0.0.1:$hub_port" --no-poll >"$work/hub.log" 2>&1 &
pids+=($!)
wait_for "http://127.0.0.1:$hub_port/healthz"

cat >"$work/schemathesis.toml" <<'TOML'
[[operations]]
include-name = "POST /api/v1/stores/{store_id}/orders/{order_id}/shipments"
checks.positive_data_acceptance.expected-statuses = ["2XX", "404", "409", "422"]

[[operations]]
include-name = "PUT /api/v1/stores/{store_id}/stock"
checks.positive_data_acceptance.expected-statuses = ["2XX", "404", "409", "422"]

# A batch names orders by number: generated numbers are not the store's orders (422
# batch_refused, every row listed), as a shipment for an order with nothing left is.
[[operations]]
include-name = "POST /api/v1/stores/{store_id}/shipments/batch"
checks.positive_data_acceptance.expected-statuses = ["2XX", "404", "409", "422"]

# A subscription URL must resolve to a public address (or be this machine's): generated hosts
# do not resolve (422 validation_failed, naming the host), and an account has at most 20.
[[operations]]
include-name = "POST /api/v1/subscriptions"
checks.positive_data_acceptance.expected-statuses = ["2XX", "404", "422"]

# /logout takes a session or an API key, and the Authorization header wins (http/auth.rs). The
# key is on every request here (--header), so a request with a broken session cookie is still
# signed in by the key and answers 204: right for "session OR api_key", flagged by ignored_auth.
[[operations]]
include-name = "POST /logout"
checks.ignored_auth.enabled = false
TOML

echo "schemathesis $SCHEMATHESIS_VERSION against http://127.0.0.1:$hub_port ($MAX_EXAMPLES examples per operation)"
status=0
# From the temporary directory: schemathesis keeps its example database in ./.schemathesis.
cd "$work"
"$venv/bin/schemathesis" --config-file "$work/schemathesis.toml" run \
  "http://127.0.0.1:$hub_port/api/v1/openapi.json" \
  --header "Authorization: Bearer $key" \
  --max-examples "$MAX_EXAMPLES" \
  --seed 1 \
  --no-color || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- hub log (last 50 lines)"; tail -n 50 "$work/hub.log"
  echo "schemathesis: the API does not conform to its OpenAPI document (exit $status)"
fi
exit "$status"
