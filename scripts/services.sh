#!/usr/bin/env bash
# Private PostgreSQL and Redis for local runs and tests, kept under var/.
#   scripts/services.sh start|stop|status|replica-start|replica-stop
# Skips PostgreSQL when PRIVATE_PG is not 1 (DATABASE_URL given) and Redis when PRIVATE_REDIS
# is not 1 (REDIS_URL given). Idempotent: a second start of a running service does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VAR=$ROOT/var
PG_PORT=${FLEETOPS_PG_PORT:-55432}
REDIS_PORT=${FLEETOPS_REDIS_PORT:-56379}
REPLICA_PORT=${FLEETOPS_PG_REPLICA_PORT:-$((PG_PORT + 10))}
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

# PostgreSQL refuses to run as root: as root the cluster belongs to a dedicated system user. It
# runs from / so that a working directory it may not enter does not matter.
as_pg() {
  if is_root; then (cd / && runuser -u "$PG_OS_USER" -- "$@"); else "$@"; fi
}

# Where the cluster lives: var/ itself, or, when the cluster's user cannot reach var/ (a checkout
# under /root, or in a directory closed to others), a directory of its own under /var/lib/fleetops
# with var/pg pointing at it. Data, socket directory and log all go there.
pg_home() {
  if is_root && ! runuser -u "$PG_OS_USER" -- test -x "$VAR" 2>/dev/null; then
    local alt
    alt=/var/lib/fleetops/$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)
    mkdir -p "$alt/pg" "$alt/pg-run" "$alt/log"
    chmod 755 /var/lib/fleetops "$alt"
    chown "$PG_OS_USER" "$alt/pg" "$alt/pg-run" "$alt/log"
    [ -L "$VAR/pg" ] || { rmdir "$VAR/pg" 2>/dev/null || true; ln -sfn "$alt/pg" "$VAR/pg"; }
    echo "$alt"
  else
    echo "$VAR"
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
  local home data run log
  home=$(pg_home); data=$home/pg; run=$home/pg-run; log=$home/log/postgres.log
  mkdir -p "$data" "$run" "$home/log"
  if is_root; then chown "$PG_OS_USER" "$data" "$run" "$home/log"; fi
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
wal_level = replica
max_wal_senders = 4
max_parallel_workers_per_gather = 2
max_parallel_maintenance_workers = 2
CONF
  fi
  # The cluster may still run from an earlier `make` with another PG_PORT (line 4 of
  # postmaster.pid is its port): restart it on the port asked for rather than report a
  # server that is not there.
  if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    local running; running=$(sed -n 4p "$data/postmaster.pid" 2>/dev/null)
    if [ "$running" != "$PG_PORT" ]; then
      say "PostgreSQL was running on port $running; restarting it on $PG_PORT"
      as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    fi
  fi
  # Clusters made before the replica test ran wal_level=minimal, which a streaming replica
  # (pg_basebackup -R) cannot follow: switch them over, restarting once if they run.
  if grep -q '^wal_level = minimal' "$data/postgresql.conf"; then
    if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      say "restarting PostgreSQL once with wal_level=replica (for a streaming replica)"
      as_pg "$bin/pg_ctl" -D "$data" -m fast -w -t 600 stop >/dev/null  # its checkpoint may be long
    fi
    as_pg sed -i -e 's/^wal_level = minimal/wal_level = replica/' -e 's/^max_wal_senders = 0/max_wal_senders = 4/' \
      "$data/postgresql.conf"
  fi
  if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    say "PostgreSQL already running on 127.0.0.1:$PG_PORT"
  else
    as_pg "$bin/pg_ctl" -D "$data" -l "$log" -o "-p $PG_PORT" -w -t 60 start >/dev/null
    say "PostgreSQL started on 127.0.0.1:$PG_PORT (data $data)"
  fi
  if ! "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U fleetops -d postgres -Atc \
      "select 1 from pg_database where datname = 'fleetops'" | grep -q 1; then
    "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U fleetops fleetops
    say "database fleetops created"
  fi
  # Two roles as in production: fleetops (owner, runs the migrations) and fleetops_app (the
  # application: no superuser; `manage.py db_app_role` after migrate gives it the domain tables
  # and only SELECT/INSERT on the audit log).
  "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U fleetops -d postgres -qAtc \
    "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fleetops_app') THEN
       CREATE ROLE fleetops_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; END IF; END \$\$;" >/dev/null
}

pg_stop() {
  local bin data; bin=$(pg_bindir); data=$(readlink -f "$VAR/pg" 2>/dev/null || echo "$VAR/pg")
  [ -n "$bin" ] && [ -f "$data/PG_VERSION" ] || return 0
  if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null && say "PostgreSQL stopped"
  fi
}

# A hot standby streaming from the private cluster (pg_basebackup -R), made afresh at every start
# and removed at stop: tests/common/test_replica.py runs the replica router against it.
replica_start() {
  local bin; bin=$(pg_bindir)
  if [ -z "$bin" ] || [ ! -x "$bin/pg_basebackup" ]; then say "pg_basebackup not found" >&2; exit 1; fi
  local home data run log
  home=$(pg_home); data=$home/pg-replica; run=$home/pg-replica-run; log=$home/log/postgres-replica.log
  if [ -f "$data/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    say "replica already running on 127.0.0.1:$REPLICA_PORT"
    return
  fi
  rm -rf "$data" "$run"
  mkdir -p "$data" "$run"
  if is_root; then chown "$PG_OS_USER" "$data" "$run"; fi
  chmod 700 "$data"
  as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" -U fleetops -D "$data" -R -X stream -c fast
  # The primary's port and socket directory come with the copy of its configuration: not these.
  as_pg "$bin/pg_ctl" -D "$data" -l "$log" -w -t 300 \
    -o "-p $REPLICA_PORT -c unix_socket_directories=$run -c shared_buffers=128MB -c hot_standby=on" start >/dev/null
  say "replica of 127.0.0.1:$PG_PORT streaming on 127.0.0.1:$REPLICA_PORT (data $data)"
}

replica_stop() {
  local bin home; bin=$(pg_bindir); home=$(pg_home)
  [ -n "$bin" ] && [ -f "$home/pg-replica/PG_VERSION" ] || return 0
  if as_pg "$bin/pg_ctl" -D "$home/pg-replica" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$home/pg-replica" -m immediate -w stop >/dev/null && say "replica stopped"
  fi
  rm -rf "$home/pg-replica" "$home/pg-replica-run"
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
  stop) replica_stop; pg_stop; redis_stop ;;
  replica-start) replica_start ;;
  replica-stop) replica_stop ;;
  status)
    as_pg "$(pg_bindir)/pg_ctl" -D "$(readlink -f "$VAR/pg")" status || true
    redis-cli -p "$REDIS_PORT" ping || true ;;
  *) echo "usage: $0 start|stop|status|replica-start|replica-stop" >&2; exit 2 ;;
esac
