#!/usr/bin/env bash
# Prepares podman as a Docker-compatible container engine on a Debian
# machine without Docker (what CI runs on; `.ci/run` calls it, as root):
# installs podman, runc and debootstrap when missing, writes the engine
# settings this kind of machine needs, and serves the Docker API on
# /run/podman/podman.sock. Idempotent. Use it with:
#   export DOCKER_HOST=unix:///run/podman/podman.sock
set -euo pipefail

SOCK=/run/podman/podman.sock

missing=()
for p in podman runc debootstrap; do
	command -v "$p" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "==> installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null
fi

# crun fails on this cgroup layout, and the default ulimits fail with EPERM
# in a sandbox; runc with no default ulimits works.
conf=/etc/containers/containers.conf
if ! grep -q '^runtime = "runc"' "$conf" 2>/dev/null; then
	mkdir -p /etc/containers
	printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' >"$conf"
fi

if ! curl -fsS --unix-socket "$SOCK" http://podman/_ping >/dev/null 2>&1; then
	mkdir -p "$(dirname "$SOCK")"
	# From /: the service and every conmon it starts keep its working
	# directory, which must outlive the checkout that started it.
	(cd / && nohup podman system service --time=0 "unix://$SOCK" >/var/log/podman-service.log 2>&1 &)
	for _ in $(seq 50); do
		curl -fsS --unix-socket "$SOCK" http://podman/_ping >/dev/null 2>&1 && break
		sleep 0.2
	done
fi
curl -fsS --unix-socket "$SOCK" http://podman/_ping >/dev/null ||
	{ echo "podman's API does not answer on $SOCK (see /var/log/podman-service.log)" >&2; exit 1; }
echo "==> podman $(podman --version | awk '{print $3}') serves the Docker API on unix://$SOCK"
