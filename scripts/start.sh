#!/usr/bin/env bash
# npm start: run Spillway with embedded defaults (PGlite, in-process bus, local storage), or with
# whatever DATABASE_URL / REDIS_URL / S3_BUCKET say.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
check_node
ensure_npm_deps
ensure_debian_package ffmpeg ffmpeg
exec node --import tsx src/main.ts
