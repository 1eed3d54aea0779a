#!/usr/bin/env bash
# Installs what the tests need on a fresh machine (idempotently), then runs every test.
# This is the README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cc >/dev/null || need_apt+=(build-essential)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
# The real cluster on this machine (`cluster up`): namespaces, sshd per node, ssh, ps/pkill,
# unshare; iptables for the partition faults; npm for restate-server.
[ -x /usr/sbin/ip ] || command -v ip >/dev/null || need_apt+=(iproute2)
[ -x /usr/sbin/iptables ] || command -v iptables >/dev/null || need_apt+=(iptables)
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v ssh >/dev/null || need_apt+=(openssh-client)
command -v pkill >/dev/null || need_apt+=(procps)
command -v unshare >/dev/null || need_apt+=(util-linux)
command -v npm >/dev/null || need_apt+=(npm)
# Restate in containers on those nodes (`--image`): podman as `docker` (podman-docker, in
# /usr/bin: a Docker client elsewhere on PATH does not count), run by runc; the image is
# built FROM scratch with the system's root certificates (scripts/build-restate-image.sh).
[ -x /usr/bin/podman ] || need_apt+=(podman)
[ -x /usr/bin/docker ] || need_apt+=(podman-docker)
command -v runc >/dev/null || need_apt+=(runc)
[ -f /etc/ssl/certs/ca-certificates.crt ] || need_apt+=(ca-certificates)
# Headless Chromium opens the HTML reports in the report's browser test (cli/tests/report_chromium.rs).
command -v chromium >/dev/null || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # No service may start on install (no sshd on the host's network, ever): Debian's
  # policy-rc.d answer 101 forbids it; put one there for the install if the machine has none.
  own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
  fi
  apt-get install -y -qq "${need_apt[@]}" || { [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d; exit 1; }
  [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
fi
# A one-node Slurm cluster (Debian's slurm-wlm and munge) for the sweep test
# (cli/tests/sweep.rs), installed and started idempotently.
bash scripts/slurm-up.sh
command -v cargo >/dev/null || { echo "cargo is missing: install the Rust toolchain (rustup)" >&2; exit 1; }
cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt

if [ ! -d ../shared/histories ]; then
  echo "../shared/histories is missing: the reference histories must sit beside the repository" >&2
  exit 1
fi

# restate-server and restatectl 1.7.12 (static x86-64 binaries in npm packages) for the
# real-cluster tests, into the project's own git-ignored folder. No install scripts run.
restate_version=1.7.12
npm_dir=.tools/npm
if ! grep -qs "\"version\": \"$restate_version\"" "$npm_dir/node_modules/@restatedev/restate-server-linux-x64/package.json" \
  || ! grep -qs "\"version\": \"$restate_version\"" "$npm_dir/node_modules/@restatedev/restatectl-linux-x64/package.json"; then
  mkdir -p "$npm_dir"
  npm install --prefix "$npm_dir" --ignore-scripts --no-audit --no-fund --silent \
    "@restatedev/restate-server@$restate_version" "@restatedev/restatectl@$restate_version"
fi

# The SDK services (services/): `npm ci` when the lock file changed since the last install
# (no install scripts run: esbuild's binary comes in its platform package), then the bundle
# services/dist/services.js that the services test runs on a node.
if ! cmp -s services/package-lock.json services/node_modules/.installed-package-lock.json; then
  (cd services && npm ci --ignore-scripts --no-audit --no-fund --silent)
  cp services/package-lock.json services/node_modules/.installed-package-lock.json
fi
(cd services && npm run --silent build)

# The AWS CDK app (aws/): `npm ci` when its lock file changed since the last install (no
# install scripts run), for the offline `cdk synth` test (cli/tests/aws_stack.rs).
if ! cmp -s aws/package-lock.json aws/node_modules/.installed-package-lock.json; then
  (cd aws && npm ci --ignore-scripts --no-audit --no-fund --silent)
  cp aws/package-lock.json aws/node_modules/.installed-package-lock.json
fi

cargo fmt --all -- --check
cargo test --workspace --release 2>&1
