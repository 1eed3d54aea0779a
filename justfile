# Common recipes. `just --list` shows them.

# Check one of the reference histories (the README's main command).
check-example:
    cargo run --release -- check --model cas-register ../shared/histories/etcd/etcd_002.edn

# Install what the tests need and run all tests (the README's test command).
test:
    bash scripts/test.sh
