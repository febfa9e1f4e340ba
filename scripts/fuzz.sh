#!/usr/bin/env bash
# npm run fuzz [http|chat|rtmp …]: the fuzz properties the suite runs in CI, with many more cases,
# against the PostgreSQL and Redis the tests use (TEST_DATABASE_URL / TEST_REDIS_URL, default
# 127.0.0.1). Counts: HTTP_FUZZ_RUNS (100,000), CHAT_FUZZ_RUNS (2,000), RTMP_FUZZ_RUNS (10,000);
# FUZZ_SEED replays a run. Exits non-zero when any part found something.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
check_node
ensure_npm_deps
ensure_debian_package ffmpeg ffmpeg
export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
export TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379}
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(http chat rtmp)
status=0
for part in "${parts[@]}"; do
  case "$part" in
    http) FUZZ_RUNS=${HTTP_FUZZ_RUNS:-100000} npx tsx test/fuzz/http-fuzz-main.ts || status=1 ;;
    chat) FUZZ_RUNS=${CHAT_FUZZ_RUNS:-2000} npx tap --timeout 7200 --reporter=terse test/fuzz/chat-ws.fuzz.test.ts || status=1 ;;
    rtmp) FUZZ_RUNS=${RTMP_FUZZ_RUNS:-10000} npx tap --timeout 7200 --reporter=terse test/fuzz/rtmp.fuzz.test.ts || status=1 ;;
    *) die "unknown fuzz part '$part' (http, chat or rtmp)" ;;
  esac
done
exit $status
