#!/usr/bin/env bash
# Builds, without any registry, local equivalents of the images the
# Dockerfile and docker-compose.yml take from registries (`make images`):
#
#   localhost/pms-local/debian:bookworm          debootstrap --variant=minbase
#   localhost/pms-local/golang:<go>-bookworm      + the project's Go toolchain (GO_IMAGE)
#   localhost/pms-local/static:nonroot            distroless-like base (RUNTIME_IMAGE)
#   localhost/pms-local/postgres:15               Debian's PostgreSQL 15 (POSTGRES_IMAGE)
#   localhost/pms-local/dapr:<dapr>               daprd and Sentry (DAPRD_IMAGE, SENTRY_IMAGE)
#   localhost/pms-local/devbroker:dev             the Kafka-protocol dev broker (KAFKA_IMAGE)
#   localhost/pms-local/traces:dev                the trace store (TRACES_IMAGE)
#   localhost/pms-local/prometheus:dev            Debian's Prometheus (PROMETHEUS_IMAGE)
#
# and writes their names, as the variables docker-compose.yml and the tests
# read, to $OUT/images.env. An image whose inputs have not changed is kept
# (label pms.inputs); the Debian root filesystem is cached under $OUT keyed
# by what it is made from. Needs root (debootstrap), an engine CLI (ENGINE: podman,
# or docker) and the static binaries bin/daprd, bin/sentry (`make daprd`).
set -euo pipefail
cd "$(dirname "$0")/../.."

ENGINE=${ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}
OUT=${OUT:-.cache/images}
DAPR_VERSION=${DAPR_VERSION:?DAPR_VERSION is not set (make images sets it)}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
GOROOT_DIR=$(go env GOROOT)
GO_VERSION=$(go env GOVERSION)
GO_VERSION=${GO_VERSION#go}

mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# key hashes its arguments (files, or - for stdin) into a short input key.
key() { cat "$@" | sha256sum | cut -c1-16; }

# current NAME KEY succeeds when NAME exists and was built from KEY.
current() {
	[ "$("$ENGINE" image inspect --format '{{index .Config.Labels "pms.inputs"}}' "$1" 2>/dev/null)" = "$2" ]
}

# build NAME KEY CONTEXT [build args...] builds CONTEXT's Dockerfile as NAME
# unless NAME is current.
build() {
	local name=$1 k=$2 ctx=$3
	shift 3
	if current "$name" "$k"; then
		echo "==> $name: up to date"
		return
	fi
	echo "==> $name: building"
	"$ENGINE" build -q --label "pms.inputs=$k" -t "$name" "$@" "$ctx" >/dev/null
}

# The Debian base: debootstrap once per key, imported when missing.
DEBIAN=localhost/pms-local/debian:bookworm
# The key names what debootstrap is asked for; change "v1" to force a new one.
debian_key=$(printf 'v1 bookworm minbase ca-certificates %s' "$DEBIAN_MIRROR" | key -)
rootfs_tar="$OUT/debian-bookworm-$debian_key.tar"
if [ ! -s "$rootfs_tar" ]; then
	echo "==> debootstrap bookworm (once; about a minute)"
	command -v debootstrap >/dev/null || { echo "debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
	debootstrap --variant=minbase --include=ca-certificates bookworm "$work/rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 ||
		{ tail -20 "$work/debootstrap.log" >&2; exit 1; }
	rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
	tar -C "$work/rootfs" -cf "$rootfs_tar.tmp" .
	rm -f "$OUT"/debian-bookworm-*.tar
	mv "$rootfs_tar.tmp" "$rootfs_tar"
	rm -rf "$work/rootfs"
fi
if ! current "$DEBIAN" "$debian_key"; then
	echo "==> $DEBIAN: importing"
	"$ENGINE" import --change "LABEL pms.inputs=$debian_key" --change 'CMD ["/bin/bash"]' "$rootfs_tar" "$DEBIAN" >/dev/null
fi

# The Go builder: the Debian base with the project's Go toolchain, set up as
# the official golang image is (GOPATH /go, GOTOOLCHAIN local).
# It trusts what this machine trusts (its CA bundle), so that module
# downloads work behind a TLS-inspecting proxy too.
GO_IMAGE=localhost/pms-local/golang:$GO_VERSION-bookworm
host_ca=/etc/ssl/certs/ca-certificates.crt
go_key=$(printf '%s %s' "$debian_key" "$GO_VERSION" | key - "$host_ca")
if ! current "$GO_IMAGE" "$go_key"; then
	mkdir -p "$work/go"
	cp -a "$GOROOT_DIR" "$work/go/go"
	cp "$host_ca" "$work/go/ca-certificates.crt"
	cat >"$work/go/Dockerfile" <<-EOF
		FROM $DEBIAN
		COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
		COPY go /usr/local/go
		ENV GOLANG_VERSION=$GO_VERSION GOTOOLCHAIN=local GOPATH=/go \\
		    PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		WORKDIR /go
	EOF
fi
build "$GO_IMAGE" "$go_key" "$work/go"

# The runtime base: what distroless/static:nonroot offers (CA certificates,
# passwd entries for root, nobody and nonroot 65532, /tmp), nothing else.
RUNTIME_IMAGE=localhost/pms-local/static:nonroot
static_key=$(key - <<<"$debian_key static-v1")
if ! current "$RUNTIME_IMAGE" "$static_key"; then
	s="$work/static"
	mkdir -p "$s/rootfs/etc/ssl/certs" "$s/rootfs/tmp" "$s/home/nonroot"
	tar -xf "$rootfs_tar" -C "$s/rootfs" ./etc/ssl/certs/ca-certificates.crt
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$s/rootfs/etc/passwd"
	printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$s/rootfs/etc/group"
	printf 'hosts: files dns\n' >"$s/rootfs/etc/nsswitch.conf"
	chmod 1777 "$s/rootfs/tmp"
	cat >"$s/Dockerfile" <<-'EOF'
		FROM scratch
		COPY rootfs/ /
		COPY --chown=65532:65532 home/ /home/
		USER 65532:65532
		WORKDIR /home/nonroot
	EOF
fi
build "$RUNTIME_IMAGE" "$static_key" "$work/static"

POSTGRES_IMAGE=localhost/pms-local/postgres:15
build "$POSTGRES_IMAGE" "$(key - tools/containers/postgres/* <<<"$debian_key")" tools/containers/postgres \
	--build-arg "DEBIAN_IMAGE=$DEBIAN"

# daprd and Sentry must be static (make daprd builds them with CGO_ENABLED=0).
DAPR_IMAGE=localhost/pms-local/dapr:$DAPR_VERSION
mkdir -p "$work/dapr"
cp -L bin/daprd bin/sentry tools/containers/dapr/Dockerfile "$work/dapr/"
for b in daprd sentry; do
	if ldd "$work/dapr/$b" >/dev/null 2>&1; then
		echo "bin/$b is not statically linked; rebuild it with 'make daprd'" >&2
		exit 1
	fi
done
build "$DAPR_IMAGE" "$(key - "$work/dapr/"* <<<"$static_key")" "$work/dapr" --build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE"

KAFKA_IMAGE=localhost/pms-local/devbroker:dev
mkdir -p "$work/devbroker"
(cd tools/pmsrun && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/devbroker/pmsrun" .)
cp tools/containers/devbroker/Dockerfile "$work/devbroker/"
build "$KAFKA_IMAGE" "$(key - "$work/devbroker/"* <<<"$static_key")" "$work/devbroker" --build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE"

# The trace store: the same pmsrun binary, another command.
TRACES_IMAGE=localhost/pms-local/traces:dev
mkdir -p "$work/traces"
cp "$work/devbroker/pmsrun" tools/containers/traces/Dockerfile "$work/traces/"
build "$TRACES_IMAGE" "$(key - "$work/traces/"* <<<"$static_key")" "$work/traces" --build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE"

# Prometheus: this machine's (Debian's package; it needs only libc).
PROMETHEUS_IMAGE=localhost/pms-local/prometheus:dev
prometheus_bin=$(command -v prometheus) || { echo "prometheus is not installed (make prerequisites installs it)" >&2; exit 1; }
mkdir -p "$work/prometheus"
cp -L "$prometheus_bin" tools/containers/prometheus/Dockerfile "$work/prometheus/"
build "$PROMETHEUS_IMAGE" "$(key - "$work/prometheus/"* <<<"$debian_key")" "$work/prometheus" --build-arg "DEBIAN_IMAGE=$DEBIAN"

cat >"$OUT/images.env" <<EOF
GO_IMAGE=$GO_IMAGE
RUNTIME_IMAGE=$RUNTIME_IMAGE
POSTGRES_IMAGE=$POSTGRES_IMAGE
DAPRD_IMAGE=$DAPR_IMAGE
SENTRY_IMAGE=$DAPR_IMAGE
KAFKA_IMAGE=$KAFKA_IMAGE
TRACES_IMAGE=$TRACES_IMAGE
PROMETHEUS_IMAGE=$PROMETHEUS_IMAGE
EOF
echo "==> local images: $OUT/images.env"
