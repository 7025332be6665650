#!/usr/bin/env bash
# The cargo-fuzz targets of fuzz/ (see docs/reliability.md), over the corpora
# committed in fuzz/corpus/<target>. Installs cargo-fuzz into the git-ignored
# .tools/cargo-fuzz if missing. Builds with the stable toolchain
# (RUSTC_BOOTSTRAP=1 lets it take the -Z flags libFuzzer's instrumentation
# needs) and no sanitizer: Clasp forbids unsafe code, and AddressSanitizer
# would need a nightly standard library.
#
#   scripts/fuzz.sh smoke [TARGET...]  build, run each for 10 s (the test command)
#   scripts/fuzz.sh long [TARGET...]   run each for FUZZ_SECONDS (600), growing its corpus
#   scripts/fuzz.sh cmin [TARGET...]   minimise the corpora after long runs
#
# Any crash or failed assertion fails the script; libFuzzer leaves the input in
# fuzz/artifacts/<target>/ and `cargo fuzz run TARGET FILE` (in fuzz/) replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.13.2
ALL=(sanitize_filename content_disposition signed_url cases_query multipart_upload)
say() { echo "fuzz: $*" >&2; }

mode=${1:-smoke}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL[@]}")

cargo_fuzz_bin=$(scripts/cargo-tool.sh cargo-fuzz "$VERSION") \
  || { say "could not install cargo-fuzz from crates.io"; exit 1; }

export RUSTC_BOOTSTRAP=1
# The smoke run (in the test command) builds unoptimised, which compiles in a
# fraction of the time and still runs thousands of inputs in its 20 s; long
# runs and cmin build optimised, for executions per second.
if [ "$mode" = smoke ]; then
  flags=(--sanitizer none --dev)
else
  flags=(--sanitizer none --release --debug-assertions)
fi
cargo_fuzz() { (cd fuzz && "$cargo_fuzz_bin" "$@"); }

# libFuzzer options common to every run: inputs up to 64 KiB (the multipart
# bodies), a hang is a finding after 10 s, and the target's dictionary if any.
options() {
  local opts=(-max_len=65536 -timeout=10)
  [ -f "fuzz/dict/$1.dict" ] && opts+=("-dict=dict/$1.dict")
  echo "${opts[@]}"
}

say "building the targets"
cargo_fuzz build "${flags[@]}" >&2
case "$mode" in
  smoke)
    for t in "${targets[@]}"; do
      scratch=$(mktemp -d)
      say "$t: 10 s over fuzz/corpus/$t"
      # New inputs go to a scratch directory: the committed corpus is only read.
      # shellcheck disable=SC2046
      cargo_fuzz run "${flags[@]}" "$t" "$scratch" "corpus/$t" -- $(options "$t") \
        -max_total_time=10 -runs=300000 -print_final_stats=1 2>"$scratch.log" \
        || { tail -n 60 "$scratch.log" >&2; rm -rf "$scratch" "$scratch.log"; say "$t FAILED"; exit 1; }
      grep -E '^(Done|stat::number_of_executed_units)' "$scratch.log" >&2 || true
      rm -rf "$scratch" "$scratch.log"
    done
    ;;
  long)
    seconds=${FUZZ_SECONDS:-600}
    for t in "${targets[@]}"; do
      mkdir -p "fuzz/corpus/$t"
      say "$t: $seconds s, growing fuzz/corpus/$t"
      start=$(date +%s)
      # shellcheck disable=SC2046
      cargo_fuzz run "${flags[@]}" "$t" "corpus/$t" -- $(options "$t") \
        -max_total_time="$seconds" -print_final_stats=1
      say "$t: $(($(date +%s) - start)) s wall, corpus $(find "fuzz/corpus/$t" -type f | wc -l) files"
    done
    ;;
  cmin)
    for t in "${targets[@]}"; do
      cargo_fuzz cmin "${flags[@]}" "$t" "corpus/$t" -- -max_len=65536
    done
    ;;
  *)
    say "unknown mode $mode (smoke, long or cmin)"
    exit 2
    ;;
esac
