#!/usr/bin/env bash
# An alliance of three universities in three countries, each on a node of its own, on this machine: Saarland
# University (DE), the University of Silesia in Katowice (PL) and the University of Primorska (SI).
#
#   deploy/alliance.sh [start]   start the alliance, run its journey, print where each node's pages are
#   deploy/alliance.sh journey   run the journey again (a course approved at Saarland in Silesia's and Primorska's
#                                catalogues, with an offering open for registration)
#   deploy/alliance.sh add-node NODE INSTITUTION LEGAL-NAME COUNTRY PORT-BASE
#                                a university joins: the secretariat adds it to the registry and signs it, gives it
#                                a principal on the bus; then its node starts, empty, and learns the alliance's
#                                catalogue from the bus
#   deploy/alliance.sh stop      stop the nodes and the infrastructure (the nodes only, with MC_KEEP_INFRA=1)
#   deploy/alliance.sh env NODE SERVICE   the environment the node's service is started with
#                                (docker-compose.alliance.yml mirrors it for two nodes)
#
# One Kafka cluster (SASL_SSL, ACLs), one PostgreSQL server and one SMTP server (deploy/infra.sh) carry the nodes and
# the alliance's bus, kept apart as separate clusters would keep them: by principals and topic prefixes (`<node>.` for
# each node's topics, `t4eu.` for the bus), a database per service and node (`mc_<node>_<service>`).
# Each node has one public origin, its front end's (http://127.0.0.1:<port base>): its DIDs
# (did:web:127.0.0.1%3A<base>:institutions:<code>), status lists, credentials and offering pages are there (the front
# end passes the documents on to certification, as a university's reverse proxy would), and the registry lists that
# origin as the node's base_url. Each node's users' tokens are signed with the node's own key, pinned in the registry
# as its institution's token issuer; Saarland's node has an LMS (moodle-saarland, grading with kcat). Other nodes
# believe a member's status list for STATUS_LIST_CACHE_SECONDS (10 s here by default, so revocations show soon).
# The secretariat's part is done with its own commands: the alliance's key and its signed registry
# (python -m shared.alliance), the bus's topics and each node's principal on it (python -m deploy.kafka_security
# alliance). Everything is kept under $MC_ALLIANCE_DIR (by default <state>/alliance); a second `start` reuses it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${MC_STATE_DIR:-$ROOT/.run}
HERE=${MC_ALLIANCE_DIR:-$STATE/alliance}
SECRETARIAT=$HERE/secretariat
REGISTRY=$SECRETARIAT/alliance-registry.json
# MC_ALLIANCE_PREFIX (letters and digits) sets an alliance apart from earlier ones on the same Kafka and PostgreSQL:
# its bus's topics and principals, its nodes' topics, principals and databases are named with it (the tests use one per
# run; without it a new $MC_ALLIANCE_DIR would meet the databases of the last alliance, signed with keys it lacks).
RUN=${MC_ALLIANCE_PREFIX:-}
[[ $RUN =~ ^[a-z0-9]*$ ]] || { echo "MC_ALLIANCE_PREFIX: lower-case letters and digits only" >&2; exit 2; }
BUS_PREFIX=${RUN:+$RUN.}t4eu.
NODES=(saarland silesia primorska)
declare -A INSTITUTION=([saarland]=uni-saarland [silesia]=uni-silesia [primorska]=upr)
declare -A LEGAL_NAME=([saarland]="Universität des Saarlandes" [silesia]="Uniwersytet Śląski w Katowicach"
  [primorska]="Univerza na Primorskem")
declare -A COUNTRY=([saarland]=DE [silesia]=PL [primorska]=SI)
declare -A PORT_BASE=([saarland]=8100 [silesia]=8200 [primorska]=8300)
STATUS_LIST_CACHE=${STATUS_LIST_CACHE_SECONDS:-10}
# Nodes that joined later (add-node), one line each: NODE|INSTITUTION|LEGAL-NAME|COUNTRY|PORT-BASE.
JOINED=$HERE/joined-nodes
LOG_TAG=alliance
# shellcheck source=deploy/lib.sh
source "$ROOT/deploy/lib.sh"

if [[ -f $JOINED ]]; then
  while IFS='|' read -r node institution legal_name country base; do
    NODES+=("$node")
    INSTITUTION[$node]=$institution LEGAL_NAME[$node]=$legal_name COUNTRY[$node]=$country PORT_BASE[$node]=$base
  done <"$JOINED"
fi

py() { (cd "$ROOT" && .venv/bin/python "$@"); }
# The node's one public origin: its front end's.
origin() { echo "http://127.0.0.1:${PORT_BASE[$1]}"; }
# The `iss` of the tokens the node's key signs for its users (deploy/alliance_journey.py makes them so).
token_issuer() { echo "urn:microcredentials:node:$1:accounts"; }

# add_member NODE: the secretariat's entry for the node's institution: its node and public origin, the DID its
# credentials are signed with, its users' token issuer and key, its principal on the bus.
add_member() {
  local node=$1 keys=$HERE/$1/keys
  # The node's token keys are made here, so that the registry can pin their public half (node.sh finds them).
  [[ -f $keys/auth-private.pem ]] || py -m shared.auth keys --dir "$keys" >/dev/null
  py -m shared.alliance add-member --registry "$REGISTRY" --institution "${INSTITUTION[$node]}" \
    --legal-name "${LEGAL_NAME[$node]}" --country "${COUNTRY[$node]}" --node "$node" --node-url "$(origin "$node")" \
    --kafka-principal "User:$BUS_PREFIX$node" --token-issuer "$(token_issuer "$node")" \
    --token-key "$keys/auth-public.pem" \
    --did "did:web:127.0.0.1%3A${PORT_BASE[$node]}:institutions:${INSTITUTION[$node]}" >/dev/null
}

sign_registry() {
  py -m shared.alliance sign --registry "$REGISTRY" --key "$SECRETARIAT/alliance-private.pem" >/dev/null
}

# The secretariat: the alliance's key, the registry of the three members and their nodes, signed.
make_registry() {
  if [[ -f $REGISTRY.jws ]]; then
    log "the alliance's signed registry is there already: $REGISTRY"
    return
  fi
  mkdir -p "$SECRETARIAT"
  py -m shared.alliance keys --dir "$SECRETARIAT" >/dev/null
  py -m shared.alliance init --registry "$REGISTRY" --id t4eu --name Transform4Europe >/dev/null
  local node
  for node in "${NODES[@]}"; do add_member "$node"; done
  sign_registry
  log "the alliance's registry, signed: $REGISTRY (+ .jws); its public key: $SECRETARIAT/alliance-public.pem"
}

# The bus as the registry says: its topics, each node's principal and rights (credentials in $SECRETARIAT/kafka).
make_bus() {
  (export TOPIC_PREFIX=$BUS_PREFIX && py -m deploy.kafka_security alliance --registry "$REGISTRY" \
    --public-key "$SECRETARIAT/alliance-public.pem" --dir "$SECRETARIAT/kafka" >/dev/null) ||
    die "could not make the alliance's bus"
}

# node_env NODE: the settings deploy/node.sh starts the node with.
node_env() {
  local node=$1
  echo "MC_NODE_DIR=$HERE/$node"
  echo "MC_NODE_KEYS_DIR=$HERE/$node/keys"
  echo "MC_PORT_BASE=${PORT_BASE[$node]}"
  echo "MC_PUBLIC_URL=$(origin "$node")"
  echo "MC_INSTITUTIONS=${INSTITUTION[$node]}"
  # Saarland's Moodle grades Saarland's courses; the other nodes have no LMS in the demo.
  echo "MC_DEMO_LMS=$([[ ${INSTITUTION[$node]} == uni-saarland ]] && echo moodle-saarland || true)"
  echo "MC_KEEP_INFRA=1"
  echo "TOPIC_PREFIX=${RUN:+$RUN.}$node."
  echo "DATABASE_PREFIX=mc_${RUN:+${RUN}_}$node"
  echo "NODE_URI=urn:microcredentials:node:$node"
  echo "STATUS_LIST_CACHE_SECONDS=$STATUS_LIST_CACHE"
  echo "ALLIANCE_NODE_ID=$node"
  echo "ALLIANCE_TOPIC_PREFIX=$BUS_PREFIX"
  echo "ALLIANCE_KAFKA_CREDENTIALS=$SECRETARIAT/kafka/$BUS_PREFIX$node.properties"
  echo "ALLIANCE_REGISTRY_URL=$REGISTRY"
  echo "ALLIANCE_PUBLIC_KEY_FILE=$SECRETARIAT/alliance-public.pem"
  echo "ALLIANCE_REGISTRY_POLL_SECONDS=${ALLIANCE_REGISTRY_POLL_SECONDS:-10}"
}

node_sh() {
  local node=$1 && shift
  local -a settings
  mapfile -t settings < <(node_env "$node")
  env "${settings[@]}" bash "$ROOT/deploy/node.sh" "$@"
}

start_node() {
  local node=$1
  log "starting node $node (${INSTITUTION[$node]}, ${COUNTRY[$node]}), front end on ${PORT_BASE[$node]}, services on ports $((PORT_BASE[$node] + 1))-$((PORT_BASE[$node] + 6))"
  node_sh "$node" start >/dev/null
}

journey() {
  # shellcheck source=/dev/null
  source "$STATE/env"
  local -a nodes=()
  local node
  for node in saarland silesia primorska; do
    nodes+=("$node=${PORT_BASE[$node]}=$HERE/$node/keys/auth-private.pem=$(token_issuer "$node")")
  done
  py -m deploy.alliance_journey "${nodes[@]}"
}

cmd_start() {
  bash "$ROOT/deploy/infra.sh" start >/dev/null
  # shellcheck source=/dev/null
  source "$STATE/env"
  make_registry
  make_bus
  log "the alliance's bus: topics $BUS_PREFIX*, each node's principal and rights (credentials in $SECRETARIAT/kafka)"
  local node
  for node in "${NODES[@]}"; do start_node "$node"; done
  journey
}

# A university joins. The secretariat adds it to the registry and signs it (every node takes the new registry within
# its ALLIANCE_REGISTRY_POLL_SECONDS) and gives it its principal on the bus; then its node starts, empty.
cmd_add_node() {
  (($# == 5)) || die "usage: $0 add-node NODE INSTITUTION LEGAL-NAME COUNTRY PORT-BASE"
  local node=$1
  [[ $node =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "a node's id is lower-case letters, digits and dashes, not '$node'"
  [[ -f $REGISTRY.jws ]] || die "there is no alliance here yet ($REGISTRY): run $0 start first"
  # shellcheck source=/dev/null
  source "$STATE/env"
  if [[ -z ${PORT_BASE[$node]:-} ]]; then
    NODES+=("$node")
    INSTITUTION[$node]=$2 LEGAL_NAME[$node]=$3 COUNTRY[$node]=$4 PORT_BASE[$node]=$5
    add_member "$node"
    sign_registry
    printf '%s|%s|%s|%s|%s\n' "$@" >>"$JOINED"
    log "the secretariat added $2 ($3, $4) on node $node to the registry and signed it: $REGISTRY"
  fi
  make_bus
  log "node $node's principal on the bus: $SECRETARIAT/kafka/$BUS_PREFIX$node.properties"
  start_node "$node"
  log "$node's pages: catalogue $(origin "$node")/catalogue, verify $(origin "$node")/verify"
}

cmd_stop() {
  local node
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
  add-node) shift && cmd_add_node "$@" ;;
  stop) cmd_stop ;;
  env)
    [[ -n ${2:-} && -n ${3:-} && -n ${PORT_BASE[${2:-x}]:-} ]] || die "usage: $0 env NODE SERVICE (NODE one of ${NODES[*]})"
    node_sh "$2" env "$3"
    ;;
  *) echo "usage: $0 start|journey|add-node|env|stop" >&2; exit 2 ;;
esac
