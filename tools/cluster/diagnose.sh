#!/usr/bin/env bash
# Says why the cluster is not Ready (deploy.sh runs it when a step times
# out or fails): every pod's state, the latest events, and for each pod
# that is neither Ready nor done, its events and its containers' last logs
# (init containers and previous restarts included).
set -uo pipefail
. "$(dirname "$0")/env.sh"
echo "---- pods"
kubectl get pods -A -o wide 2>&1
echo "---- the last events"
kubectl get events -A --sort-by=.lastTimestamp 2>&1 | tail -n 25
# Pods whose phase is not Succeeded and that are not Ready, as NAMESPACE/NAME.
bad=$(kubectl get pods -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name} {.status.phase} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null |
	awk '$2 != "Succeeded" && $3 != "True" {print $1}')
for p in $bad; do
	ns=${p%%/*} name=${p#*/}
	echo "---- $p"
	kubectl -n "$ns" get pod "$name" -o jsonpath='{range .status.initContainerStatuses[*]}init {.name}: {.state}{"\n"}{end}{range .status.containerStatuses[*]}{.name}: {.state}{"\n"}{end}' 2>&1
	kubectl -n "$ns" get events --field-selector "involvedObject.name=$name" --sort-by=.lastTimestamp 2>&1 | tail -n 8
	for c in $(kubectl -n "$ns" get pod "$name" -o jsonpath='{.spec.initContainers[*].name} {.spec.containers[*].name}' 2>/dev/null); do
		echo "-- $p $c: the last log lines"
		kubectl -n "$ns" logs "$name" -c "$c" --tail=20 2>&1 | sed 's/^/   /'
		kubectl -n "$ns" logs "$name" -c "$c" --previous --tail=10 >/dev/null 2>&1 &&
			{ echo "-- $p $c: before its last restart"; kubectl -n "$ns" logs "$name" -c "$c" --previous --tail=10 2>&1 | sed 's/^/   /'; }
	done
done
exit 0
