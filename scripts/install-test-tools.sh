#!/usr/bin/env bash
# Installs the real consumers the test suite checks our output with (Debian/Ubuntu):
# skopeo, umoci, runc, podman, oci-image-tool, the CNCF registry (docker-registry), the OCI image-spec
# JSON schemas, and a Python venv with
# pyspdxtools (spdx-tools), ntia-checker, jsonschema, pyjks, cyclonedx-python-lib (its JSON
# validator), securesystemslib, in-toto and in-toto-attestation (DSSE envelopes, statements); openssl, bzip2, cpio and bsdtar. Idempotent; prints where the venv is.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for cmd in skopeo umoci runc oci-image-tool docker-registry; do
  command -v "$cmd" >/dev/null || need+=("$cmd")
done
[ -d /usr/share/gocode/src/github.com/opencontainers/image-spec/schema ] || need+=(golang-github-opencontainers-image-spec-dev)
command -v unshare >/dev/null || need+=(util-linux)
command -v podman >/dev/null || need+=(podman)     # a real engine: load, run, Engine API
command -v fsck.erofs >/dev/null || need+=(erofs-utils)   # checks erofs layers
command -v cpio >/dev/null || need+=(cpio)         # reads build-cpio archives
command -v bsdtar >/dev/null || need+=(libarchive-tools)
command -v bzip2 >/dev/null || need+=(bzip2)   # a small glibc program for the ld.so.cache test
command -v openssl >/dev/null || need+=(openssl)
python3 -c 'import venv' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

VENV=target/test-venv
if [ ! -x "$VENV/bin/pyspdxtools" ] || [ ! -x "$VENV/bin/ntia-checker" ] \
   || ! "$VENV/bin/python" -c 'import jsonschema, referencing, jks, cyclonedx.validation.json, securesystemslib.dsse, in_toto.models.metadata, in_toto_attestation.v1.statement' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check spdx-tools ntia-conformance-checker \
    'jsonschema>=4.18' referencing pyjks 'cyclonedx-python-lib[json-validation]' \
    'securesystemslib[crypto]' in-toto in-toto-attestation
fi
echo "$PWD/$VENV"
