#!/usr/bin/env bash
# `make up` / `make up-offline` / `make down`: run `tickwatch up` (every stage) in the
# background against the local stack, print where the dashboard is; `--stop` stops it.
# The stack itself is started and stopped by scripts/stack.sh (the Makefile calls both).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PID_FILE="$TW_STACK_DIR/up.pid"
LOG_DIR="$TW_STACK_DIR/logs"
LOG="$LOG_DIR/up.log"

running() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

if [ "${1:-}" = "--stop" ]; then
    if running; then
        pid="$(cat "$PID_FILE")"
        log "stopping every stage (tickwatch up, pid $pid)"
        kill -TERM "$pid"
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$PID_FILE"
    exit 0
fi

if running; then
    log "already running (pid $(cat "$PID_FILE")); dashboard: $(grep -m1 -o 'http://[^ ]*' "$LOG" || echo '?')"
    exit 0
fi
[ -f "$TW_STACK_DIR/env" ] || die "the local stack is not up: run make stack-up first"
set -a
# shellcheck disable=SC1091
source "$TW_STACK_DIR/env"
set +a
mkdir -p "$LOG_DIR"
: >"$LOG"
nohup "$REPO_ROOT/target/debug/tickwatch" --config "$TW_STACK_DIR/tickwatch.yaml" up --log-dir "$LOG_DIR" "$@" >>"$LOG" 2>&1 &
echo $! >"$PID_FILE"
for _ in $(seq 1 240); do
    if line="$(grep -m1 '^dashboard: ' "$LOG")"; then
        log "every stage is running; logs in $LOG_DIR; make down stops it all"
        echo "$line"
        exit 0
    fi
    running || { tail -n 20 "$LOG" >&2; die "tickwatch up stopped; see $LOG"; }
    sleep 0.5
done
die "tickwatch up did not report the dashboard within 2 minutes; see $LOG"
