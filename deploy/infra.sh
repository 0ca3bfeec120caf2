#!/usr/bin/env bash
# Start, stop or inspect the local infrastructure the services need:
# a one-node Kafka (KRaft), a project-local PostgreSQL cluster and an SMTP
# sink that writes to a Maildir. All runtime state lives in one directory,
# so `reset` can wipe it and tests can point MC_STATE_DIR elsewhere.
#
#   deploy/infra.sh start|stop|status|reset
#
# Setting KAFKA_BOOTSTRAP_SERVERS or DATABASE_URL to another server makes
# start use (probe) that server instead of starting our own (with the KAFKA_SECURITY_PROTOCOL,
# KAFKA_USERNAME, ... of the environment).
#
# Our Kafka authenticates every client with SASL/SCRAM-SHA-512 over TLS and authorizes it with ACLs
# (deploy/kafka/server.properties.in). Its CA, certificate and the administrator's credentials are made once
# in the node's keys directory ($MC_KEYS_DIR, by default <state>/keys), outside the repository.
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
KEYS=${MC_KEYS_DIR:-$STATE/keys}
KAFKA_KEYS=$KEYS/kafka
# SASL_SSL (the default) or SASL_PLAINTEXT.
KAFKA_LISTENER_PROTOCOL=${MC_KAFKA_PROTOCOL:-SASL_SSL}
PIDS=$STATE/pids
LOGS=$STATE/logs
# PostgreSQL's data directory and log; place_pg moves them where the postgres user can reach them when it must.
PGDATA=$STATE/pg
PG_LOG=$LOGS/postgresql.log
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

# kcat's options to reach the cluster as its administrator, one a line: our own credentials file, or the
# environment's settings for a cluster we did not start.
kcat_admin() {
  if [[ $KAFKA == "$OWN_KAFKA" ]]; then
    printf '%s\n' -F "$KAFKA_KEYS/mc-admin.properties"
    return
  fi
  printf '%s\n' -b "$KAFKA"
  if [[ ${KAFKA_SECURITY_PROTOCOL:-PLAINTEXT} != PLAINTEXT ]]; then
    printf '%s\n' -X "security.protocol=$KAFKA_SECURITY_PROTOCOL" -X "sasl.mechanisms=${KAFKA_SASL_MECHANISM:-SCRAM-SHA-512}" \
      -X "sasl.username=${KAFKA_USERNAME:-}" -X "sasl.password=${KAFKA_PASSWORD:-}"
  fi
  [[ -z ${KAFKA_SSL_CAFILE:-} ]] || printf '%s\n' -X "ssl.ca.location=$KAFKA_SSL_CAFILE"
}

kafka_ready() {
  # A metadata request for all topics lists the brokers and, unlike asking
  # for a named topic, never auto-creates anything.
  local -a options
  mapfile -t options < <(kcat_admin)
  kcat "${options[@]}" -L -m 3 2>/dev/null | grep -q ' broker [0-9]* at '
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
  [[ -x $ROOT/.venv/bin/python ]] || die "no .venv; run deploy/install.sh"

  mkdir -p "$STATE/kafka/data"
  # Rendered on every start so port changes take effect; the data, CA and credentials stay. It prints the
  # SCRAM credentials of the broker and the administrator, which only formatting the storage takes.
  local -a scram
  mapfile -t scram < <(cd "$ROOT" && .venv/bin/python -m deploy.kafka_security broker --keys "$KAFKA_KEYS" \
    --config "$props" --data "$STATE/kafka/data" --port "$KAFKA_PORT" --controller-port "$KAFKA_CONTROLLER_PORT" \
    --protocol "$KAFKA_LISTENER_PROTOCOL") || die "could not write the broker's configuration"
  ((${#scram[@]})) || die "the broker's configuration gave no SCRAM credentials"
  local marker=$STATE/kafka/data/.scram-bootstrapped
  if [[ -f $STATE/kafka/data/meta.properties && ! -f $marker ]]; then
    # Formatted before Kafka had security: its administrator has no SCRAM credentials and never can.
    local aside=$STATE/kafka/data.before-security-$(date +%Y%m%d%H%M%S)
    mv "$STATE/kafka/data" "$aside"
    mkdir -p "$STATE/kafka/data"
    log "Kafka's storage predates its SASL/ACL setup; moved it to $aside and formatting anew"
  fi
  if [[ ! -f $STATE/kafka/data/meta.properties ]]; then
    local cluster_id
    cluster_id=$(java -cp "$KAFKA_LIBS/*" -Dlog4j.configuration="$LOG4J" -Dkafka.logs.dir="$LOGS" \
      kafka.tools.StorageTool random-uuid)
    # controller.quorum.voters is static, so no --standalone here. --add-scram (KIP-900) puts the broker's and the
    # administrator's SCRAM credentials into the metadata log, so that someone can log in to create the others.
    local -a add_scram=()
    for credential in "${scram[@]}"; do add_scram+=(--add-scram "$credential"); done
    # Its output lists the SCRAM records it wrote, so it goes to a file only its owner reads.
    local format_log=$STATE/kafka/format.log
    (umask 077 && java -cp "$KAFKA_LIBS/*" -Dlog4j.configuration="$LOG4J" -Dkafka.logs.dir="$LOGS" \
      kafka.tools.StorageTool format -t "$cluster_id" -c "$props" "${add_scram[@]}" >"$format_log" 2>&1) ||
      fail_with_log "formatting Kafka storage failed" "$format_log"
    touch "$marker"
    log "formatted Kafka storage (cluster id $cluster_id) with SASL/SCRAM and ACLs"
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

# The administrator's Kafka settings for the env file: our broker's, or those the environment gave.
kafka_env() {
  if [[ $KAFKA == "$OWN_KAFKA" ]]; then
    (cd "$ROOT" && .venv/bin/python - "$KAFKA_KEYS/mc-admin.properties" <<'PY'
import shlex, sys
from pathlib import Path
from deploy.kafka_security import as_environment, read_credentials
for name, value in as_environment(read_credentials(Path(sys.argv[1]))).items():
    if name != "KAFKA_BOOTSTRAP_SERVERS":
        print(f"export {name}={shlex.quote(value)}")
PY
    )
    printf 'export MC_KAFKA_CREDENTIALS=%q\n' "$KAFKA_KEYS"
    return
  fi
  local name
  for name in KAFKA_SECURITY_PROTOCOL KAFKA_SASL_MECHANISM KAFKA_USERNAME KAFKA_PASSWORD KAFKA_SSL_CAFILE; do
    [[ -z ${!name:-} ]] || printf 'export %s=%q\n' "$name" "${!name}"
  done
}

# --- PostgreSQL --------------------------------------------------------------

# PostgreSQL refuses to run as root, so root runs it as the postgres user
# (from /, since postgres may not be allowed into the caller's cwd).
as_pg() {
  if ((EUID == 0)); then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# Root runs PostgreSQL as the postgres user, which must reach the data directory and the log. A clone that user
# cannot traverse (under /root, mode 700) keeps them under /var/lib/microcredentials/<digest of the state directory>
# instead, and $STATE/pg and $LOGS/postgresql.log point there, so people find them where they always are.
place_pg() {
  ((EUID == 0)) && [[ -d $STATE ]] || return 0
  as_pg test -x "$STATE" && return 0
  local home
  home=/var/lib/microcredentials/$(realpath "$STATE" | sha256sum | cut -c1-16)
  PGDATA=$home/pg
  PG_LOG=$home/postgresql.log
  mkdir -p "$home"
  chown postgres: "$home"
  [[ -e $STATE/pg || -L $STATE/pg ]] || ln -s "$PGDATA" "$STATE/pg"
  if [[ -d $LOGS && ! -e $LOGS/postgresql.log && ! -L $LOGS/postgresql.log ]]; then ln -s "$PG_LOG" "$LOGS/postgresql.log"; fi
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
  local logf=$PG_LOG
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
    as_pg test -x "$PGDATA" || die "user postgres cannot reach $PGDATA"
  fi
  if [[ ! -f $PGDATA/PG_VERSION ]]; then
    local pwfile=$PGDATA.pw
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
  place_pg
  start_kafka
  start_pg
  start_smtp
  wait_kafka
  # The node administrator's settings: they hold the Kafka administrator's password, so only its owner reads them.
  (umask 077 && : >"$STATE/env")
  {
    printf 'export KAFKA_BOOTSTRAP_SERVERS=%q\n' "$KAFKA"
    kafka_env
    printf 'export DATABASE_URL=%q\n' "$DB"
    printf 'export SMTP_HOST=127.0.0.1\nexport SMTP_PORT=%q\n' "$SMTP_PORT"
    printf 'export MAILDIR=%q\n' "$STATE/mail"
  } >"$STATE/env"
  log "all up; for the settings below: source $STATE/env"
  sed -e 's/^export /  /' -e 's/^\(  KAFKA_PASSWORD=\).*/\1(hidden)/' "$STATE/env"
}

cmd_stop() {
  place_pg
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
  place_pg
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
  # The data directory lives elsewhere when $STATE/pg points there (see place_pg).
  if [[ -L $STATE/pg ]]; then rm -rf "$(dirname "$(readlink "$STATE/pg")")"; fi
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
