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

# An EC2 cluster reachable from allow-source-cidr (e.g. 203.0.113.7/32); writes aws/nodes.txt (aws/README.md).
create-aws-cluster allow-source-cidr nodes="3" stack-name="restate-jepsen-cluster":
    cd aws && npm ci --ignore-scripts --no-audit --no-fund
    cd aws && node_modules/.bin/cdk deploy --no-notices --require-approval never \
        --outputs-file cdk-outputs.json \
        --context stack-name={{stack-name}} --context nodes={{nodes}} \
        --context allow-source-cidr={{allow-source-cidr}}
    cd aws && node_modules/.bin/tsx scripts/write-nodes.ts --stack {{stack-name}}

# Delete the EC2 cluster (every resource of its stack) and aws/nodes.txt, aws/private-key.pem.
destroy-aws-cluster stack-name="restate-jepsen-cluster":
    [ -x aws/node_modules/.bin/cdk ] || (cd aws && npm ci --ignore-scripts --no-audit --no-fund)
    cd aws && node_modules/.bin/cdk destroy --no-notices --force --context stack-name={{stack-name}}
    rm -f aws/nodes.txt aws/private-key.pem aws/cdk-outputs.json

# A real test against the EC2 cluster; flags after the nemesis go to `real` (e.g. --time-limit 120).
run-test workload="set-vo" nemesis="partition-random-node" *flags:
    cargo run --release -- real --nodes-file aws/nodes.txt --ssh-private-key aws/private-key.pem \
        --username admin --workload {{workload}} --nemesis {{nemesis}} {{flags}}

# A real 3-node cluster on this machine: network namespaces, a bridge, sshd per node (root).
local-cluster-up nodes="3":
    cargo run --release -- cluster up --nodes {{nodes}}

# Remove everything local-cluster-up made.
local-cluster-down:
    cargo run --release -- cluster down

# Measure the speed figures (check, set-full, generator, interpreter).
bench:
    cargo run --release -- bench
