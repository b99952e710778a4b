# Sourced by the cluster scripts: where the one-node cluster keeps its
# state, and the addresses it uses. Nothing binds or advertises the
# machine's own address: the node's address is on the pods' bridge
# (pmsbr0), which the cluster creates.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
S=$ROOT/.data/cluster                     # state: pki, etc, var, logs, pids
RUN=/run/pms-cluster                      # containerd state and sockets, runc
B=${CLUSTER_BIN:-$ROOT/bin/cluster}       # binaries (make cluster-bin links them)
NODE=pms-node
# The node's address is the pods' gateway on the bridge: the API server,
# kubelet and the cluster DNS listen there, and pods reach it directly.
NODE_IP=10.244.0.1
BRIDGE=pmsbr0
CNI_NETWORK=pms-cluster
export KUBECONFIG=$S/kubeconfig
export PATH=$B:$PATH
CTR=(ctr -a "$RUN/containerd/containerd.sock" -n k8s.io)
# The sysctls kubelet, kube-proxy and up set; down restores them.
SYSCTLS=(net.ipv4.ip_forward net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables
	vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
	kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
