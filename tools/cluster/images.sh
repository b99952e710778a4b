#!/usr/bin/env bash
# Puts the images the cluster runs into its containerd, without a registry:
#   localhost/pms-cluster/pause:1         the pod sandbox (containerd's sandbox_image)
#   localhost/pms-local/<component>:<dapr> Dapr's control plane and sidecar, one
#                                          image under the names the Helm chart
#                                          uses (global.registry, global.tag)
#   docker.io/pms/<app>:dev                the five apps, built from the Dockerfile
#   docker.io/pms/postgres-pgbackrest:15   the in-cluster PostgreSQL, with
#                                          pgBackRest (docker-compose.yml's)
#   localhost/pms-local/devbroker:dev      the dev Kafka broker and object store
#   localhost/pms-local/traces:dev         the trace store and Prometheus, for
#   localhost/pms-local/prometheus:dev     jaegertracing/all-in-one and
#                                          prom/prometheus (the one-node
#                                          overlay's images)
# The apps, PostgreSQL and the broker are built with the container engine
# (ENGINE: podman, or docker) on the base images `make images` builds, then
# saved under the full reference the kubelet asks for (a pod's `pms/x:dev`
# is docker.io/pms/x:dev); pause and Dapr are packed directly (mkimage.sh).
# Last, every image the manifests name is checked to be there.
set -euo pipefail
. "$(dirname "$0")/env.sh"
ENGINE=${ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}
DAPR_VERSION=${DAPR_VERSION:?DAPR_VERSION is not set (make cluster-up sets it)}
IMAGES_ENV=${IMAGES_ENV:-$ROOT/.cache/images/images.env}
I=$S/images
mkdir -p "$I"
cd "$ROOT"
set -a
. "$IMAGES_ENV"
set +a

# import ARCHIVE: loads an OCI archive into the cluster's containerd.
import() { "${CTR[@]}" images import "$1" >/dev/null; }

# pack NAME ROOTFS-BINARIES USER [ENTRYPOINT]: an image of static binaries
# on a minimal non-root root filesystem, unless its archive is current.
pack() {
	local name=$1 bins=$2 user=$3 ep=${4:-} out k
	out=$I/$(echo "$name" | tr '/:' '__').tar
	k=$(cat $bins "$ROOT/tools/cluster/mkimage.sh" | sha256sum | cut -c1-16)
	if [ "$(cat "$out.key" 2>/dev/null)" != "$k" ]; then
		local r=$I/rootfs
		rm -rf "$r"
		mkdir -p "$r/etc/ssl/certs" "$r/tmp" "$r/home/nonroot"
		cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/"
		printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$r/etc/passwd"
		printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$r/etc/group"
		chmod 1777 "$r/tmp"
		cp -L $bins "$r/"
		"$ROOT/tools/cluster/mkimage.sh" "$out" "$name" "$r" "$user" $ep >/dev/null
		rm -rf "$r"
		echo "$k" >"$out.key"
	fi
	import "$out"
	echo "==> $name"
}

pack localhost/pms-cluster/pause:1 "$B/pause" 65535 /pause
dapr=localhost/pms-local/dapr-kubernetes:$DAPR_VERSION
pack "$dapr" "$B/daprd $B/sentry $B/operator $B/injector $B/placement $B/scheduler" 65532
for c in daprd sentry operator injector placement scheduler; do
	"${CTR[@]}" images tag --force "$dapr" "localhost/pms-local/$c:$DAPR_VERSION" >/dev/null
done

# fullref REF: REF as containerd names it, which is how the kubelet asks
# for it: a name without a registry is Docker Hub's (docker.io/, and
# docker.io/library/ for a one-part name).
fullref() {
	local r=$1 first=${1%%/*}
	if [ "$first" = "$r" ]; then
		r=docker.io/library/$r
	elif [[ "$first" != *.* && "$first" != *:* && "$first" != localhost ]]; then
		r=docker.io/$r
	fi
	echo "$r"
}

# save IMAGE REF: exports the engine's IMAGE (a name or an id) under exactly
# REF, the reference the manifests use, and imports it. The engine names
# images its own way (podman's CLI makes pms/x:dev localhost/pms/x:dev,
# Docker and podman's Docker API docker.io/pms/x:dev), so the image is
# tagged with the full reference first, and whatever containerd held under
# that name before (an earlier run's image) is removed first.
save() {
	local image=$1 ref out
	ref=$(fullref "$2")
	out=$I/$(echo "$ref" | tr '/:' '__').oci.tar
	rm -f "$out"
	"$ENGINE" tag "$image" "$ref"
	if [ "$(basename "$ENGINE")" = podman ]; then
		"$ENGINE" save -q --format oci-archive -o "$out" "$ref" >/dev/null
	else
		"$ENGINE" save -o "$out" "$ref" # Docker's archive; containerd reads it too
	fi
	"${CTR[@]}" images rm "$ref" >/dev/null 2>&1 || true
	import "$out"
	rm -f "$out"
	echo "==> $ref"
}

# build_image REF ARGS...: builds with the engine, printing the new image's
# id. podman builds in Docker's format, which keeps the Dockerfile's
# HEALTHCHECK (Compose uses it) instead of warning that OCI has none.
build_image() {
	local iid=$I/iid format=()
	[ "$(basename "$ENGINE")" = podman ] && format=(--format docker)
	rm -f "$iid"
	"$ENGINE" build -q "${format[@]}" --iidfile "$iid" -t "$@" >/dev/null
	cat "$iid"
}

# The apps, exactly as docker-compose.yml builds them (its build args), so
# the engine's cache shares the layers with `docker compose build`.
declare -A health=([api-gateway]=4004 [auth-service]=4005 [patient-service]=4000 [billing-service]=4001 [analytics-service]=4002)
for app in api-gateway auth-service patient-service billing-service analytics-service; do
	id=$(build_image "pms/$app:dev" --build-arg APP=$app --build-arg HEALTH_PORT=${health[$app]} \
		--build-arg GO_IMAGE="$GO_IMAGE" --build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE" .)
	save "$id" "pms/$app:dev"
done
id=$(build_image pms/postgres-pgbackrest:15 --build-arg POSTGRES_IMAGE="$POSTGRES_IMAGE" infrastructure/compose/postgres)
save "$id" pms/postgres-pgbackrest:15
save "$KAFKA_IMAGE" "$KAFKA_IMAGE"
save "$TRACES_IMAGE" "$TRACES_IMAGE"
save "$PROMETHEUS_IMAGE" "$PROMETHEUS_IMAGE"

# Every image a pod of the system asks for must now be in containerd under
# exactly that reference: the manifests' images, and the sidecar and
# control-plane images the Helm values name. A missing one fails here, by
# name, instead of as a pod that never pulls.
want=$( (kubectl kustomize infrastructure/k8s/overlays/one-node | sed -n 's/^ *image: *//p' | tr -d "\"'"
	for c in daprd sentry operator injector placement scheduler; do echo "localhost/pms-local/$c:$DAPR_VERSION"; done) | sort -u)
have=$("${CTR[@]}" images ls -q)
missing=0
for ref in $want; do
	if ! grep -qxF "$(fullref "$ref")" <<<"$have"; then
		echo "images.sh: the manifests use $ref, but the cluster has no image $(fullref "$ref")" >&2
		missing=1
	fi
done
[ $missing = 0 ] || exit 1
echo "==> every image the manifests use is in the cluster ($(wc -w <<<"$want"))"
