#!/usr/bin/env bash
# Fails, listing them, if anything of the one-node cluster is left on the
# machine: a process running one of its binaries or containerd on its
# socket, a mount under its directories, its interfaces, a KUBE-* chain or
# a masquerading rule of its pod network, its runtime directory.
set -uo pipefail
. "$(dirname "$0")/env.sh"
left=()
for p in /proc/[0-9]*; do
	exe=$(readlink "$p/exe" 2>/dev/null) || continue
	cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)
	case "$exe $cmd" in
	*"$(readlink -f "$B" 2>/dev/null || echo "$B")"/* | *"$ROOT/.cache/cluster/"* | *"$RUN/containerd"* | *"$S/etc/containerd.toml"*)
		left+=("process ${p#/proc/}: $cmd") ;;
	esac
done
while read -r m; do left+=("mount $m"); done < <(grep -E " ($S|$RUN|/run/netns/cni-)" /proc/self/mountinfo | awk '{print $5}')
ip link show "$BRIDGE" >/dev/null 2>&1 && left+=("interface $BRIDGE")
for ipt in iptables ip6tables; do
	for t in nat filter mangle; do
		while read -r c; do left+=("$ipt -t $t chain $c"); done < <($ipt -t $t -S 2>/dev/null | sed -n 's/^-N \(KUBE-.*\)/\1/p')
		while read -r r; do left+=("$ipt -t $t rule $r"); done < <($ipt -t $t -S 2>/dev/null | grep "name: \\\\\"$CNI_NETWORK\\\\\"")
	done
done
[ -e "$RUN" ] && left+=("directory $RUN")
if [ ${#left[@]} -gt 0 ]; then
	echo "the cluster left behind:" >&2
	printf '  %s\n' "${left[@]}" >&2
	exit 1
fi
echo "nothing of the cluster is left: no process, mount, interface ($BRIDGE), KUBE-* chain, pod-network rule or $RUN"
