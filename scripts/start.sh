#!/usr/bin/env bash
# npm start: run Spillway with embedded defaults (PGlite, in-process bus, local storage), or with
# whatever DATABASE_URL / REDIS_URL / S3_BUCKET say.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
check_node
ensure_npm_deps
ensure_debian_package ffmpeg ffmpeg
# The web UI: bundled once, skipped when web/dist is newer than its sources.
node scripts/build-web.mjs || die "building the web UI failed (see above)"
exec node --import tsx src/main.ts
