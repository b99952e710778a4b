#!/usr/bin/env bash
# node.sh up|down: starts the one-node cluster as host processes
# (containerd, etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy, CoreDNS), or stops it and undoes
# every change it made to the machine. PIDs in $S/run, logs in $S/logs.
# Needs root, containerd, runc, conntrack and the CNI plugins (Debian:
# containerd, containernetworking-plugins, conntrack), and the binaries in
# $B (`make cluster-up` builds and links them).
set -euo pipefail
. "$(dirname "$0")/env.sh"

t0=$(date +%s%N)
el() { local ms=$((($(date +%s%N) - t0) / 1000000)); printf '%4d.%ds %s\n' $((ms / 1000)) $((ms % 1000 / 100)) "$*"; }

# bg NAME CMD...: starts CMD in the background from /, its PID in run/NAME.pid.
bg() {
	local n=$1
	shift
	if [ -s "$S/run/$n.pid" ] && kill -0 "$(cat "$S/run/$n.pid")" 2>/dev/null; then return; fi
	(cd / && exec setsid "$@" >"$S/logs/$n.log" 2>&1 </dev/null) &
	echo $! >"$S/run/$n.pid"
}

# wait_for DESC CMD...: polls CMD until it succeeds (90 s).
wait_for() {
	local d=$1
	shift
	for _ in $(seq 450); do
		"$@" >/dev/null 2>&1 && { el "$d"; return; }
		sleep 0.2
	done
	echo "timed out waiting for $d; logs in $S/logs" >&2
	exit 1
}

up() {
	[ "$(id -u)" = 0 ] || { echo "the cluster runs its node as root (containerd, kubelet, iptables)" >&2; exit 1; }
	for c in containerd runc conntrack iptables openssl; do
		command -v $c >/dev/null || { echo "missing $c (Debian: apt-get install containerd runc conntrack iptables openssl containernetworking-plugins)" >&2; exit 1; }
	done
	[ -x /usr/lib/cni/bridge ] || { echo "missing the CNI plugins (apt-get install containernetworking-plugins)" >&2; exit 1; }
	mkdir -p "$S/run" "$S/logs" "$S/var" "$S/etc/cni" "$S/orig" "$RUN"
	# Configuration, with this cluster's paths and addresses.
	for f in containerd.toml kubelet.yaml kube-proxy.yaml Corefile bootstrap.yaml cni/10-pms-cluster.conflist; do
		sed -e "s|@DIR@|$S|g" -e "s|@RUN@|$RUN|g" -e "s|@NODE_IP@|$NODE_IP|g" -e "s|@NODE@|$NODE|g" \
			"$ROOT/tools/cluster/etc/$f" >"$S/etc/$f"
	done
	# What down restores: the sysctls as they were before the first up.
	[ -s "$S/orig/sysctl.txt" ] || for k in "${SYSCTLS[@]}"; do
		v=$(sysctl -n "$k" 2>/dev/null) && echo "$k=$v"
	done >"$S/orig/sysctl.txt"
	# Host paths kubelet and containerd create whatever their root dirs are:
	# down removes those that were not there before.
	[ -e "$S/orig/host-paths.txt" ] || for d in /var/lib/kubelet /var/log/pods /var/log/containers /usr/libexec/kubernetes /var/lib/cni; do
		[ -e "$d" ] || echo "$d"
	done >"$S/orig/host-paths.txt"
	sysctl -qw net.ipv4.ip_forward=1
	# The node's address: the pods' gateway on their bridge, made here
	# before the first pod so the API server and kubelet can bind it (the
	# CNI bridge plugin then finds the gateway address it would set).
	if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link add "$BRIDGE" type bridge
		ip link set "$BRIDGE" up
	fi
	ip -4 addr show dev "$BRIDGE" | grep -q " $NODE_IP/" || ip addr add "$NODE_IP/24" dev "$BRIDGE"
	"$ROOT/tools/cluster/pki.sh"
	P=$S/pki

	bg containerd containerd --config "$S/etc/containerd.toml"
	bg etcd "$B/etcd" --name pms-cluster --data-dir "$S/var/etcd" \
		--listen-client-urls http://127.0.0.1:12379 --advertise-client-urls http://127.0.0.1:12379 \
		--listen-peer-urls http://127.0.0.1:12380 --initial-advertise-peer-urls http://127.0.0.1:12380 \
		--initial-cluster pms-cluster=http://127.0.0.1:12380 --listen-metrics-urls "" \
		--unsafe-no-fsync --log-level warn
	wait_for "containerd up" "${CTR[@]}" version
	wait_for "etcd up" curl -fsS http://127.0.0.1:12379/health
	bg kube-apiserver "$B/kube-apiserver" --etcd-servers http://127.0.0.1:12379 \
		--bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port 6443 \
		--tls-cert-file "$P/apiserver.crt" --tls-private-key-file "$P/apiserver.key" --client-ca-file "$P/ca.crt" \
		--kubelet-client-certificate "$P/apiserver-kubelet-client.crt" --kubelet-client-key "$P/apiserver-kubelet-client.key" \
		--kubelet-certificate-authority "$P/ca.crt" --kubelet-preferred-address-types InternalIP,Hostname \
		--authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction --allow-privileged \
		--service-cluster-ip-range 10.96.0.0/16 --service-node-port-range 30000-32767 \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$P/sa.pub" --service-account-signing-key-file "$P/sa.key" \
		--profiling=false
	wait_for "kube-apiserver ready" kubectl get --raw /readyz
	bg kube-controller-manager "$B/kube-controller-manager" --kubeconfig "$P/controller-manager.kubeconfig" \
		--authentication-kubeconfig "$P/controller-manager.kubeconfig" --authorization-kubeconfig "$P/controller-manager.kubeconfig" \
		--bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials \
		--service-account-private-key-file "$P/sa.key" --root-ca-file "$P/ca.crt" \
		--cluster-signing-cert-file "$P/ca.crt" --cluster-signing-key-file "$P/ca.key" \
		--service-cluster-ip-range 10.96.0.0/16 --profiling=false
	bg kube-scheduler "$B/kube-scheduler" --kubeconfig "$P/scheduler.kubeconfig" \
		--authentication-kubeconfig "$P/scheduler.kubeconfig" --authorization-kubeconfig "$P/scheduler.kubeconfig" \
		--bind-address 127.0.0.1 --leader-elect=false --profiling=false
	bg kubelet "$B/kubelet" --config "$S/etc/kubelet.yaml" --kubeconfig "$P/kubelet.kubeconfig" \
		--root-dir "$S/var/kubelet" --hostname-override "$NODE" --node-ip "$NODE_IP"
	bg kube-proxy "$B/kube-proxy" --config "$S/etc/kube-proxy.yaml"
	kubectl apply -f "$S/etc/bootstrap.yaml" >/dev/null
	bg coredns "$B/coredns" -conf "$S/etc/Corefile"
	wait_for "node registered" kubectl get node "$NODE"
	kubectl wait --for=condition=Ready "node/$NODE" --timeout=120s >/dev/null
	el "node Ready"
	wait_for "cluster DNS ready" curl -fsS http://127.0.0.1:18181/ready
	wait_for "default service account" kubectl -n default get sa default
}

# stop NAME: TERM, then KILL after 15 s.
stop() {
	local f=$S/run/$1.pid p
	[ -s "$f" ] || return 0
	p=$(cat "$f")
	if kill -0 "$p" 2>/dev/null; then
		kill "$p"
		for _ in $(seq 75); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
		kill -0 "$p" 2>/dev/null && kill -9 "$p"
	fi
	rm -f "$f"
	echo "stopped $1 ($p)"
}

running() { [ -s "$S/run/$1.pid" ] && kill -0 "$(cat "$S/run/$1.pid")" 2>/dev/null; }

# shims prints the PIDs of the containerd shims serving this containerd.
shims() {
	for f in "$RUN"/containerd/io.containerd.runtime.v2.task/*/*/init.pid; do
		[ -s "$f" ] || continue
		pp=$(awk '{print $4}' "/proc/$(cat "$f")/stat" 2>/dev/null) || continue
		tr '\0' ' ' <"/proc/$pp/cmdline" 2>/dev/null | grep -q -- "-address $RUN/containerd/containerd.sock" && echo "$pp"
	done | sort -u
}

down() {
	# Undo whatever is there, step by step, whatever fails.
	set +e
	# Pods first, while kubelet runs: it stops their containers and CNI
	# removes their network (addresses, masquerading rules).
	if running kube-apiserver && running kubelet; then
		kubectl delete namespace --ignore-not-found --wait=false pms-dev dapr-system >/dev/null 2>&1 || true
		kubectl delete pods --all --all-namespaces --grace-period=5 --wait=false >/dev/null 2>&1 || true
		for _ in $(seq 120); do
			[ -z "$(kubectl get pods -A -o name 2>/dev/null)" ] && break
			sleep 0.5
		done
		# Sandboxes are torn down after their containers stop.
		for _ in $(seq 60); do
			[ -z "$("${CTR[@]}" tasks ls -q 2>/dev/null)" ] && break
			sleep 0.5
		done
	fi
	for n in coredns kube-proxy kubelet kube-scheduler kube-controller-manager; do stop $n; done
	local sh
	sh=$(shims)
	# Anything left (a pod whose deletion timed out): kill its tasks.
	if running containerd; then
		for t in $("${CTR[@]}" tasks ls -q 2>/dev/null); do "${CTR[@]}" tasks kill -s KILL "$t" >/dev/null 2>&1 || true; done
	fi
	stop kube-apiserver
	stop etcd
	stop containerd
	for p in $sh; do kill -9 "$p" 2>/dev/null && echo "stopped shim $p"; done
	[ -x "$B/kube-proxy" ] && "$B/kube-proxy" --cleanup >/dev/null 2>&1 && echo "removed kube-proxy's rules"
	# Mounts under the cluster's directories and the network namespaces CNI made.
	grep -E " ($S|$RUN|/run/netns/cni-)" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m"
		echo "unmounted $m"
	done
	for n in /run/netns/cni-*; do [ -e "$n" ] && rm -f "$n"; done
	ip link show "$BRIDGE" >/dev/null 2>&1 && ip link del "$BRIDGE" && echo "removed bridge $BRIDGE"
	# iptables: kubelet's and kube-proxy's KUBE-* chains (nothing else on a
	# machine makes them), and the CNI bridge's masquerading chains for this
	# network (their rules carry its name; other CNI users' are left).
	for ipt in iptables ip6tables; do
		for t in nat filter mangle; do
			$ipt -t $t -S 2>/dev/null | grep -E "^-A .*(-j KUBE-|name: \\\\\"$CNI_NETWORK\\\\\")" | sed 's/^-A/-D/' |
				while read -r r; do eval "$ipt -t $t $r" 2>/dev/null || true; done
			for c in $($ipt -t $t -S 2>/dev/null | sed -n 's/^-N \(KUBE-.*\)/\1/p'); do $ipt -t $t -F "$c"; done
			for c in $($ipt -t $t -S 2>/dev/null | sed -n 's/^-N \(KUBE-.*\)/\1/p'); do $ipt -t $t -X "$c" 2>/dev/null || true; done
			# A CNI-<hash> chain left empty by the deletions above is ours.
			for c in $($ipt -t $t -S 2>/dev/null | sed -n 's/^-N \(CNI-[0-9a-f]\{24\}\)$/\1/p'); do
				[ -z "$($ipt -t $t -S "$c" | grep -v "^-N")" ] && ! $ipt -t $t -S | grep -q -- "-j $c\b" && $ipt -t $t -X "$c"
			done
		done
	done
	# kubelet's cgroups (empty once the pods are gone), deepest first.
	for h in /sys/fs/cgroup/*/kubepods; do [ -d "$h" ] && find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null; done
	if [ -s "$S/orig/sysctl.txt" ]; then
		while IFS='=' read -r k v; do [ -n "$v" ] && sysctl -qw "$k=$v"; done <"$S/orig/sysctl.txt"
		rm -f "$S/orig/sysctl.txt"
	fi
	# Host paths the cluster created, and libcni's cache of its network.
	rm -f /var/lib/cni/results/"$CNI_NETWORK"-*
	if [ -s "$S/orig/host-paths.txt" ]; then
		while read -r d; do rm -rf "$d"; done <"$S/orig/host-paths.txt"
	fi
	rm -f "$S/orig/host-paths.txt"
	rm -rf "$RUN"
	rm -rf "$S/var" "$S/run"
	echo "cluster down"
}

case ${1:-} in
up) up ;;
down) down ;;
*) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
