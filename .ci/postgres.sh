#!/usr/bin/env bash
# Throw-away PostgreSQL server for the test suite, on loopback, in a temporary directory.
#
#   bash .ci/postgres.sh start   # installs PostgreSQL (apt-get) if missing, starts it, writes the
#                                # URL to .ci/pg_url and prints `export PATCHATLAS_TEST_POSTGRES_URL=...`
#   bash .ci/postgres.sh stop    # stops the server and deletes its directory
#
# Works as root (the server then runs as the `postgres` user) and as an ordinary user.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
STATE="$HERE/pg_state"
URL_FILE="$HERE/pg_url"
DB=patchatlas_test

find_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(readlink -f "$(command -v initdb)")"; return 0
  fi
  return 1
}

as_owner() {  # run a command as the server's owner
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  if [ -f "$STATE" ]; then echo "already started (state in $STATE); run stop first" >&2; exit 1; fi
  local bin
  if ! bin="$(find_bin)"; then
    echo "installing postgresql with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    bin="$(find_bin)"
  fi
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home postgres
  fi
  local dir port
  dir="$(mktemp -d /tmp/patchatlas-pg.XXXXXX)"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=off" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$DB"
  printf 'BIN=%q\nDIR=%q\nPORT=%q\n' "$bin" "$dir" "$port" >"$STATE"
  local url="postgresql+psycopg://postgres@127.0.0.1:$port/$DB"
  echo "$url" >"$URL_FILE"
  echo "export PATCHATLAS_TEST_POSTGRES_URL=$url"
}

stop() {
  [ -f "$STATE" ] || { echo "not started" >&2; return 0; }
  # shellcheck disable=SC1090
  . "$STATE"
  as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null || true
  rm -rf "$DIR" "$STATE" "$URL_FILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
