#!/usr/bin/env bash
# Makes the cluster's CA, serving and client certificates and kubeconfigs
# with openssl. Idempotent: keeps what exists.
set -euo pipefail
. "$(dirname "$0")/env.sh"
P=$S/pki
mkdir -p "$P"
cd "$P"
umask 077
[ -s ca.key ] || {
	openssl genrsa -out ca.key 2048 2>/dev/null
	openssl req -x509 -new -key ca.key -subj "/CN=pms-cluster-ca" -days 3650 -out ca.crt
}
[ -s sa.key ] || { openssl genrsa -out sa.key 2048 2>/dev/null; openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null; }
# cert NAME SUBJECT EXTENSIONS
cert() {
	[ -s "$1.crt" ] && return
	openssl genrsa -out "$1.key" 2048 2>/dev/null
	openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
	printf '%s\n' "$3" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile "$1.ext" -out "$1.crt" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}
server='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth'
client='basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth'
cert apiserver "/CN=kube-apiserver" "$server
subjectAltName=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1,IP:$NODE_IP"
cert kubelet-serving "/CN=system:node:$NODE/O=system:nodes" "$server
subjectAltName=DNS:$NODE,IP:$NODE_IP"
cert admin "/CN=admin/O=system:masters" "$client"
cert apiserver-kubelet-client "/CN=kube-apiserver-kubelet-client/O=system:masters" "$client"
cert controller-manager "/CN=system:kube-controller-manager" "$client"
cert scheduler "/CN=system:kube-scheduler" "$client"
cert kubelet "/CN=system:node:$NODE/O=system:nodes" "$client"
cert kube-proxy "/CN=system:kube-proxy" "$client"
cert coredns "/CN=coredns" "$client"
for u in admin controller-manager scheduler kubelet kube-proxy coredns; do
	cat >"$u.kubeconfig" <<EOC
apiVersion: v1
kind: Config
clusters:
- name: pms-cluster
  cluster: {server: "https://$NODE_IP:6443", certificate-authority: $P/ca.crt}
users:
- name: $u
  user: {client-certificate: $P/$u.crt, client-key: $P/$u.key}
contexts:
- name: pms-cluster
  context: {cluster: pms-cluster, user: $u}
current-context: pms-cluster
EOC
done
cp admin.kubeconfig "$S/kubeconfig"
