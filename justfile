# Daily recipes; each only calls the command the README documents.

# Start Clasp on its embedded defaults (./data).
serve:
    cargo run -p clasp -- serve

# The whole test suite, as CI runs it.
test:
    ./scripts/test.sh

# Formatting and lints.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings

# Benchmarks (docs/performance.md, docs/benchmarks.md): transfers beside nginx and SeaweedFS, listing pages.
bench *ARGS:
    ./scripts/bench.sh {{ARGS}}
