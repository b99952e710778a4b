#!/usr/bin/env bash
# Puts the images the cluster runs into its containerd, without a registry:
#   localhost/pms-cluster/pause:1         the pod sandbox (containerd's sandbox_image)
#   localhost/pms-local/<component>:<dapr> Dapr's control plane and sidecar, one
#                                          image under the names the Helm chart
#                                          uses (global.registry, global.tag)
#   pms/<app>:dev                          the five apps, built from the Dockerfile
#   pms/postgres-pgbackrest:15             the in-cluster PostgreSQL, with
#                                          pgBackRest (docker-compose.yml's)
#   localhost/pms-local/devbroker:dev      the dev Kafka broker and object store
# The apps, PostgreSQL and the broker are built with the container engine
# (ENGINE: podman or docker) on the base images `make images` builds, then
# saved as OCI archives; pause and Dapr are packed directly (mkimage.sh).
set -euo pipefail
. "$(dirname "$0")/env.sh"
ENGINE=${ENGINE:-podman}
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

# save NAME: exports an engine image and imports it.
save() {
	local out
	out=$I/$(echo "$1" | tr '/:' '__').oci.tar
	rm -f "$out"
	"$ENGINE" save -q --format oci-archive -o "$out" "$1" >/dev/null
	import "$out"
	rm -f "$out"
	echo "==> $1"
}
# The apps, exactly as docker-compose.yml builds them (its build args), so
# the engine's cache shares the layers with `docker compose build`.
declare -A health=([api-gateway]=4004 [auth-service]=4005 [patient-service]=4000 [billing-service]=4001 [analytics-service]=4002)
for app in api-gateway auth-service patient-service billing-service analytics-service; do
	"$ENGINE" build -q --build-arg APP=$app --build-arg HEALTH_PORT=${health[$app]} \
		--build-arg GO_IMAGE="$GO_IMAGE" --build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE" \
		-t "pms/$app:dev" . >/dev/null
	save "pms/$app:dev"
done
"$ENGINE" build -q --build-arg POSTGRES_IMAGE="$POSTGRES_IMAGE" -t pms/postgres-pgbackrest:15 \
	infrastructure/compose/postgres >/dev/null
save pms/postgres-pgbackrest:15
save "$KAFKA_IMAGE"
