#!/usr/bin/env bash
# mkimage.sh OUT.tar NAME ROOTFS [USER] [ENTRYPOINT...]: writes an OCI image
# archive of one uncompressed layer (ROOTFS's content, owned by root) that
# `ctr -n k8s.io images import` names NAME. No container engine needed.
set -euo pipefail
out=$1 name=$2 rootfs=$3 user=${4:-} ; shift 3; [ $# -gt 0 ] && shift
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
mkdir -p "$w/blobs/sha256"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$w/layer.tar" .
ld=$(sha256sum "$w/layer.tar" | cut -d' ' -f1); ls=$(stat -c %s "$w/layer.tar")
mv "$w/layer.tar" "$w/blobs/sha256/$ld"
ep=
for a in "$@"; do ep="${ep:+$ep,}\"$a\""; done
ep="[$ep]"
printf '{"architecture":"amd64","os":"linux","config":{"User":"%s","Entrypoint":%s,"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"tools/cluster/mkimage.sh"}]}' \
	"$user" "$ep" "$ld" >"$w/config.json"
cd_=$(sha256sum "$w/config.json" | cut -d' ' -f1); cs=$(stat -c %s "$w/config.json")
mv "$w/config.json" "$w/blobs/sha256/$cd_"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
	"$cd_" "$cs" "$ld" "$ls" >"$w/manifest.json"
md=$(sha256sum "$w/manifest.json" | cut -d' ' -f1); ms=$(stat -c %s "$w/manifest.json")
mv "$w/manifest.json" "$w/blobs/sha256/$md"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
	"$md" "$ms" "$name" "${name##*:}" >"$w/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$w/oci-layout"
tar -C "$w" -cf "$out" oci-layout index.json blobs
echo "$out: $name ($(du -h "$out" | cut -f1))"
