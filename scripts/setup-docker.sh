#!/usr/bin/env bash
# Makes a container engine and a registry binary available on this machine, idempotently and fast when
# everything is there: installs docker.io, docker-registry, busybox-static, apache2-utils (htpasswd for
# the registry tests), openssh-server (sshd for the ssh:// engine tests), zsh and fish (completion
# scripts) and unzip (artifacts served as zip) when missing, starts dockerd
# when `docker info` fails, and builds the local base image slipway/busybox:latest (no image can be pulled
# on these machines). Called by .ci/run and by the tests' global setup (test/support/docker-setup.ts).
set -euo pipefail

log() { echo "setup-docker: $*" >&2; }

# Which of the binaries we need are missing, as Debian package names.
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
# The image needs a static busybox (Debian's plain busybox package is dynamically linked).
{ [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; } || missing+=(busybox-static)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
# sshd for the ssh:// engine tests (each starts a throwaway one on 127.0.0.1; none runs as a service).
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
# zsh and fish, to check the scripts of `slipway completion zsh|fish` in the shells that run them.
command -v zsh >/dev/null 2>&1 || missing+=(zsh)
command -v fish >/dev/null 2>&1 || missing+=(fish)
# unzip, to open the zips the server serves artifacts as (src/lib/zip.test.ts, the artifacts e2e).
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    log "missing ${missing[*]} and not root: install them (apt-get install ${missing[*]})"
    exit 1
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Update the lists only when the packages cannot be found in what is cached.
  if ! apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/slipway-apt.log 2>&1; then
    apt-get update >>/tmp/slipway-apt.log 2>&1
    apt-get install -y --no-install-recommends "${missing[@]}" >>/tmp/slipway-apt.log 2>&1 || {
      cat /tmp/slipway-apt.log >&2
      exit 1
    }
  fi
fi

# The engine: start dockerd unless something answers already (DOCKER_HOST may point elsewhere).
if ! docker info >/dev/null 2>&1; then
  if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST}" != "unix:///var/run/docker.sock" ]; then
    log "DOCKER_HOST=${DOCKER_HOST} does not answer; not starting a local dockerd for it"
    exit 1
  fi
  log "starting dockerd (log: /var/log/slipway-dockerd.log)"
  # Detached from this script's process group so that it outlives the caller (a test run, CI).
  setsid dockerd --storage-driver=overlay2 >/var/log/slipway-dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  if ! docker info >/dev/null 2>&1; then
    log "dockerd did not answer within 60 s; its log:"
    tail -n 30 /var/log/slipway-dockerd.log >&2 || true
    exit 1
  fi
fi

# The base image of every test image, made from busybox-static.
if ! docker image inspect slipway/busybox:latest >/dev/null 2>&1; then
  log "building slipway/busybox:latest"
  rootfs="$(mktemp -d)"
  trap 'rm -rf "$rootfs"' EXIT
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc" "$rootfs/root"
  cp /bin/busybox "$rootfs/bin/busybox"
  # Absolute links to /bin/busybox as seen inside the image (busybox --install -s would link the temp path).
  for applet in $(/bin/busybox --list-full); do
    mkdir -p "$rootfs/$(dirname "$applet")"
    [ -e "$rootfs/$applet" ] || ln -s /bin/busybox "$rootfs/$applet"
  done
  chmod 1777 "$rootfs/tmp"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
  echo 'root:x:0:' >"$rootfs/etc/group"
  tar -C "$rootfs" -c . | docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["/bin/sh"]' - slipway/busybox:latest >/dev/null
fi
