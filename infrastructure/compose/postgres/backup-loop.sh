#!/bin/bash
# Base backups beside PostgreSQL (docker-compose.yml's backup service, the
# backup container of the one-node cluster's postgres pod): once
# PostgreSQL answers and the repository is reachable, it creates the
# stanza (once per repository), takes a full backup, then every
# BACKUP_INTERVAL_SECONDS a differential one (a full one every
# BACKUP_FULL_EVERY backups). pgBackRest reads its options from the
# PGBACKREST_ variables; retention (PGBACKREST_REPO1_RETENTION_FULL) expires
# old backups and the WAL they need after each backup. A failed backup is
# retried a minute later, after stanza-create (which changes nothing in a
# repository that has the stanza, and makes it again in one that lost it;
# pgBackRest then takes a full backup, as no prior one exists).
set -Eeuo pipefail
interval="${BACKUP_INTERVAL_SECONDS:-86400}"
full_every="${BACKUP_FULL_EVERY:-7}"

until pg_isready -q -h "${PGBACKREST_PG1_SOCKET_PATH:-/var/run/postgresql}"; do sleep 2; done
until pgbackrest stanza-create; do
	echo "backup: the repository is not ready; retrying in 10s" >&2
	sleep 10
done
pgbackrest check
n=0
while true; do
	if (( n % full_every == 0 )); then type=full; else type=diff; fi
	if pgbackrest --type="$type" backup; then
		echo "backup: $type backup done"
		n=$((n + 1))
	else
		echo "backup: $type backup failed; retrying in 60s" >&2
		sleep 60
		pgbackrest stanza-create || true
		continue
	fi
	sleep "$interval"
done
