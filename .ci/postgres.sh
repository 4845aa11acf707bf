#!/usr/bin/env bash
# PostgreSQL for the tests.
#   .ci/postgres.sh install installs the server binaries and PgBouncer if the machine lacks them (the
#                           tests then start and stop a throw-away server, and PgBouncer, themselves)
#   .ci/postgres.sh start   starts a throw-away server that outlives one test run (for the benchmarks, or
#                           to run the tests against it) and prints `export COMMERCE_POSTGRES=...` (eval it);
#                           it runs with fsync=off unless started as `start --durable` (fsync on, as a
#                           real server: every commit waits for its flush of the write-ahead log)
#   .ci/postgres.sh stop    stops the server started by `start` and removes its directory
# The data directory is recorded in ${COMMERCE_PG_STATE:-/tmp/commerce-pg.state}.
set -euo pipefail

state_file="${COMMERCE_PG_STATE:-/tmp/commerce-pg.state}"

find_binaries() {
  if ! command -v initdb >/dev/null 2>&1 || ! command -v pg_ctl >/dev/null 2>&1; then
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
      if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
        PATH="$dir:$PATH"
        break
      fi
    done
  fi

  if ! command -v initdb >/dev/null 2>&1 || ! command -v pg_ctl >/dev/null 2>&1; then
    echo "PostgreSQL binaries not found; installing them." >&2
    apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
      PATH="$dir:$PATH"
      break
    done
  fi

  command -v initdb >/dev/null 2>&1 || { echo "initdb not found" >&2; exit 1; }
  export PATH
}

find_pgbouncer() {
  if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
    echo "pgbouncer not found; installing it." >&2
    apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y pgbouncer >&2
  fi
  command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || { echo "pgbouncer not found" >&2; exit 1; }
}

# Runs a command as the unprivileged owner of the data directory (initdb refuses to run as root).
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    su "$pg_user" -s /bin/bash -c "PATH='$PATH'; $*"
  else
    bash -c "$*"
  fi
}

pick_user() {
  pg_user="$(id -un)"
  if [ "$(id -u)" -eq 0 ]; then
    pg_user=postgres
    if ! id "$pg_user" >/dev/null 2>&1; then
      useradd --system --no-create-home --shell /bin/bash "$pg_user" >&2
    fi
  fi
}

free_port() {
  python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

start() {
  local fsync="-c fsync=off"
  [ "${1:-}" = "--durable" ] && fsync=""
  find_binaries
  pick_user
  local dir port
  dir="$(mktemp -d /tmp/commerce-pg.XXXXXX)"
  chmod 700 "$dir"
  [ "$(id -u)" -eq 0 ] && chown "$pg_user" "$dir"
  port="$(free_port)"
  as_owner "initdb -D '$dir/data' -U postgres --auth=trust --no-sync -E UTF8 >'$dir/initdb.log' 2>&1" \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  as_owner "pg_ctl -D '$dir/data' -l '$dir/server.log' -o \"-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 $fsync\" -w start >&2" \
    || { cat "$dir/server.log" >&2; exit 1; }
  printf '%s\n%s\n%s\n' "$dir" "$port" "$pg_user" >"$state_file"
  echo "export COMMERCE_POSTGRES='Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres'"
}

stop() {
  [ -f "$state_file" ] || return 0
  find_binaries
  local dir port
  { read -r dir; read -r port; read -r pg_user; } <"$state_file"
  if [ -d "$dir/data" ]; then
    as_owner "pg_ctl -D '$dir/data' -m fast -w stop >&2" || true
  fi
  rm -rf "$dir" "$state_file"
}

case "${1:-}" in
  install) find_binaries; find_pgbouncer ;;
  start) start "${2:-}" ;;
  stop) stop ;;
  *) echo "usage: $0 install|start [--durable]|stop" >&2; exit 2 ;;
esac
