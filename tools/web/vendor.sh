#!/usr/bin/env bash
# Copies the pinned Swagger UI (tools/web/package.json) into the gateway,
# which embeds it for /docs (no CDN). With -check, fails when the copy
# differs from the pinned package instead (make test).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --silent
src=node_modules/swagger-ui-dist
dst=../../apps/api-gateway/internal/apidocs/swagger-ui
files=(swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE)
if [ "${1:-}" = "-check" ]; then
	for f in "${files[@]}"; do
		cmp -s "$src/$f" "$dst/$f" || { echo "$dst/$f differs from swagger-ui-dist $(node -p 'require("./'$src'/package.json").version'); run tools/web/vendor.sh and commit" >&2; exit 1; }
	done
	exit 0
fi
mkdir -p "$dst"
for f in "${files[@]}"; do cp "$src/$f" "$dst/$f"; done
echo "vendored swagger-ui-dist $(node -p 'require("./'$src'/package.json").version') into $dst"
