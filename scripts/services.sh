#!/usr/bin/env bash
# Private PostgreSQL and Redis for local runs and tests, kept under var/.
#   scripts/services.sh start|stop|status
# Skips PostgreSQL when PRIVATE_PG is not 1 (DATABASE_URL given) and Redis when PRIVATE_REDIS
# is not 1 (REDIS_URL given). Idempotent: a second start of a running service does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VAR=$ROOT/var
PG_PORT=${FLEETOPS_PG_PORT:-55432}
REDIS_PORT=${FLEETOPS_REDIS_PORT:-56379}
PG_OS_USER=fleetops-pg
PRIVATE_PG=${PRIVATE_PG:-1}
PRIVATE_REDIS=${PRIVATE_REDIS:-1}
mkdir -p "$VAR/log"

say() { printf '[services] %s\n' "$*"; }
is_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
  if ! is_root; then
    say "missing: $*. Install it with:  sudo apt-get install -y $*" >&2
    exit 1
  fi
  say "installing $* with apt-get"
  if [ ! -f "$VAR/.apt-updated" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && touch "$VAR/.apt-updated"
  fi
  # Debian's service scripts must not start the system-wide instances.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  rm -f /usr/sbin/policy-rc.d
}

pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# PostgreSQL refuses to run as root: as root the cluster belongs to a dedicated system user.
as_pg() {
  if is_root; then runuser -u "$PG_OS_USER" -- "$@"; else "$@"; fi
}

pg_datadir() {
  if is_root && ! runuser -u "$PG_OS_USER" -- test -x "$VAR" 2>/dev/null; then
    # The checkout is not reachable by the cluster's user (e.g. under /root): keep the data
    # in a directory it can reach and point var/pg at it.
    local alt
    alt=/var/lib/fleetops/$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)
    mkdir -p "$alt" && chown "$PG_OS_USER" "$alt"
    [ -L "$VAR/pg" ] || ln -s "$alt" "$VAR/pg"
    echo "$alt"
  else
    echo "$VAR/pg"
  fi
}

pg_start() {
  [ "$PRIVATE_PG" = 1 ] || { say "DATABASE_URL is set: using that PostgreSQL"; return; }
  local bin; bin=$(pg_bindir)
  if [ -z "$bin" ]; then apt_install postgresql; bin=$(pg_bindir); fi
  if is_root && ! id "$PG_OS_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_OS_USER"
  fi
  chmod o+x "$VAR" 2>/dev/null || true
  local data run; data=$(pg_datadir); run=$VAR/pg-run
  mkdir -p "$data" "$run"
  if is_root; then chown "$PG_OS_USER" "$data" "$run" "$VAR/log"; fi
  chmod 700 "$data"
  if [ ! -f "$data/PG_VERSION" ]; then
    say "initdb $data"
    as_pg "$bin/initdb" -D "$data" -U fleetops --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$VAR/log/initdb.log"
    cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$run'
max_connections = 200
shared_buffers = 1GB
work_mem = 64MB
maintenance_work_mem = 1GB
max_wal_size = 8GB
checkpoint_timeout = 15min
synchronous_commit = off
wal_level = minimal
max_wal_senders = 0
max_parallel_workers_per_gather = 2
max_parallel_maintenance_workers = 2
CONF
  fi
  if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    say "PostgreSQL already running on 127.0.0.1:$PG_PORT"
  else
    as_pg "$bin/pg_ctl" -D "$data" -l "$VAR/log/postgres.log" -w -t 60 start >/dev/null
    say "PostgreSQL started on 127.0.0.1:$PG_PORT (data $data)"
  fi
  if ! "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U fleetops -d postgres -Atc \
      "select 1 from pg_database where datname = 'fleetops'" | grep -q 1; then
    "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U fleetops fleetops
    say "database fleetops created"
  fi
}

pg_stop() {
  local bin data; bin=$(pg_bindir); data=$VAR/pg
  [ -n "$bin" ] && [ -f "$data/PG_VERSION" ] || return 0
  if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null && say "PostgreSQL stopped"
  fi
}

redis_start() {
  [ "$PRIVATE_REDIS" = 1 ] || { say "REDIS_URL is set: using that Redis"; return; }
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p "$VAR/redis"
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    say "Redis already running on 127.0.0.1:$REDIS_PORT"
    return
  fi
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --dir "$VAR/redis" \
    --pidfile "$VAR/redis/redis.pid" --logfile "$VAR/log/redis.log" --save "" --appendonly no
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  say "Redis started on 127.0.0.1:$REDIS_PORT"
}

redis_stop() {
  command -v redis-cli >/dev/null || return 0
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    say "Redis stopped"
  fi
}

case "${1:-start}" in
  start) pg_start; redis_start ;;
  stop) pg_stop; redis_stop ;;
  status)
    as_pg "$(pg_bindir)/pg_ctl" -D "$VAR/pg" status || true
    redis-cli -p "$REDIS_PORT" ping || true ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
