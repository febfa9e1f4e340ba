#!/usr/bin/env bash
# npm test: the whole suite against real PostgreSQL, Redis, an S3-compatible server (s3rver, started
# by the tests), ffmpeg, nginx and Chromium. With CI=true it uses the PostgreSQL and Redis already
# running on 127.0.0.1 and fails if they are not there. Elsewhere it uses TEST_DATABASE_URL /
# TEST_REDIS_URL, or the same local ports, or starts private throwaway instances.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
check_node
ensure_npm_deps
ensure_debian_package ffmpeg ffmpeg
ensure_debian_package nginx nginx-light
ensure_debian_package chromium chromium

PRIVATE_DIR=""
cleanup() {
  if [ -n "$PRIVATE_DIR" ]; then
    [ -f "$PRIVATE_DIR/redis.pid" ] && kill "$(cat "$PRIVATE_DIR/redis.pid")" 2>/dev/null || true
    [ -d "$PRIVATE_DIR/pg" ] && run_as_pg "$PG_BIN/pg_ctl" -D "$PRIVATE_DIR/pg" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PRIVATE_DIR"
  fi
}
trap cleanup EXIT
run_as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start_private_services() {
  PRIVATE_DIR=$(mktemp -d /tmp/spillway-test-services.XXXXXX)
  chmod 755 "$PRIVATE_DIR"
  if [ -z "${TEST_DATABASE_URL:-}" ]; then
    ensure_debian_package pg_ctlcluster postgresql
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    mkdir -p "$PRIVATE_DIR/pg"; [ "$(id -u)" = 0 ] && chown postgres "$PRIVATE_DIR/pg"
    run_as_pg "$PG_BIN/initdb" -D "$PRIVATE_DIR/pg" -U postgres --auth=trust >/dev/null
    run_as_pg "$PG_BIN/pg_ctl" -D "$PRIVATE_DIR/pg" -o "-p 55432 -k $PRIVATE_DIR/pg -c listen_addresses=127.0.0.1" -l "$PRIVATE_DIR/pg/server.log" -w start >/dev/null
    run_as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p 55432 -U postgres test
    export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:55432/test
    echo "spillway: started a private PostgreSQL on 127.0.0.1:55432 for this run"
  fi
  if [ -z "${TEST_REDIS_URL:-}" ]; then
    ensure_debian_package redis-server redis-server
    redis-server --daemonize yes --bind 127.0.0.1 --port 56379 --save "" --appendonly no \
      --pidfile "$PRIVATE_DIR/redis.pid" --logfile "$PRIVATE_DIR/redis.log" --dir "$PRIVATE_DIR"
    export TEST_REDIS_URL=redis://127.0.0.1:56379
    echo "spillway: started a private Redis on 127.0.0.1:56379 for this run"
  fi
}

if [ "${CI:-}" = "true" ]; then
  export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
  export TEST_REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379}
  tcp_open 127.0.0.1 5432 || die "CI: PostgreSQL is not reachable on 127.0.0.1:5432; the suite does not fall back to an embedded database."
  tcp_open 127.0.0.1 6379 || die "CI: Redis is not reachable on 127.0.0.1:6379; the suite does not fall back to an in-process bus."
elif [ "${SPILLWAY_PRIVATE_SERVICES:-}" = 1 ]; then
  # What a fresh machine gets: throwaway PostgreSQL and Redis of our own.
  unset TEST_DATABASE_URL TEST_REDIS_URL
  start_private_services
else
  if [ -z "${TEST_DATABASE_URL:-}" ] && tcp_open 127.0.0.1 5432 \
    && node -e 'const pg=require("pg");const c=new pg.Client("postgres://postgres@127.0.0.1:5432/test");c.connect().then(()=>c.end()).then(()=>process.exit(0),()=>process.exit(1))' 2>/dev/null; then
    export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test
  fi
  if [ -z "${TEST_REDIS_URL:-}" ] && tcp_open 127.0.0.1 6379; then export TEST_REDIS_URL=redis://127.0.0.1:6379; fi
  if [ -z "${TEST_DATABASE_URL:-}" ] || [ -z "${TEST_REDIS_URL:-}" ]; then start_private_services; fi
fi
echo "spillway: testing against ${TEST_DATABASE_URL} and ${TEST_REDIS_URL}"

node scripts/build-web.mjs || die "building the web UI failed"
npx tsc --noEmit -p . || die "type check failed"
status=0
npx tap --reporter=tap "$@" > >(tee test-output.tap) || status=$?
wait
# A plain closing line any CI can read.
node scripts/tap-summary.mjs test-output.tap || status=1
exit $status
