#!/bin/bash
# Entrypoint of docker-compose.yml's PostgreSQL: the socket directory and
# the pgBackRest repository are volumes shared with the backup service,
# created by the engine as root; they become the server's, then the
# image's own entrypoint runs as usual.
set -Eeuo pipefail
if [ "$(id -u)" = 0 ]; then
	install -d -o postgres -g postgres -m 0775 /var/run/postgresql
	install -d -o postgres -g postgres -m 0750 /var/lib/pgbackrest
fi
exec docker-entrypoint.sh "$@"
