#!/usr/bin/env bash
# Start, stop or inspect the local infrastructure the services need:
# a one-node Kafka (KRaft), a project-local PostgreSQL cluster and an SMTP
# sink that writes to a Maildir. All runtime state lives in one directory,
# so `reset` can wipe it and tests can point MC_STATE_DIR elsewhere.
#
#   deploy/infra.sh start|stop|status|reset
#
# Setting KAFKA_BOOTSTRAP_SERVERS or DATABASE_URL to another server makes
# start use (probe) that server instead of starting our own.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${MC_STATE_DIR:-$ROOT/.run}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
PG_PORT=${PG_PORT:-5433}
SMTP_PORT=${SMTP_PORT:-1025}
WAIT_SECS=${MC_WAIT_SECS:-60}
KAFKA_LIBS=$ROOT/deploy/kafka/libs
LOG4J=file:$ROOT/deploy/kafka/log4j.properties
PIDS=$STATE/pids
LOGS=$STATE/logs
PGDATA=$STATE/pg
# Newest Debian PostgreSQL server installed; empty if none.
PG_BIN=$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n 1 || true)

OWN_KAFKA=127.0.0.1:$KAFKA_PORT
OWN_DB=postgresql+asyncpg://mc:mc@127.0.0.1:$PG_PORT/postgres
# A value equal to our own address (e.g. after `source .run/env`) still means
# "our server", so sourcing the env file never keeps start from starting it.
KAFKA=${KAFKA_BOOTSTRAP_SERVERS:-$OWN_KAFKA}
DB=${DATABASE_URL:-$OWN_DB}

LOG_TAG=infra
# shellcheck source=deploy/lib.sh
source "$ROOT/deploy/lib.sh"

# --- Kafka -------------------------------------------------------------------

kafka_ready() {
  # A metadata request for all topics lists the brokers and, unlike asking
  # for a named topic, never auto-creates anything.
  kcat -b "$KAFKA" -L -m 3 2>/dev/null | grep -q ' broker [0-9]* at '
}

# Kafka boots slowest, so start_kafka only launches it and wait_kafka runs
# after PostgreSQL and SMTP have been started in the meantime.
start_kafka() {
  command -v kcat >/dev/null || die "kcat not found; run deploy/install.sh"
  [[ $KAFKA == "$OWN_KAFKA" ]] || return 0
  local pidfile=$PIDS/kafka.pid logf=$LOGS/kafka.out props=$STATE/kafka/server.properties
  if pid_alive "$pidfile" kafka.Kafka; then
    log "Kafka already running (pid $(cat "$pidfile"))"
    return
  fi
  ! port_open "$KAFKA_PORT" || die "port $KAFKA_PORT is taken by another process; set KAFKA_PORT"
  compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null || die "no Kafka jars; run deploy/install.sh"

  mkdir -p "$STATE/kafka/data"
  # Rendered on every start so port changes take effect; the data stays.
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
      -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
      -e "s|@KAFKA_DATA_DIR@|$STATE/kafka/data|g" \
      "$ROOT/deploy/kafka/server.properties.in" >"$props"
  if [[ ! -f $STATE/kafka/data/meta.properties ]]; then
    local cluster_id
    cluster_id=$(java -cp "$KAFKA_LIBS/*" -Dlog4j.configuration="$LOG4J" -Dkafka.logs.dir="$LOGS" \
      kafka.tools.StorageTool random-uuid)
    # controller.quorum.voters is static, so no --standalone here.
    java -cp "$KAFKA_LIBS/*" -Dlog4j.configuration="$LOG4J" -Dkafka.logs.dir="$LOGS" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$props" >>"$logf" 2>&1 ||
      fail_with_log "formatting Kafka storage failed" "$logf"
    log "formatted Kafka storage (cluster id $cluster_id)"
  fi
  launch "$pidfile" "$logf" java -Xms1g -Xmx1g -Djava.awt.headless=true \
    -Dlog4j.configuration="$LOG4J" -Dkafka.logs.dir="$LOGS" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$props"
  log "Kafka launched (pid $(cat "$pidfile"))"
}

wait_kafka() {
  if [[ $KAFKA != "$OWN_KAFKA" ]]; then
    kafka_ready || die "Kafka at KAFKA_BOOTSTRAP_SERVERS=$KAFKA does not answer"
    log "using Kafka at $KAFKA (not started here)"
    return
  fi
  local klogs=$LOGS/kafka.out,$LOGS/kafka-server.log
  # The cheap port probe first: kcat waits its full timeout on a closed port.
  wait_until Kafka "$klogs" "$PIDS/kafka.pid" kafka.Kafka port_open "$KAFKA_PORT"
  wait_until Kafka "$klogs" "$PIDS/kafka.pid" kafka.Kafka kafka_ready
  log "Kafka ready on $KAFKA"
}

# --- PostgreSQL --------------------------------------------------------------

# PostgreSQL refuses to run as root, so root runs it as the postgres user
# (from /, since postgres may not be allowed into the caller's cwd).
as_pg() {
  if ((EUID == 0)); then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

pg_running() {
  [[ -n $PG_BIN && -d $PGDATA ]] && as_pg "$PG_BIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1
}

pg_ready() { "$PG_BIN/pg_isready" -q -t 3 -h 127.0.0.1 -p "$PG_PORT"; }

pg_ready_or_gone() { ! pg_running || pg_ready; }

start_pg() {
  [[ -n $PG_BIN ]] || die "PostgreSQL server not found; run deploy/install.sh"
  if [[ $DB != "$OWN_DB" ]]; then
    # libpq does not know SQLAlchemy's "+driver" part of the scheme.
    "$PG_BIN/pg_isready" -q -t 5 -d "$(sed -E 's|^(postgres(ql)?)\+[a-z0-9_]+:|\1:|' <<<"$DB")" ||
      die "PostgreSQL at DATABASE_URL does not answer"
    log "using PostgreSQL from DATABASE_URL (not started here)"
    return
  fi
  local logf=$LOGS/postgresql.log
  # A postmaster killed a moment ago may still look alive: wait until it either
  # answers or is gone (then it is started again below).
  if pg_running && wait_until PostgreSQL "$logf" "" "" pg_ready_or_gone && pg_running; then
    if ! pg_durable; then
      # Started by an older infra.sh: the setting can change without a restart.
      pg_durable_config
      as_pg "$PG_BIN/pg_ctl" reload -D "$PGDATA" >/dev/null
      wait_until "PostgreSQL (durable commits)" "$logf" "" "" pg_durable
      log "PostgreSQL: commits made durable again (synchronous_commit = on)"
    fi
    log "PostgreSQL already running"
    return
  fi
  pg_end_orphans
  ! port_open "$PG_PORT" || die "port $PG_PORT is taken by another process; set PG_PORT"

  mkdir -p "$PGDATA"
  touch "$logf"
  if ((EUID == 0)); then
    chown postgres: "$PGDATA" "$logf"
    as_pg test -x "$PGDATA" || die "user postgres cannot reach $PGDATA; pick an MC_STATE_DIR it can traverse"
  fi
  if [[ ! -f $PGDATA/PG_VERSION ]]; then
    local pwfile=$STATE/pg.pw
    echo mc >"$pwfile"
    if ((EUID == 0)); then chown postgres: "$pwfile"; fi
    as_pg "$PG_BIN/initdb" -D "$PGDATA" -U mc --pwfile="$pwfile" --auth=trust \
      -E UTF8 --locale=C.UTF-8 >>"$logf" 2>&1 || { rm -f "$pwfile"; fail_with_log "initdb failed" "$logf"; }
    rm -f "$pwfile"
    # TCP only: no socket in /var/run/postgresql, which may be missing or not
    # ours. Commits stay durable (fsync and synchronous_commit at their
    # defaults, on): consumers commit Kafka offsets and the outbox relay
    # publishes events after a commit, so a commit a crash could take back
    # would lose grades and invent credentials.
    cat >>"$PGDATA/postgresql.conf" <<'CONF'
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
CONF
    log "created PostgreSQL cluster in $PGDATA"
  fi
  pg_durable_config
  # Port on the command line, so PG_PORT can change without a new cluster.
  # pg_ctl -w returns early if the postmaster dies; pg_isready then confirms.
  as_pg "$PG_BIN/pg_ctl" start -D "$PGDATA" -l "$logf" -o "-p $PG_PORT" -w -t "$WAIT_SECS" \
    >/dev/null || fail_with_log "PostgreSQL did not start" "$logf"
  wait_until PostgreSQL "$logf" "" "" pg_ready
  pg_durable || die "PostgreSQL in $PGDATA does not commit durably (SHOW synchronous_commit, fsync); see its configuration"
  log "PostgreSQL ready on 127.0.0.1:$PG_PORT (user mc)"
}

# After the postmaster died (kill -9, a crash), a backend busy with a long
# statement outlives it and keeps the shared memory that a new postmaster
# refuses to share. They run in the data directory: end them, as PostgreSQL's
# own hint says, with SIGQUIT (immediate exit), then SIGKILL.
pg_orphans() {
  local pid
  for pid in $(pgrep -u "$(stat -c %U "$PGDATA" 2>/dev/null || echo postgres)" 2>/dev/null); do
    if [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == "$(realpath "$PGDATA")" ]]; then echo "$pid"; fi
  done
}

pg_end_orphans() {
  [[ -d $PGDATA ]] || return 0
  local orphans deadline=$((SECONDS + 10))
  orphans=$(pg_orphans)
  [[ -n $orphans ]] || return 0
  log "PostgreSQL: ending $(wc -w <<<"$orphans") server process(es) left by a postmaster that died"
  kill -QUIT $orphans 2>/dev/null || true
  while [[ -n $(pg_orphans) ]] && ((SECONDS < deadline)); do sleep 0.2; done
  orphans=$(pg_orphans)
  if [[ -n $orphans ]]; then kill -KILL $orphans 2>/dev/null || true; fi
  while [[ -n $(pg_orphans) ]]; do sleep 0.2; done
}

# Clusters created by an older infra.sh were set to synchronous_commit = off:
# drop that (and any ALTER SYSTEM of it) so the durable default applies.
pg_durable_config() {
  local conf
  for conf in "$PGDATA/postgresql.conf" "$PGDATA/postgresql.auto.conf"; do
    [[ -f $conf ]] && grep -Eq '^[[:space:]]*(synchronous_commit|fsync)[[:space:]]*=' "$conf" || continue
    sed -i -E '/^[[:space:]]*(synchronous_commit|fsync)[[:space:]]*=/d' "$conf"
    log "PostgreSQL: removed synchronous_commit/fsync from $(basename "$conf") (the durable default, on, applies)"
  done
}

pg_setting() {
  "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U mc -d postgres -XAtq -c "SHOW $1" 2>/dev/null
}

pg_durable() { [[ $(pg_setting synchronous_commit) == on && $(pg_setting fsync) == on ]]; }

# --- SMTP --------------------------------------------------------------------

smtp_ready() (
  # Wait for the 220 greeting, not just an open port.
  exec 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT" || exit 1
  read -r -t 2 line <&3 && [[ $line == 220* ]]
)

start_smtp() {
  local pidfile=$PIDS/smtp.pid logf=$LOGS/smtp.log
  if pid_alive "$pidfile" smtp_mailbox.py; then
    wait_until SMTP "$logf" "$pidfile" smtp_mailbox.py smtp_ready
    log "SMTP already running (pid $(cat "$pidfile"))"
    return
  fi
  ! port_open "$SMTP_PORT" || die "port $SMTP_PORT is taken by another process; set SMTP_PORT"
  [[ -x $ROOT/.venv/bin/python ]] || die "no .venv; run deploy/install.sh"
  launch "$pidfile" "$logf" "$ROOT/.venv/bin/python" -u "$ROOT/deploy/smtp_mailbox.py" \
    --host 127.0.0.1 --port "$SMTP_PORT" --maildir "$STATE/mail"
  wait_until SMTP "$logf" "$pidfile" smtp_mailbox.py smtp_ready
  log "SMTP ready on 127.0.0.1:$SMTP_PORT, mail in $STATE/mail"
}

# --- commands ----------------------------------------------------------------

cmd_start() {
  mkdir -p "$PIDS" "$LOGS" "$STATE/mail"
  start_kafka
  start_pg
  start_smtp
  wait_kafka
  {
    printf 'export KAFKA_BOOTSTRAP_SERVERS=%q\n' "$KAFKA"
    printf 'export DATABASE_URL=%q\n' "$DB"
    printf 'export SMTP_HOST=127.0.0.1\nexport SMTP_PORT=%q\n' "$SMTP_PORT"
    printf 'export MAILDIR=%q\n' "$STATE/mail"
  } >"$STATE/env"
  log "all up; for the settings below: source $STATE/env"
  sed 's/^export /  /' "$STATE/env"
}

cmd_stop() {
  local stopped=0
  if stop_pid SMTP "$PIDS/smtp.pid" smtp_mailbox.py; then stopped=1; fi
  if stop_pid Kafka "$PIDS/kafka.pid" kafka.Kafka; then stopped=1; fi
  if pg_running; then
    as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA" -m fast >/dev/null
    log "PostgreSQL stopped"
    stopped=1
  fi
  ((stopped)) || log "nothing was running"
}

cmd_status() {
  local rc=0
  if [[ $KAFKA != "$OWN_KAFKA" ]]; then
    log "Kafka      external: $KAFKA"
  elif pid_alive "$PIDS/kafka.pid" kafka.Kafka; then
    log "Kafka      running, pid $(cat "$PIDS/kafka.pid"), $OWN_KAFKA"
  else log "Kafka      stopped"; rc=3; fi
  if [[ $DB != "$OWN_DB" ]]; then
    log "PostgreSQL external: from DATABASE_URL"
  elif pg_running; then
    log "PostgreSQL running, 127.0.0.1:$PG_PORT, data in $PGDATA"
  else log "PostgreSQL stopped"; rc=3; fi
  if pid_alive "$PIDS/smtp.pid" smtp_mailbox.py; then
    log "SMTP       running, pid $(cat "$PIDS/smtp.pid"), 127.0.0.1:$SMTP_PORT"
  else log "SMTP       stopped"; rc=3; fi
  return "$rc"
}

cmd_reset() {
  cmd_stop
  [[ -n $STATE && $STATE != / ]] || die "refusing to delete '$STATE'"
  rm -rf "$STATE"
  log "removed $STATE"
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  *) echo "usage: $0 start|stop|status|reset" >&2; exit 2 ;;
esac
