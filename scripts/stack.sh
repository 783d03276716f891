#!/usr/bin/env bash
# The local stack of real servers: Tansu (Kafka API), noida-db (second Kafka API, for
# offsets-by-time and read_committed), tickwatch's Schema Registry, ClickHouse (chDB engine),
# s3s-fs (S3), Redis, Prometheus. All on 127.0.0.1, data under $TW_STACK_DIR (default .stack/).
#
#   scripts/stack.sh up       install what is missing, start what is not running, wait until healthy
#   scripts/stack.sh down     stop everything (data is kept; rm -rf .stack to wipe)
#   scripts/stack.sh status   one line per server
#
# `up` writes $TW_STACK_DIR/tickwatch.yaml (settings with the ports in use) and
# $TW_STACK_DIR/env (the same as shell variables). Ports: TW_*_PORT in scripts/lib.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUN="$TW_STACK_DIR/run"
LOGS="$TW_STACK_DIR/logs"
TICKWATCH="${TICKWATCH_BIN:-$REPO_ROOT/target/debug/tickwatch}"
SERVICES=(s3 broker noida clickhouse registry redis prometheus)

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid_alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

service_port() {
    case "$1" in
        s3) echo "$TW_S3_PORT" ;; broker) echo "$TW_BROKER_PORT" ;; noida) echo "$TW_NOIDA_PORT" ;;
        clickhouse) echo "$TW_CLICKHOUSE_PORT" ;; registry) echo "$TW_REGISTRY_PORT" ;;
        redis) echo "$TW_REDIS_PORT" ;; prometheus) echo "$TW_PROMETHEUS_PORT" ;;
    esac
}

healthy() {
    local port; port="$(service_port "$1")"
    case "$1" in
        clickhouse) curl -fsS "http://127.0.0.1:$port/ping" >/dev/null 2>&1 ;;
        registry) curl -fsS "http://127.0.0.1:$port/subjects" >/dev/null 2>&1 ;;
        prometheus) curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 ;;
        redis) redis-cli -p "$port" ping 2>/dev/null | grep -q PONG ;;
        *) port_open "$port" ;;
    esac
}

wait_healthy() {
    local name="$1" tries="${2:-120}" i
    for ((i = 0; i < tries; i++)); do
        healthy "$name" && return 0
        if [ -f "$RUN/$name.pid" ] && ! pid_alive "$name"; then
            tail -n 20 "$LOGS/$name.log" >&2 || true
            die "$name exited during start-up (log: $LOGS/$name.log)"
        fi
        sleep 0.25
    done
    tail -n 20 "$LOGS/$name.log" >&2 || true
    die "$name did not become healthy on port $(service_port "$name") (log: $LOGS/$name.log)"
}

# start NAME CMD...: run CMD detached (own session, survives this shell), pid in run/NAME.pid.
# The wait for health is bounded (30 s); the registry gets 15 minutes, since it first reads
# its whole _schemas log back (about 35 ms per stored registration on Tansu over S3).
start() {
    local name="$1"; shift
    local tries=120
    [ "$name" = registry ] && tries=3600
    if pid_alive "$name" && healthy "$name"; then
        return 0
    fi
    if port_open "$(service_port "$name")" && ! pid_alive "$name"; then
        die "port $(service_port "$name") for $name is taken by another process; set TW_$(echo "$name" | tr a-z A-Z)_PORT to a free port"
    fi
    log "starting $name on 127.0.0.1:$(service_port "$name")"
    setsid nohup "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
    echo $! >"$RUN/$name.pid"
    wait_healthy "$name" "$tries"
}

write_settings() {
    sed -e "s|127.0.0.1:19092|127.0.0.1:$TW_BROKER_PORT|" \
        -e "s|127.0.0.1:18081|127.0.0.1:$TW_REGISTRY_PORT|g" \
        -e "s|127.0.0.1:18123|127.0.0.1:$TW_CLICKHOUSE_PORT|" \
        -e "s|127.0.0.1:19000|127.0.0.1:$TW_S3_PORT|" \
        -e "s|127.0.0.1:16379|127.0.0.1:$TW_REDIS_PORT|" \
        -e "s|^  topics: config/|  topics: $REPO_ROOT/config/|" \
        -e "s|^  exchanges: config/|  exchanges: $REPO_ROOT/config/|" \
        -e "s|^  symbols: config/|  symbols: $REPO_ROOT/config/|" \
        -e "s|^  clickhouse_ddl: schemas/|  clickhouse_ddl: $REPO_ROOT/schemas/|" \
        -e "s|^  windows: config/|  windows: $REPO_ROOT/config/|" \
        -e "s|^  sinks: config/|  sinks: $REPO_ROOT/config/|" \
        -e "s|^  analytics: config/|  analytics: $REPO_ROOT/config/|" \
        -e "s|^  api: config/|  api: $REPO_ROOT/config/|" \
        -e "s|^  alerts: config/|  alerts: $REPO_ROOT/config/|" \
        "$REPO_ROOT/config/tickwatch.yaml" >"$TW_STACK_DIR/tickwatch.yaml"
    cat >"$TW_STACK_DIR/env" <<ENV
TW_STACK_DIR=$TW_STACK_DIR
TW_CACHE_DIR=$TW_CACHE_DIR
TICKWATCH_CONFIG=$TW_STACK_DIR/tickwatch.yaml
TW_BROKER_BOOTSTRAP=127.0.0.1:$TW_BROKER_PORT
TW_NOIDA_BOOTSTRAP=127.0.0.1:$TW_NOIDA_PORT
TW_REGISTRY_URL=http://127.0.0.1:$TW_REGISTRY_PORT
TW_CLICKHOUSE_URL=http://127.0.0.1:$TW_CLICKHOUSE_PORT
TW_S3_ENDPOINT=http://127.0.0.1:$TW_S3_PORT
TW_REDIS_URL=redis://127.0.0.1:$TW_REDIS_PORT/0
TW_PROMETHEUS_URL=http://127.0.0.1:$TW_PROMETHEUS_PORT
TICKWATCH_S3_ACCESS_KEY=$TW_S3_ACCESS_KEY
TICKWATCH_S3_SECRET_KEY=$TW_S3_SECRET_KEY
TW_PYTHON=$VENV/bin/python
TW_TANSU_BIN=$TANSU_BIN
TW_S3_PORT=$TW_S3_PORT
TW_CHDB_LIB=$CHDB_LIB
TW_S3S_BIN=$S3S_BIN
TW_ROTEL_BIN=$ROTEL_BIN
ENV
}

write_prometheus_config() {
    cat >"$TW_STACK_DIR/prometheus.yml" <<PROM
# Written by scripts/stack.sh. Scrapes Prometheus itself and every tickwatch stage's /metrics.
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs: [{targets: ['127.0.0.1:$TW_PROMETHEUS_PORT']}]
  - job_name: tickwatch
    file_sd_configs: [{files: ['$TW_STACK_DIR/prometheus-targets/*.json'], refresh_interval: 1s}]
PROM
    mkdir -p "$TW_STACK_DIR/prometheus-targets"
}

broker_storage() {
    case "${TW_BROKER_STORAGE:-memory}" in
        s3) echo "s3://tansu/" ;;
        memory) echo "memory://tansu/" ;;
        *) echo "TW_BROKER_STORAGE must be memory or s3, not ${TW_BROKER_STORAGE}" >&2; exit 2 ;;
    esac
}

up() {
    "$REPO_ROOT/scripts/setup.sh"
    mkdir -p "$RUN" "$LOGS" "$TW_STACK_DIR/s3/tansu" "$TW_STACK_DIR/s3/tickwatch" "$TW_STACK_DIR/redis" "$TW_STACK_DIR/prometheus" "$TW_STACK_DIR/noida"
    if [ -z "${TICKWATCH_BIN:-}" ]; then
        (cd "$REPO_ROOT" && cargo build --quiet -p tickwatch)
    fi
    write_settings
    write_prometheus_config

    start s3 "$S3S_BIN" --host 127.0.0.1 --port "$TW_S3_PORT" \
        --access-key "$TW_S3_ACCESS_KEY" --secret-key "$TW_S3_SECRET_KEY" "$TW_STACK_DIR/s3"
    # Tansu keeps its log in memory by default: over the S3 server its every produce and fetch
    # is an object operation, and a stack that has run the suite a few times (thousands of
    # test topics) slowed to stalls and lost idempotent producers' sequences under load.
    # TW_BROKER_STORAGE=s3 keeps the log on the local S3 server (topics survive a broker
    # restart; `cli/tests/broker_durability.rs` checks that mode on a Tansu of its own).
    start broker env AWS_ENDPOINT="http://127.0.0.1:$TW_S3_PORT" AWS_ALLOW_HTTP=true \
        AWS_ACCESS_KEY_ID="$TW_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$TW_S3_SECRET_KEY" AWS_DEFAULT_REGION=us-east-1 \
        "$TANSU_BIN" broker --listener-url "tcp://127.0.0.1:$TW_BROKER_PORT" \
        --advertised-listener-url "tcp://127.0.0.1:$TW_BROKER_PORT" --storage-engine "$(broker_storage)"
    start noida "$NOIDA_BIN" start --only kafka --kafka-port "$TW_NOIDA_PORT" --host 127.0.0.1 --data-dir "$TW_STACK_DIR/noida"
    start clickhouse "$TICKWATCH" chdb-serve --lib "$CHDB_LIB" --path "$TW_STACK_DIR/clickhouse" --http-port "$TW_CLICKHOUSE_PORT"
    # The registry is ours: after a rebuild, restart it so the stack runs the current code.
    local built; built="$(stat -c %Y "$TICKWATCH")"
    if pid_alive registry && [ "$(cat "$RUN/registry.built" 2>/dev/null)" != "$built" ]; then
        log "tickwatch was rebuilt; restarting the registry"
        stop_one registry
    fi
    start registry env TICKWATCH_CONFIG="$TW_STACK_DIR/tickwatch.yaml" "$TICKWATCH" registry
    echo "$built" >"$RUN/registry.built"
    start redis redis-server --port "$TW_REDIS_PORT" --bind 127.0.0.1 --dir "$TW_STACK_DIR/redis" \
        --appendonly yes --save "" --daemonize no
    start prometheus prometheus --config.file="$TW_STACK_DIR/prometheus.yml" \
        --storage.tsdb.path="$TW_STACK_DIR/prometheus" --web.listen-address="127.0.0.1:$TW_PROMETHEUS_PORT" \
        --web.enable-lifecycle

    local tw=("$TICKWATCH" --config "$TW_STACK_DIR/tickwatch.yaml")
    "${tw[@]}" topics create >"$LOGS/init.log" 2>&1 || { cat "$LOGS/init.log" >&2; die "creating topics failed"; }
    "${tw[@]}" schemas register >>"$LOGS/init.log" 2>&1 || { cat "$LOGS/init.log" >&2; die "registering schemas failed"; }
    "${tw[@]}" migrate >>"$LOGS/init.log" 2>&1 || { cat "$LOGS/init.log" >&2; die "ClickHouse migration failed"; }
    log "stack is up; settings in $TW_STACK_DIR/tickwatch.yaml, variables in $TW_STACK_DIR/env"
}

stop_one() {
    local name="$1" i
    pid_alive "$name" || { rm -f "$RUN/$name.pid"; return 0; }
    local pid; pid="$(cat "$RUN/$name.pid")"
    if [ "$name" = clickhouse ]; then
        # chDB replaces the signal handlers; ending its keep-alive query ends it cleanly.
        curl -fsS "http://127.0.0.1:$TW_CLICKHOUSE_PORT/" \
            --data-binary "KILL QUERY WHERE query LIKE '%tickwatch_chdb_keepalive%' AND query NOT LIKE '%KILL QUERY%' SYNC" >/dev/null 2>&1 || true
    else
        # Each server runs in its own session (setsid): signal the whole group, so wrappers
        # (noida-db's launcher) take their children with them.
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    fi
    for ((i = 0; i < 40; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$RUN/$name.pid"
    log "stopped $name"
}

down() {
    local i
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
        stop_one "${SERVICES[$i]}"
    done
}

status() {
    local name
    for name in "${SERVICES[@]}"; do
        if pid_alive "$name" && healthy "$name"; then
            printf '%-11s up    127.0.0.1:%s\n' "$name" "$(service_port "$name")"
        else
            printf '%-11s down\n' "$name"
        fi
    done
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
