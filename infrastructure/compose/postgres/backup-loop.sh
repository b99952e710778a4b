#!/bin/bash
# The backup service of docker-compose.yml: once PostgreSQL answers, it
# creates the stanza (once per repository), takes a full backup, then
# every BACKUP_INTERVAL_SECONDS a differential one (a full one every
# BACKUP_FULL_EVERY backups). pgBackRest reads its options from the
# PGBACKREST_ variables; retention (PGBACKREST_REPO1_RETENTION_FULL) expires
# old backups and the WAL they need after each backup.
set -Eeuo pipefail
interval="${BACKUP_INTERVAL_SECONDS:-86400}"
full_every="${BACKUP_FULL_EVERY:-7}"

until pg_isready -q -h "${PGBACKREST_PG1_SOCKET_PATH:-/var/run/postgresql}"; do sleep 2; done
pgbackrest stanza-create
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
		continue
	fi
	sleep "$interval"
done
