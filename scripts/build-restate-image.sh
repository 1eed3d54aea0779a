#!/usr/bin/env bash
# Builds a Restate server image `FROM scratch` around the static restate-server binary of the
# npm package (there is no registry to pull ghcr.io/restatedev/restate from here) and saves
# it as a docker-archive tarball, for `real --image TAG --image-tarball OUT.tar`.
# It only copies the binary in: restate-server is never run by this script.
#
#   scripts/build-restate-image.sh OUT.tar [TAG] [BINARY]
#
# TAG defaults to localhost/restate-jepsen:1.7.12, BINARY to the npm package's binary in
# .tools/ (scripts/test.sh installs it). Uses podman (runc, cgroupfs, no default ulimits:
# a containers.conf of its own unless CONTAINERS_CONF is set) with a storage of its own in
# a temporary folder, so nothing is left in the host's image store; or docker if there is
# no podman.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

out="${1:?usage: $0 OUT.tar [TAG] [BINARY]}"
tag="${2:-localhost/restate-jepsen:1.7.12}"
binary="${3:-$root/.tools/npm/node_modules/@restatedev/restate-server-linux-x64/bin/restate-server}"
[ -x "$binary" ] || { echo "no restate-server binary at $binary (scripts/test.sh installs it)" >&2; exit 1; }

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
if command -v podman >/dev/null; then
  # vfs: plain folders, no mounts to undo before the folder is removed.
  engine=(podman --root "$context/storage" --runroot "$context/run" --storage-driver vfs)
  if [ -z "${CONTAINERS_CONF:-}" ]; then
    printf '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n' \
      > "$context/containers.conf"
    export CONTAINERS_CONF="$context/containers.conf"
  fi
else
  engine=(docker)
fi

mkdir "$context/build"
# A hard link when the binary is on the same file system (it is 200+ MB), else a copy.
ln "$binary" "$context/build/restate-server" 2>/dev/null || cp "$binary" "$context/build/restate-server"
# The server loads the system's root certificates at start (and panics without any).
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[ -f "$ca_bundle" ] || { echo "no $ca_bundle: install ca-certificates" >&2; exit 1; }
cp "$ca_bundle" "$context/build/ca-certificates.crt"
cat > "$context/build/Containerfile" <<'EOF'
FROM scratch
COPY restate-server /usr/local/bin/restate-server
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
WORKDIR /
ENTRYPOINT ["/usr/local/bin/restate-server"]
EOF

"${engine[@]}" build --quiet --tag "$tag" --file "$context/build/Containerfile" "$context/build" >/dev/null
rm -f "$out"
if [ "${engine[0]}" = podman ]; then
  "${engine[@]}" save --quiet --format docker-archive --output "$out" "$tag"
else
  docker save --output "$out" "$tag"
fi
echo "$out: $tag"
