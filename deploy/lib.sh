#!/usr/bin/env bash
# Process helpers shared by infra.sh and node.sh: start detached, probe readiness, stop cleanly.
# Callers set LOG_TAG and WAIT_SECS before sourcing.
log() { printf '[%s] %s\n' "$LOG_TAG" "$*"; }
die() { printf '[%s] ERROR: %s\n' "$LOG_TAG" "$*" >&2; exit 1; }

# pid_alive PIDFILE MARKER: the pid is alive and its command line contains
# MARKER (a stale pid file whose number was reused does not count).
pid_alive() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ -n $pid ]] && grep -qa -- "$2" "/proc/$pid/cmdline" 2>/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# fail_with_log MSG FILE...: report MSG with the end of each log, then exit.
fail_with_log() {
  printf '[%s] ERROR: %s\n' "$LOG_TAG" "$1" >&2
  shift
  for f in "$@"; do
    [[ -s $f ]] || continue
    printf -- '--- last lines of %s ---\n' "$f" >&2
    tail -n 30 "$f" >&2
  done
  exit 1
}

# wait_until NAME LOGS PIDFILE MARKER CHECK...: poll CHECK until it succeeds,
# for at most WAIT_SECS. LOGS (comma-separated) are shown on failure. With a
# PIDFILE, fail at once if the process dies instead of waiting out the clock.
wait_until() {
  local name=$1 pidfile=$3 marker=$4 deadline=$((SECONDS + WAIT_SECS)) logs
  IFS=, read -ra logs <<<"$2"
  shift 4
  until "$@"; do
    if [[ -n $pidfile ]] && ! pid_alive "$pidfile" "$marker"; then
      fail_with_log "$name exited while starting" "${logs[@]}"
    fi
    ((SECONDS < deadline)) || fail_with_log "$name not ready after ${WAIT_SECS}s" "${logs[@]}"
    sleep 0.3
  done
}

# launch PIDFILE LOG CMD...: run CMD detached (own session, immune to
# hangups) so it outlives the caller. The child writes its own pid and then
# execs, so the pid file holds the server's real pid.
launch() {
  local pidfile=$1 logf=$2 deadline=$((SECONDS + 5))
  shift 2
  rm -f "$pidfile"
  # shellcheck disable=SC2016  # $$ and $@ belong to the child shell
  nohup setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$logf" 2>&1 &
  until [[ -s $pidfile ]]; do
    ((SECONDS < deadline)) || fail_with_log "could not launch $1" "$logf"
    sleep 0.1
  done
}

# stop_pid NAME PIDFILE MARKER: SIGTERM, wait, then SIGKILL as a last resort.
# Returns 1 if it was not running.
stop_pid() {
  local name=$1 pidfile=$2 marker=$3 pid deadline=$((SECONDS + 30))
  if ! pid_alive "$pidfile" "$marker"; then
    rm -f "$pidfile"
    return 1
  fi
  pid=$(cat "$pidfile")
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.3; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop within 30s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  log "$name stopped"
}
