#!/usr/bin/env bash
# Builds slipway/node:local, a base image for packaging/Dockerfile on a machine that cannot pull one: the
# busybox rootfs of slipway/busybox:latest (scripts/setup-docker.sh) plus this machine's Node.js and git
# (the server mirrors repositories and runners check them out with git), each with the shared libraries
# ldd says it needs, and the CA certificates. Idempotent: nothing is done when the image exists for this
# Node.js version. A real build uses a real base image instead (docs/server.md: the multi-arch build).
set -euo pipefail

log() { echo "build-base-image: $*" >&2; }

node_bin="$(command -v node)"
version="$("$node_bin" --version)"
tag="slipway/node:local"
if [ "$(docker image inspect -f '{{index .Config.Labels "dev.slipway.node"}}' "$tag" 2>/dev/null || true)" = "$version" ]; then
  exit 0
fi
docker image inspect slipway/busybox:latest >/dev/null 2>&1 || {
  log "slipway/busybox:latest is missing: run scripts/setup-docker.sh first"
  exit 1
}
log "building $tag (node $version)"
rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
# The busybox image's files, as they are.
cid="$(docker create slipway/busybox:latest)"
docker export "$cid" | tar -C "$rootfs" -x
docker rm "$cid" >/dev/null

# A file and the libraries it loads, at the same paths.
copy_with_libs() {
  local f="$1"
  mkdir -p "$rootfs$(dirname "$f")"
  cp -a "$f" "$rootfs$f"
  ldd "$f" 2>/dev/null | awk '/=> \// { print $3 } /^\s*\/[^ ]+ \(/ { print $1 }' | while read -r lib; do
    [ -e "$rootfs$lib" ] && continue
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
}
copy_with_libs "$node_bin"
[ "$node_bin" = /usr/bin/node ] || ln -sf "$node_bin" "$rootfs/usr/bin/node"
if command -v git >/dev/null 2>&1; then
  copy_with_libs "$(command -v git)"
  exec_path="$(git --exec-path)"
  # git-core's programs are mostly hard links to git: tar keeps them links.
  mkdir -p "$rootfs$exec_path"
  tar -C / -c "${exec_path#/}" | tar -C "$rootfs" -x
  for f in "$exec_path"/*; do
    [ -f "$f" ] && [ -x "$f" ] && file_libs="$(ldd "$f" 2>/dev/null || true)" && [ -n "$file_libs" ] && copy_with_libs "$f"
  done
  [ -d /usr/share/git-core ] && { mkdir -p "$rootfs/usr/share"; cp -a /usr/share/git-core "$rootfs/usr/share/"; }
fi
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  mkdir -p "$rootfs/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
fi
tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  --change "LABEL dev.slipway.node=$version" \
  --change 'CMD ["node"]' - "$tag" >/dev/null
log "built $tag"
