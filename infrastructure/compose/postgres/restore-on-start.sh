#!/bin/bash
# Before PostgreSQL starts on an empty data directory (the one-node
# cluster's postgres pod, whose data lives in an emptyDir), this restores
# it from the pgBackRest repository if that holds a backup: to
# RESTORE_TARGET (a time, "YYYY-MM-DD HH:MM:SS.ffffff+00") when it is set,
# otherwise to the end of the archived WAL. PostgreSQL then replays the
# archived WAL, promotes, and serves. A repository with no backup (a first
# start) leaves the directory empty, and PostgreSQL's entrypoint creates a
# new cluster. An unreachable repository is waited for: starting empty
# while a backup may exist would lose it. A data directory that already
# holds a cluster is left alone.
set -Eeuo pipefail
data="${PGBACKREST_PG1_PATH:?PGBACKREST_PG1_PATH is not set}"
if [ "$(id -u)" = 0 ]; then
	chmod 0700 "$data"
	chown postgres:postgres "$data"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ -s "$data/PG_VERSION" ]; then
	echo "restore: $data holds a cluster; nothing to restore"
	exit 0
fi
# Each look at the repository is bounded: pgBackRest's own I/O timeout
# (seconds without progress on a connection) and, around it, a hard limit
# on the whole attempt, so an object store that accepts connections but
# does not answer yet costs one attempt, not minutes. Every attempt that
# fails says why and when the next one is.
attempt=0
while true; do
	attempt=$((attempt + 1))
	rc=0
	info=$(timeout 30 pgbackrest --io-timeout=10 info --output=json 2>&1) || rc=$?
	# The stanza's status is the last one in the output: 0 ok, 1 missing
	# stanza path, 2 no valid backups, 99 other (the repository
	# unreachable, for one).
	code=$(grep -o '"status":{"code":[0-9]*' <<<"$info" | tail -n 1 | grep -o '[0-9]*$' || true)
	case "$code" in
	0) break ;;
	1 | 2)
		echo "restore: the repository holds no backup (status $code); PostgreSQL starts a new cluster"
		exit 0
		;;
	*)
		[ "$rc" = 124 ] && info="no answer within 30s"
		echo "restore: attempt $attempt: the repository cannot be read (exit $rc: $(tr '\n' ' ' <<<"$info" | cut -c1-400)); retrying in 5s" >&2
		sleep 5
		;;
	esac
done
if [ -n "${RESTORE_TARGET:-}" ]; then
	echo "restore: restoring to $RESTORE_TARGET"
	exec pgbackrest --type=time --target="$RESTORE_TARGET" --target-action=promote restore
fi
echo "restore: restoring to the end of the archived WAL"
exec pgbackrest restore
