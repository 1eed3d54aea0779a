# Common recipes. `just --list` shows them.

# 1000 seeds of the simulation (the README's main command).
sim:
    cargo run --release -- sim --seed 42 --iterations 1000

# Check one of the reference histories.
check-example:
    cargo run --release -- check --model cas-register ../shared/histories/etcd/etcd_002.edn

# Install what the tests need and run all tests (the README's test command).
test:
    bash scripts/test.sh

# Build the SDK services bundle services/dist/services.js (npm ci, then esbuild).
make-services:
    cd services && npm ci --ignore-scripts --no-audit --no-fund && npm run build

# A real 3-node cluster on this machine: network namespaces, a bridge, sshd per node (root).
local-cluster-up nodes="3":
    cargo run --release -- cluster up --nodes {{nodes}}

# Remove everything local-cluster-up made.
local-cluster-down:
    cargo run --release -- cluster down

# Measure the speed figures (check, set-full, generator, interpreter).
bench:
    cargo run --release -- bench
