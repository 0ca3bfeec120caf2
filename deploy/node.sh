#!/usr/bin/env bash
# Start, stop or inspect a whole node: the infrastructure (infra.sh), the five services, each its own process, the
# web front end, and (unless OIDC_ISSUER names the university's own identity provider) the demo's Keycloak.
#
#   deploy/node.sh start|stop|status
#   deploy/node.sh env SERVICE     the environment a service is started with (docker-compose.yml mirrors it)
#
# Several nodes can share one machine's infrastructure (deploy/alliance.sh does): each with its own MC_NODE_DIR (pids,
# logs), MC_NODE_KEYS_DIR (token and signing keys, LMS registry), MC_PORT_BASE (the front end on base, services on
# base+1..base+6),
# TOPIC_PREFIX, DATABASE_PREFIX and NODE_URI; MC_PUBLIC_URL, the node's one public origin where the front end passes its
# public documents on to certification (DIDs, status lists and credential links are named after it; by default
# certification's own address); MC_KEEP_INFRA=1 makes `stop` leave the infrastructure running. With
# ALLIANCE_NODE_ID set the node is on an alliance's bus: it also runs the alliance gateway (ALLIANCE_* settings, its
# credentials on the alliance's cluster in the file ALLIANCE_KAFKA_CREDENTIALS).
# Services log to <state>/logs/<service>.log; start waits until every service answers /health/ready.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${MC_STATE_DIR:-$ROOT/.run}
WAIT_SECS=${MC_WAIT_SECS:-90}
NODE_DIR=${MC_NODE_DIR:-$STATE}
PIDS=$NODE_DIR/pids
LOGS=$NODE_DIR/logs
# The node's token keys (shared.auth) and its universities' credential-signing keys; never inside the repository.
KEYS=${MC_NODE_KEYS_DIR:-${MC_KEYS_DIR:-$STATE/keys}}
ISSUER_KEYS=${ISSUER_KEYS_DIR:-$KEYS/issuers}
# Each service's and each LMS's Kafka credentials (python -m deploy.kafka_security), and the LMS registry.
KAFKA_CREDENTIALS=${MC_KAFKA_CREDENTIALS:-${MC_KEYS_DIR:-$STATE/keys}/kafka}
LMS_REGISTRY=${LMS_REGISTRY_FILE:-$KEYS/lms-registry.json}
# The demo's LMS: Saarland University's Moodle, registered to grade its courses (none when MC_DEMO_LMS is empty).
DEMO_LMS=${MC_DEMO_LMS-moodle-saarland}
# The universities this node signs credentials for (the demo's courses are Saarland University's).
ISSUING_INSTITUTIONS=(${MC_INSTITUTIONS:-uni-saarland})
# The names (and countries) the verify page shows for them; an institution without one is shown by its code.
declare -A INSTITUTION_PROFILES=([uni-saarland]="Saarland University|DE" [uni-sofia]="Sofia University|BG"
  [uni-silesia]="University of Silesia in Katowice|PL" [upr]="University of Primorska|SI")
LOG_TAG=node
# shellcheck source=deploy/lib.sh
source "$ROOT/deploy/lib.sh"

SERVICES=(catalogue enrolment assessment certification notifications)
[[ -n ${ALLIANCE_NODE_ID:-} ]] && SERVICES+=(alliance)
SERVICES+=(web)
BASE=${MC_PORT_BASE:-8000}
declare -A PORTS=([web]=$BASE [catalogue]=$((BASE + 1)) [enrolment]=$((BASE + 2)) [assessment]=$((BASE + 3))
  [certification]=$((BASE + 4)) [notifications]=$((BASE + 5)) [alliance]=$((BASE + 6)))
WEB_URL=http://127.0.0.1:${PORTS[web]}
# The identity provider people sign in at: the university's (OIDC_ISSUER, with the front end's client there:
# OIDC_CLIENT_ID, OIDC_CLIENT_SECRET), or the demo's Keycloak (deploy/keycloak.sh) with its demo realm.
OWN_KEYCLOAK=$([[ -z ${OIDC_ISSUER:-} ]] && echo yes || echo no)
ISSUER=${OIDC_ISSUER:-$(bash "$ROOT/deploy/keycloak.sh" url)}

# lms_registered ID: the LMS has its credentials and is in the node's LMS registry (nodes sharing one machine's Kafka
# credentials folder each have a registry of their own).
lms_registered() {
  [[ -f $KAFKA_CREDENTIALS/${TOPIC_PREFIX:-}lms-$1.properties ]] && grep -qF "\"$1\"" "$LMS_REGISTRY" 2>/dev/null
}

# credential FILE PROPERTY: a value of a librdkafka properties file (empty when there is none yet).
credential() { sed -n "s/^$2=//p" "$1" 2>/dev/null || true; }

# service_env NAME: one KEY=VALUE line per setting the service is started with.
service_env() {
  local name=$1 port=${PORTS[$1]}
  # The service's own principal (least privilege), whose name is its consumer group's.
  local principal=${TOPIC_PREFIX:-}mc-$name
  local credentials=$KAFKA_CREDENTIALS/$principal.properties
  if [[ $name == web ]]; then
    # The front end has no Kafka part: it calls the services over HTTP with the signed-in person's token.
    echo "DATABASE_URL=$DATABASE_URL"
    if [[ -n ${DATABASE_PREFIX:-} ]]; then echo "DATABASE_PREFIX=$DATABASE_PREFIX"; fi
    echo "HTTP_HOST=127.0.0.1"
    echo "HTTP_PORT=$port"
    echo "PUBLIC_URL=$WEB_URL"
    local service
    for service in catalogue enrolment assessment certification notifications; do
      echo "${service^^}_URL=http://127.0.0.1:${PORTS[$service]}"
    done
    echo "OIDC_ISSUER=$ISSUER"
    echo "OIDC_CLIENT_ID=${OIDC_CLIENT_ID:-microcredentials-web}"
    # The demo realm's client secret (deploy/keycloak_realm.py); a university's IdP issues its own.
    echo "OIDC_CLIENT_SECRET=${OIDC_CLIENT_SECRET:-demo-web-client-secret}"
    return
  fi
  echo "NODE_URI=${NODE_URI:-urn:microcredentials:node:local}"
  echo "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS"
  echo "KAFKA_SECURITY_PROTOCOL=${KAFKA_SECURITY_PROTOCOL:-SASL_SSL}"
  echo "KAFKA_SASL_MECHANISM=${KAFKA_SASL_MECHANISM:-SCRAM-SHA-512}"
  echo "KAFKA_SSL_CAFILE=${KAFKA_SSL_CAFILE:-$KAFKA_CREDENTIALS/ca.pem}"
  echo "KAFKA_USERNAME=$principal"
  echo "KAFKA_PASSWORD=$(credential "$credentials" sasl.password)"
  echo "DATABASE_URL=$DATABASE_URL"
  echo "TOPIC_PREFIX=${TOPIC_PREFIX:-}"
  if [[ -n ${DATABASE_PREFIX:-} ]]; then echo "DATABASE_PREFIX=$DATABASE_PREFIX"; fi
  if [[ -n ${ALLIANCE_REGISTRY_URL:-} ]]; then
    echo "ALLIANCE_REGISTRY_URL=$ALLIANCE_REGISTRY_URL"
    echo "ALLIANCE_PUBLIC_KEY_FILE=${ALLIANCE_PUBLIC_KEY_FILE:-}"
    echo "ALLIANCE_REGISTRY_POLL_SECONDS=${ALLIANCE_REGISTRY_POLL_SECONDS:-60}"
  fi
  echo "AUTH_PUBLIC_KEY_FILE=$KEYS/auth-public.pem"
  # The identity provider whose tokens the services take besides the node's own (its keys from its discovery document).
  echo "AUTH_OIDC_ISSUERS=$ISSUER"
  echo "HTTP_HOST=127.0.0.1"
  echo "HTTP_PORT=$port"
  case $name in
    assessment)
      echo "LMS_REGISTRY_FILE=$LMS_REGISTRY"
      ;;
    certification)
      echo "PUBLIC_URL=${MC_PUBLIC_URL:-http://127.0.0.1:$port}"
      echo "ISSUER_KEYS_DIR=$ISSUER_KEYS"
      # Certificates' QR codes and the emails send people to the front end's verify page.
      echo "VERIFY_PAGE_URL=$WEB_URL/verify"
      ;;
    alliance)
      # The node's principal on the alliance's cluster, as the secretariat handed it over.
      echo "ALLIANCE_NODE_ID=${ALLIANCE_NODE_ID:-}"
      echo "ALLIANCE_TOPIC_PREFIX=${ALLIANCE_TOPIC_PREFIX:-}"
      echo "ALLIANCE_KAFKA_USERNAME=$(credential "${ALLIANCE_KAFKA_CREDENTIALS:-}" sasl.username)"
      echo "ALLIANCE_KAFKA_PASSWORD=$(credential "${ALLIANCE_KAFKA_CREDENTIALS:-}" sasl.password)"
      ;;
    notifications)
      echo "SMTP_HOST=$SMTP_HOST"
      echo "SMTP_PORT=$SMTP_PORT"
      echo "MAIL_FROM=${MAIL_FROM:-Micro-credentials <no-reply@microcredentials.local>}"
      echo "UNSUBSCRIBE_BASE_URL=http://127.0.0.1:$port"
      ;;
  esac
}

ready() { curl -sf -o /dev/null "http://127.0.0.1:${PORTS[$1]}/health/ready"; }

start_service() {
  local name=$1 pidfile=$PIDS/$1.pid marker="services.$1"
  if pid_alive "$pidfile" "$marker"; then
    log "$name already running, pid $(cat "$pidfile")"
    return
  fi
  port_open "${PORTS[$name]}" && die "port ${PORTS[$name]} for $name is taken by another program"
  local -a env_args
  mapfile -t env_args < <(service_env "$name")
  (cd "$ROOT" && launch "$pidfile" "$LOGS/$name.log" env "${env_args[@]}" "$ROOT/.venv/bin/python" -m "$marker" serve)
}

cmd_start() {
  # Keycloak boots slowest: it starts beside the infrastructure and the services, and is waited for before the front end.
  local keycloak_pid=""
  if [[ $OWN_KEYCLOAK == yes ]]; then
    mkdir -p "$LOGS"
    bash "$ROOT/deploy/keycloak.sh" start >"$LOGS/keycloak-start.log" 2>&1 &
    keycloak_pid=$!
  fi
  bash "$ROOT/deploy/infra.sh" start
  # shellcheck source=/dev/null
  source "$STATE/env"
  mkdir -p "$PIDS" "$LOGS"
  if [[ ! -f $KEYS/auth-private.pem ]]; then
    "$ROOT/.venv/bin/python" -m shared.auth keys --dir "$KEYS" >/dev/null
    log "created the node's token keys in $KEYS"
  fi
  for institution in "${ISSUING_INSTITUTIONS[@]}"; do
    local profile=${INSTITUTION_PROFILES[$institution]:-}
    local -a named=()
    [[ -n $profile ]] && named=(--name "${profile%|*}" --country "${profile#*|}")
    # A key made before profiles existed gets its profile (the key is kept).
    if [[ ! -f $ISSUER_KEYS/$institution.pem || (-n $profile && ! -f $ISSUER_KEYS/$institution.json) ]]; then
      (cd "$ROOT" && .venv/bin/python -m services.certification keys --institution "$institution" --dir "$ISSUER_KEYS" \
        "${named[@]}" >/dev/null)
      log "$institution's credential-signing key and profile are in $ISSUER_KEYS"
    fi
  done
  # The node's topics, and each service's principal with the rights its code needs (again on each start: the rights
  # follow the code). Then the demo's LMS, once.
  (cd "$ROOT" && .venv/bin/python -m deploy.kafka_security init --dir "$KAFKA_CREDENTIALS" >/dev/null) ||
    die "could not create the node's Kafka topics and principals"
  log "Kafka topics and each service's principal and rights are in place (credentials in $KAFKA_CREDENTIALS)"
  if [[ -n $DEMO_LMS ]] && ! lms_registered "$DEMO_LMS"; then
    (cd "$ROOT" && .venv/bin/python -m deploy.kafka_security lms add "$DEMO_LMS" --institution uni-saarland \
      --name "Moodle of Saarland University" --dir "$KAFKA_CREDENTIALS" --registry "$LMS_REGISTRY" >/dev/null) ||
      die "could not register the demo's LMS $DEMO_LMS"
    log "registered LMS $DEMO_LMS for uni-saarland; its Kafka credentials: $KAFKA_CREDENTIALS/${TOPIC_PREFIX:-}lms-$DEMO_LMS.properties"
  fi
  for name in "${SERVICES[@]}"; do [[ $name == web ]] || start_service "$name"; done
  if [[ -n $keycloak_pid ]]; then
    wait "$keycloak_pid" || fail_with_log "Keycloak did not start" "$LOGS/keycloak-start.log" "$LOGS/keycloak.log"
    log "$(tail -n 1 "$LOGS/keycloak-start.log" | sed 's/^\[keycloak\] //')"
  fi
  start_service web
  for name in "${SERVICES[@]}"; do
    wait_until "$name" "$LOGS/$name.log" "$PIDS/$name.pid" "services.$name" ready "$name"
    if [[ $name == web ]]; then log "web front end ready: $WEB_URL"; else log "$name ready: http://127.0.0.1:${PORTS[$name]}/docs"; fi
  done
}

cmd_stop() {
  for name in "${SERVICES[@]}"; do stop_pid "$name" "$PIDS/$name.pid" "services.$name" || true; done
  # A node of deploy/alliance.sh leaves the shared infrastructure (and the demo's Keycloak) to it.
  [[ -n ${MC_KEEP_INFRA:-} ]] && return
  [[ $OWN_KEYCLOAK == no ]] || bash "$ROOT/deploy/keycloak.sh" stop
  bash "$ROOT/deploy/infra.sh" stop
}

cmd_status() {
  local rc=0
  bash "$ROOT/deploy/infra.sh" status || rc=$?
  if [[ $OWN_KEYCLOAK == yes ]]; then bash "$ROOT/deploy/keycloak.sh" status || rc=$?; else log "identity provider: $ISSUER"; fi
  for name in "${SERVICES[@]}"; do
    if pid_alive "$PIDS/$name.pid" "services.$name"; then
      log "$(printf '%-13s' "$name") running, pid $(cat "$PIDS/$name.pid"), http://127.0.0.1:${PORTS[$name]}"
    else
      log "$(printf '%-13s' "$name") stopped"; rc=3
    fi
  done
  return "$rc"
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env)
    [[ -n ${PORTS[${2:-}]:-} ]] || die "usage: $0 env SERVICE (one of ${SERVICES[*]})"
    # shellcheck source=/dev/null
    [[ -f $STATE/env ]] && source "$STATE/env"
    : "${KAFKA_BOOTSTRAP_SERVERS:=127.0.0.1:9092}" "${DATABASE_URL:=postgresql+asyncpg://mc:mc@127.0.0.1:5433/postgres}"
    : "${SMTP_HOST:=127.0.0.1}" "${SMTP_PORT:=1025}"
    service_env "$2"
    ;;
  *) echo "usage: $0 start|stop|status|env SERVICE" >&2; exit 2 ;;
esac
