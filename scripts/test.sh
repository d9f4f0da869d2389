#!/usr/bin/env bash
# The whole test suite (the README's test command; .ci/run calls it).
#
# 1. unit, integration and doc tests of every crate (need nothing but Rust);
# 2. our output checked by real consumers (skopeo, umoci, runc, unshare, oci-image-tool, the OCI
#    schemas, pyspdxtools), installed by scripts/install-test-tools.sh (apt + a Python venv);
# 3. the conformance suite against the shared corpus, when `APKO_TESTDATA` is set or
#    `../shared/testdata` exists. It fails, never skips, when the corpus is set but incomplete.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${APKO_TESTDATA:-}" ] && [ -d ../shared/testdata ]; then
  APKO_TESTDATA="$(cd ../shared/testdata && pwd)"
  export APKO_TESTDATA
fi

echo "== unit, integration and doc tests"
cargo test --workspace --locked

echo "== installing the test consumers"
APKO_TEST_VENV="$(scripts/install-test-tools.sh | tail -n1)"
export APKO_TEST_VENV

echo "== real consumers (skopeo, umoci, runc, unshare, oci-image-tool, OCI schemas, pyspdxtools)"
cargo test --locked -p apko-cli --test consumers -- --ignored
echo "== merged package SBOMs (pyspdxtools, ntia-checker)"
# (--workspace, not -p: the same feature set as above, so nothing is rebuilt)
cargo test --workspace --locked --test it -- --ignored merged_documents_are_valid_spdx
echo "== signed attestations (securesystemslib, in-toto, in-toto-attestation, docker-registry)"
cargo test --locked -p apko-cli --test attestations -- --ignored
echo "== images read back from a registry (docker-registry): apko sbom, verify, verify-attestation"
cargo test --locked -p apko-cli --test pull -- --ignored
echo "== container engine and archive readers (podman, its Engine API, cpio, bsdtar)"
cargo test --locked -p apko-cli --test engines -- --ignored --skip podman_runs_the_alpine_repo_image
echo "== erofs images read by erofs-utils (fsck.erofs, dump.erofs, mkfs.erofs)"
cargo test --locked -p apko-fs --test erofs -- --ignored

if [ -n "${APKO_TESTDATA:-}" ]; then
  echo "== conformance suite (APKO_TESTDATA=$APKO_TESTDATA)"
  # (re-runs the consumer tests too: every ignored test; a few seconds)
  # apko's own examples need a checkout of apko's source (APKO_SOURCE): not part of CI.
  skip_source=(--skip apko_source_configs_load)
  if [ -n "${APKO_SOURCE:-}" ]; then skip_source=(); fi
  cargo test --workspace --locked -- --ignored --nocapture "${skip_source[@]}"
else
  echo "== conformance suite: NOT RUN (set APKO_TESTDATA to the shared testdata directory)"
fi
