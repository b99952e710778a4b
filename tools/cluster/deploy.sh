#!/usr/bin/env bash
# Installs Dapr into the running one-node cluster with Helm, from the chart
# in the pinned dapr module and the locally built images (images.sh), then
# creates the system's Secrets as docs/operations/kubernetes.md tells a user
# to and applies infrastructure/k8s/overlays/one-node. Idempotent: existing
# Secrets are kept, so a second run changes nothing.
set -euo pipefail
. "$(dirname "$0")/env.sh"
DAPR_VERSION=${DAPR_VERSION:?DAPR_VERSION is not set (make cluster-up sets it)}
DAPR_CHART=${DAPR_CHART:?DAPR_CHART is not set (make cluster-up sets it)}
NS=pms-dev
cd "$ROOT"
t0=$(date +%s)
el() { echo "$(( $(date +%s) - t0 ))s $*"; }
# A step that fails or times out says why before the script stops.
trap 'rc=$?; echo "deploy.sh: failed after $(( $(date +%s) - t0 ))s (exit $rc); the cluster'"'"'s state:" >&2; "$ROOT/tools/cluster/diagnose.sh" >&2; exit $rc' ERR

# Dapr's control plane, its images named like the official ones under a
# local registry name. The system uses neither actors nor the scheduler
# (jobs, workflows), so placement and the three scheduler replicas, which
# would also want volumes this node cannot provision, are left out.
helm upgrade --install dapr "$DAPR_CHART" --namespace dapr-system --create-namespace \
	--set global.registry=localhost/pms-local --set global.tag="$DAPR_VERSION" \
	--set global.actors.enabled=false --set global.scheduler.enabled=false \
	--wait --timeout 5m >/dev/null
el "Dapr $DAPR_VERSION installed (helm)"

kubectl create namespace $NS --dry-run=client -o yaml | kubectl apply -f - >/dev/null
# secret NAME ARGS...: kubectl create secret generic NAME ARGS, unless it exists.
secret() {
	kubectl -n $NS get secret "$1" >/dev/null 2>&1 && return
	kubectl -n $NS create secret generic "$@" >/dev/null
}
rand() { openssl rand -hex 24; }

# Certificates for PostgreSQL and the dev object store (the backup
# repository), from a CA of the cluster's own: the services verify
# PostgreSQL's (sslmode=verify-full) and pgBackRest the object store's
# against pms-database-ca.
D=$S/database-pki
mkdir -p "$D"
if [ ! -s "$D/ca.crt" ]; then
	(umask 077
	openssl ecparam -name prime256v1 -genkey -noout -out "$D/ca.key"
	openssl req -x509 -new -key "$D/ca.key" -subj "/CN=pms-database-ca" -days 3650 -out "$D/ca.crt")
fi
# issue NAME: a server certificate for the Service NAME, in $D/NAME.crt and .key.
issue() {
	[ -s "$D/$1.crt" ] && return
	(umask 077
	openssl ecparam -name prime256v1 -genkey -noout -out "$D/$1.key"
	openssl req -new -key "$D/$1.key" -subj "/CN=$1.$NS.svc" -out "$D/$1.csr"
	printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s,DNS:%s.%s,DNS:%s.%s.svc,DNS:%s.%s.svc.cluster.local\n' $1 $1 $NS $1 $NS $1 $NS >"$D/$1.ext"
	openssl x509 -req -in "$D/$1.csr" -CA "$D/ca.crt" -CAkey "$D/ca.key" -CAcreateserial -days 825 \
		-extfile "$D/$1.ext" -out "$D/$1.crt" 2>/dev/null
	rm -f "$D/$1.csr" "$D/$1.ext")
}
issue postgres
issue object-store
secret pms-database-ca --from-file=ca.crt="$D/ca.crt"
for svc in postgres object-store; do
	kubectl -n $NS get secret $svc-tls >/dev/null 2>&1 ||
		kubectl -n $NS create secret tls $svc-tls --cert="$D/$svc.crt" --key="$D/$svc.key" >/dev/null
done
# The backup repository's keys and encryption passphrase
# (docs/runbooks/restore.md): the object store accepts the key,
# pgBackRest signs with it.
secret backup-repository --from-literal=s3-key="pms-backup-$(openssl rand -hex 8)" \
	--from-literal=s3-key-secret="$(rand)" --from-literal=cipher-pass="$(openssl rand -base64 48 | tr -d '\n')"

# Logins: the server's admin (the migration Jobs provision with it), and
# per database an owner (migrations) and the app's runtime login.
tls="sslmode=verify-full&sslrootcert=/etc/pms/database-ca/ca.crt"
pg=postgres.$NS.svc:5432
if ! kubectl -n $NS get secret postgres-admin >/dev/null 2>&1; then
	pw=$(rand)
	secret postgres-admin --from-literal=password="$pw" --from-literal=url="postgres://postgres:$pw@$pg/postgres?$tls"
fi
if ! kubectl -n $NS get secret pms-database-urls >/dev/null 2>&1; then
	app=() owner=()
	for db in auth patient billing analytics; do
		app+=(--from-literal=$db="postgres://${db}_app:$(rand)@$pg/$db?$tls")
		owner+=(--from-literal=$db="postgres://${db}_owner:$(rand)@$pg/$db?$tls")
	done
	secret pms-database-owner-urls "${owner[@]}"
	secret pms-database-urls "${app[@]}"
fi
secret kafka --from-literal=brokers=kafka.$NS.svc:9092
if ! kubectl -n $NS get secret auth-signing-key >/dev/null 2>&1; then
	openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt |
		kubectl -n $NS create secret generic auth-signing-key --from-file=signing-key.pem=/dev/stdin >/dev/null
fi
secret auth-bootstrap-admin --from-literal=email=admin@pms.local --from-literal=password="$(rand)"
if ! kubectl -n $NS get secret pms-tls >/dev/null 2>&1; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=pms.dev.example.com" \
		-days 365 -keyout "$S/pms-tls.key" -out "$S/pms-tls.crt" 2>/dev/null
	kubectl -n $NS create secret tls pms-tls --cert="$S/pms-tls.crt" --key="$S/pms-tls.key" >/dev/null
	rm -f "$S/pms-tls.key" "$S/pms-tls.crt"
fi
for app in api-gateway auth-service patient-service billing-service analytics-service; do
	secret $app-app-api-token --from-literal=token="$(openssl rand -hex 32)"
	secret $app-dapr-api-token --from-literal=token="$(openssl rand -hex 32)"
done
el "Secrets created"

kubectl apply -k infrastructure/k8s/overlays/one-node >/dev/null
el "overlay applied"
kubectl -n $NS wait --for=condition=complete job -l app.kubernetes.io/component=migrate --timeout=300s >/dev/null
el "migrations done"
kubectl -n $NS rollout status deployment --timeout=300s >/dev/null
el "system Ready"
