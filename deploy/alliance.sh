#!/usr/bin/env bash
# An alliance of three universities in three countries, each on a node of its own, on this machine: Saarland
# University (DE), the University of Silesia in Katowice (PL) and the University of Primorska (SI).
#
#   deploy/alliance.sh [start]   start the alliance, run its journey, print where each node's pages are
#   deploy/alliance.sh journey   run the journey again (a course approved at Saarland in Silesia's and Primorska's
#                                catalogues, with an offering open for registration)
#   deploy/alliance.sh stop      stop the three nodes and the infrastructure (the nodes only, with MC_KEEP_INFRA=1)
#
# One Kafka cluster (SASL_SSL, ACLs), one PostgreSQL server and one SMTP server (deploy/infra.sh) carry the three
# nodes and the alliance's bus, kept apart as separate clusters would keep them: by principals and topic prefixes
# (`<node>.` for each node's topics, `t4eu.` for the bus), a database per service and node (`mc_<node>_<service>`).
# The secretariat's part is done with its own commands: the alliance's key and its signed registry
# (python -m shared.alliance), the bus's topics and each node's principal on it (python -m deploy.kafka_security
# alliance). Everything is kept under $MC_ALLIANCE_DIR (by default <state>/alliance); a second `start` reuses it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${MC_STATE_DIR:-$ROOT/.run}
HERE=${MC_ALLIANCE_DIR:-$STATE/alliance}
SECRETARIAT=$HERE/secretariat
REGISTRY=$SECRETARIAT/alliance-registry.json
BUS_PREFIX=t4eu.
NODES=(saarland silesia primorska)
declare -A INSTITUTION=([saarland]=uni-saarland [silesia]=uni-silesia [primorska]=upr)
declare -A LEGAL_NAME=([saarland]="Universität des Saarlandes" [silesia]="Uniwersytet Śląski w Katowicach"
  [primorska]="Univerza na Primorskem")
declare -A COUNTRY=([saarland]=DE [silesia]=PL [primorska]=SI)
declare -A PORT_BASE=([saarland]=8100 [silesia]=8200 [primorska]=8300)
LOG_TAG=alliance
# shellcheck source=deploy/lib.sh
source "$ROOT/deploy/lib.sh"

py() { (cd "$ROOT" && .venv/bin/python "$@"); }
catalogue_url() { echo "http://127.0.0.1:$((PORT_BASE[$1] + 1))"; }

# The secretariat: the alliance's key, the registry of the three members and their nodes, signed.
make_registry() {
  if [[ -f $REGISTRY.jws ]]; then
    log "the alliance's signed registry is there already: $REGISTRY"
    return
  fi
  mkdir -p "$SECRETARIAT"
  py -m shared.alliance keys --dir "$SECRETARIAT" >/dev/null
  py -m shared.alliance init --registry "$REGISTRY" --id t4eu --name Transform4Europe >/dev/null
  local node url
  for node in "${NODES[@]}"; do
    # The node's base URL is its catalogue's: the alliance's links to an offering's page point there. (A real node
    # serves every service under one host, behind its proxy; here the DIDs name that host too, not the certification
    # service's port, so credentials are not verified across these nodes.)
    url=$(catalogue_url "$node")
    py -m shared.alliance add-member --registry "$REGISTRY" --institution "${INSTITUTION[$node]}" \
      --legal-name "${LEGAL_NAME[$node]}" --country "${COUNTRY[$node]}" --node "$node" --node-url "$url" \
      --kafka-principal "User:$BUS_PREFIX$node" \
      --did "did:web:127.0.0.1%3A$((PORT_BASE[$node] + 1)):institutions:${INSTITUTION[$node]}" >/dev/null
  done
  py -m shared.alliance sign --registry "$REGISTRY" --key "$SECRETARIAT/alliance-private.pem" >/dev/null
  log "the alliance's registry, signed: $REGISTRY (+ .jws); its public key: $SECRETARIAT/alliance-public.pem"
}

# node_env NODE: the settings deploy/node.sh starts the node with.
node_env() {
  local node=$1
  echo "MC_NODE_DIR=$HERE/$node"
  echo "MC_NODE_KEYS_DIR=$HERE/$node/keys"
  echo "MC_PORT_BASE=${PORT_BASE[$node]}"
  echo "MC_INSTITUTIONS=${INSTITUTION[$node]}"
  echo "MC_DEMO_LMS="
  echo "MC_KEEP_INFRA=1"
  echo "TOPIC_PREFIX=$node."
  echo "DATABASE_PREFIX=mc_$node"
  echo "NODE_URI=urn:microcredentials:node:$node"
  echo "ALLIANCE_NODE_ID=$node"
  echo "ALLIANCE_TOPIC_PREFIX=$BUS_PREFIX"
  echo "ALLIANCE_KAFKA_CREDENTIALS=$SECRETARIAT/kafka/$BUS_PREFIX$node.properties"
  echo "ALLIANCE_REGISTRY_URL=$REGISTRY"
  echo "ALLIANCE_PUBLIC_KEY_FILE=$SECRETARIAT/alliance-public.pem"
  echo "ALLIANCE_REGISTRY_POLL_SECONDS=10"
}

node_sh() {
  local node=$1 && shift
  local -a settings
  mapfile -t settings < <(node_env "$node")
  env "${settings[@]}" bash "$ROOT/deploy/node.sh" "$@"
}

journey() {
  # shellcheck source=/dev/null
  source "$STATE/env"
  local -a nodes=()
  for node in "${NODES[@]}"; do nodes+=("$node=${PORT_BASE[$node]}=$HERE/$node/keys/auth-private.pem"); done
  py -m deploy.alliance_journey "${nodes[@]}"
}

cmd_start() {
  bash "$ROOT/deploy/infra.sh" start >/dev/null
  # shellcheck source=/dev/null
  source "$STATE/env"
  make_registry
  (export TOPIC_PREFIX=$BUS_PREFIX && py -m deploy.kafka_security alliance --registry "$REGISTRY" \
    --public-key "$SECRETARIAT/alliance-public.pem" --dir "$SECRETARIAT/kafka" >/dev/null) ||
    die "could not make the alliance's bus"
  log "the alliance's bus: topics $BUS_PREFIX*, each node's principal and rights (credentials in $SECRETARIAT/kafka)"
  for node in "${NODES[@]}"; do
    log "starting node $node (${INSTITUTION[$node]}, ${COUNTRY[$node]}), front end on ${PORT_BASE[$node]}, services on ports $((PORT_BASE[$node] + 1))-$((PORT_BASE[$node] + 6))"
    node_sh "$node" start >/dev/null
  done
  journey
}

cmd_stop() {
  for node in "${NODES[@]}"; do
    if [[ -d $HERE/$node ]]; then node_sh "$node" stop; fi
  done
  [[ -n ${MC_KEEP_INFRA:-} ]] && return
  bash "$ROOT/deploy/keycloak.sh" stop || true
  bash "$ROOT/deploy/infra.sh" stop
}

case ${1:-start} in
  start) cmd_start ;;
  journey) journey ;;
  stop) cmd_stop ;;
  *) echo "usage: $0 start|journey|stop" >&2; exit 2 ;;
esac
