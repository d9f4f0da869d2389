#!/usr/bin/env bash
# The whole test suite (the README's test command; .ci/run calls it).
#
# * unit, integration and doc tests of every crate;
# * the conformance suite against the shared corpus, when `APKO_TESTDATA` is set or
#   `../shared/testdata` exists. It fails, never skips, when the corpus is set but incomplete.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${APKO_TESTDATA:-}" ] && [ -d ../shared/testdata ]; then
  APKO_TESTDATA="$(cd ../shared/testdata && pwd)"
  export APKO_TESTDATA
fi

echo "== unit, integration and doc tests"
cargo test --workspace --locked

if [ -n "${APKO_TESTDATA:-}" ]; then
  echo "== conformance suite (APKO_TESTDATA=$APKO_TESTDATA)"
  cargo test --workspace --locked -- --ignored --nocapture
else
  echo "== conformance suite: NOT RUN (set APKO_TESTDATA to the shared testdata directory)"
fi
