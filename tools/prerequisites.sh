#!/usr/bin/env bash
# Installs what `make test` and `make cluster-up` need beyond Go and the
# PostgreSQL server (`make prerequisites`; both targets run it first).
# Idempotent, and quiet when everything is there. On Debian or Ubuntu, as
# root, it installs the missing packages with apt-get and starts the
# container engine; elsewhere it names what to install by hand and fails.
#
#   container engine  a Docker daemon that answers, or else podman serving
#                     the Docker API (tools/containers/podman-engine.sh),
#                     whatever `docker` client is on PATH
#   debootstrap       the local base images (make images)
#   chromium          the console's browser test
#   containerd, runc, conntrack, CNI plugins, iptables
#                     the one-node cluster
#   pgbackrest        the restore drill and the in-cluster backups
#   npm               tools/web's pinned packages
#   prometheus        promtool's checks of the alert rules, the
#                     Prometheus the runner starts (the alert tests) and
#                     the local Prometheus image (make images)
#
# ONLY=cluster checks just what `make cluster-up` needs.
set -euo pipefail
cd "$(dirname "$0")/.."

# docker_answers succeeds when a Docker daemon answers on its socket or
# DOCKER_HOST (a docker client alone is not an engine).
docker_answers() {
	if [ -n "${DOCKER_HOST:-}" ]; then
		docker info >/dev/null 2>&1
	else
		curl -fsS --max-time 2 --unix-socket /var/run/docker.sock http://docker/_ping >/dev/null 2>&1
	fi
}

# Each need: a check that succeeds when it is met, and the Debian packages
# that meet it.
checks=() packages=()
need() { checks+=("$1"); packages+=("$2"); }

if ! docker_answers; then
	need "command -v podman" "podman"
	need "command -v runc" "runc"
fi
need "command -v debootstrap" "debootstrap"
need "command -v containerd && command -v ctr" "containerd"
need "command -v runc" "runc"
need "command -v conntrack" "conntrack"
need "test -x /usr/lib/cni/bridge" "containernetworking-plugins"
need "command -v iptables" "iptables"
need "command -v ip" "iproute2"
need "command -v pgbackrest" "pgbackrest"
if [ "${ONLY:-}" != cluster ]; then
	need "command -v chromium" "chromium"
	need "command -v npm" "npm"
fi
# make images (which make cluster-up runs too) packs this machine's Prometheus.
need "command -v prometheus && command -v promtool" "prometheus"

missing=()
for i in "${!checks[@]}"; do
	if ! bash -c "${checks[$i]}" >/dev/null 2>&1; then
		case " ${missing[*]:-} " in *" ${packages[$i]} "*) ;; *) missing+=("${packages[$i]}") ;; esac
	fi
done

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		cat >&2 <<-EOF
			make prerequisites: missing ${missing[*]}.
			On Debian or Ubuntu, run it as root and it installs them with apt-get.
			Elsewhere install by hand: Debian's package names above (a Docker
			engine may stand in for podman and runc); see docs/testing.md.
		EOF
		exit 1
	fi
	echo "==> installing ${missing[*]}"
	apt-get update -qq
	# prometheus alone without its recommends: they would add a node
	# exporter service nothing here uses.
	plain=() lean=()
	for p in "${missing[@]}"; do
		case "$p" in prometheus) lean+=("$p") ;; *) plain+=("$p") ;; esac
	done
	if [ ${#plain[@]} -gt 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${plain[@]}" >/dev/null
	fi
	if [ ${#lean[@]} -gt 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${lean[@]}" >/dev/null
	fi
fi

# The engine: podman's Docker API when no Docker daemon answers.
if ! docker_answers; then
	tools/containers/podman-engine.sh >/dev/null
fi
