#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for SECONDS each (default 60) and prints a table:
# target | seconds | runs | cpu-s | crashes. Exits non-zero if any target crashed.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Working corpora live in fuzz/corpus/<target> (not committed): they start from the committed
# seeds (fuzz/seeds/<target>) and, when APKO_TESTDATA names the shared corpus, files derived
# from it (never copied into the repository). Crashes are written to fuzz/artifacts/<target>/,
# logs to fuzz/logs/<target>.log.
#
# Only the stable toolchain is needed: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags.
# FUZZ_SANITIZER=address (default) or none.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
sanitizer="${FUZZ_SANITIZER:-address}"
export RUSTC_BOOTSTRAP=1

if [ -z "${APKO_TESTDATA:-}" ] && [ -d ../shared/testdata ]; then
  APKO_TESTDATA="$(cd ../shared/testdata && pwd)"
fi

if ! command -v cargo-fuzz >/dev/null; then
  cargo install --locked cargo-fuzz
fi

# cargo-fuzz has no --locked: check that fuzz/Cargo.lock is current first.
cargo metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

echo "== building ${#targets[@]} fuzz targets (sanitizer: $sanitizer)"
cargo fuzz build -s "$sanitizer" >/dev/null

# add DIR: stores stdin in DIR under a name derived from its content.
add() {
  local tmp
  tmp="$(mktemp)"
  cat >"$tmp"
  if [ -s "$tmp" ]; then
    mv "$tmp" "$1/td-$(sha1sum <"$tmp" | cut -c1-16)"
  else
    rm -f "$tmp"
  fi
}

# files PATTERN MAX_BYTES: files of the shared corpus named PATTERN, at most MAX_BYTES long.
files() {
  find "$APKO_TESTDATA" -type f -name "$1" -size "-$(($2 / 512 + 1))" 2>/dev/null | sort
}

# Files derived from the shared corpus for one target's working corpus.
testdata_seeds() {
  local target="$1" dir="$2" f
  [ -n "${APKO_TESTDATA:-}" ] && [ -d "$APKO_TESTDATA" ] || return 0
  case "$target" in
    config)
      for f in $(files '*.yaml' 65536); do add "$dir" <"$f"; done ;;
    apkindex_text)
      for f in $(files APKINDEX 262144) $(files '*.repo' 65536) $(files '*.apk-2.14.4.txt' 262144); do
        add "$dir" <"$f"
      done
      for f in $(files APKINDEX.tar.gz 131072); do
        tar -xzOf "$f" APKINDEX 2>/dev/null | add "$dir" || true
      done ;;
    installed_db)
      for f in $(files installed 262144) $(files '*.installed*' 65536) \
               $(files bad-top-level-perms 65536) $(files wolfi-base 65536) \
               $(files redis-operator-compat 65536); do
        add "$dir" <"$f"
      done ;;
    version)
      # version.data lines are `a op b`: one input `a\nb` per line.
      for f in $(files version.data 262144); do
        awk '!/^#/ && NF >= 3 { print $1 "\n" $3 }' "$f" | split -l 2 - "$dir/td-version-$(basename "$(dirname "$f")")-"
      done ;;
    dependency)
      for f in $(files '*.repo' 65536); do
        grep -h '^[Dpi]:' "$f" | cut -c3- | tr ' ' '\n' || true
      done | sort -u | head -n 400 | split -l 1 - "$dir/td-dep-" || true ;;
    pkginfo)
      for f in $(files '*.apk' 262144); do
        tar -xzOf "$f" .PKGINFO 2>/dev/null | add "$dir" || true
      done ;;
    tar)
      for f in $(files '*.apk' 65536); do gzip -dc <"$f" 2>/dev/null | add "$dir" || true; done
      for f in $(files '*.tar' 65536); do add "$dir" <"$f"; done ;;
    package)
      for f in $(files '*.apk' 131072); do { printf '\0'; cat "$f"; } | add "$dir"; done ;;
    apkindex_targz)
      for f in $(files APKINDEX.tar.gz 131072); do { printf '\0'; cat "$f"; } | add "$dir"; done ;;
  esac
}

mkdir -p fuzz/logs
rows=()
failed=0
for t in "${targets[@]}"; do
  corpus="fuzz/corpus/$t"
  artifacts="fuzz/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  cp -n fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true
  testdata_seeds "$t" "$corpus"
  before="$(find "$artifacts" -type f | wc -l)"
  log="fuzz/logs/$t.log"
  timing="$(mktemp)"
  echo "== $t: ${seconds}s, $(find "$corpus" -type f | wc -l) inputs in $corpus"
  status=0
  timer=()
  [ -x /usr/bin/time ] && timer=(/usr/bin/time -f '%U %S' -o "$timing")
  "${timer[@]}" \
    cargo fuzz run -s "$sanitizer" "$t" "$corpus" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  cpu="$(awk 'NF == 2 { cpu = sprintf("%.1f", $1 + $2) } END { print (cpu == "" ? "?" : cpu) }' "$timing")"
  rm -f "$timing"
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
  if [ -z "$runs" ]; then
    runs="$(grep -o '^#[0-9]*' "$log" | tail -n1 | tr -d '#')"
  fi
  crashes=$(($(find "$artifacts" -type f | wc -l) - before))
  if [ "$status" -ne 0 ]; then
    failed=1
    [ "$crashes" -gt 0 ] || crashes="exit $status"
    echo "   FAILED (see $log)" >&2
    grep -a -m1 -A2 -E "panicked at|ERROR: " "$log" >&2 || true
  fi
  rows+=("$(printf '| %-18s | %7s | %10s | %7s | %7s |' "$t" "$seconds" "${runs:-?}" "$cpu" "$crashes")")
done

echo
printf '| %-18s | %7s | %10s | %7s | %7s |\n' target seconds runs cpu-s crashes
printf '|%s|%s|%s|%s|%s|\n' "--------------------" "---------" "------------" "---------" "---------"
printf '%s\n' "${rows[@]}"
exit "$failed"
