#!/usr/bin/env bash
# Builds every tickwatch transform and deploys it to a Redpanda cluster with its
# transform.yaml (input topic, output topics in order, env); `--delete` removes them.
# rpk's usual profile, flags and environment select the cluster. Run from anywhere.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TRANSFORMS=(trades depth reference dex)

if [ "${1:-}" = "--delete" ]; then
    for t in "${TRANSFORMS[@]}"; do
        rpk transform delete "tw-$t" --no-confirm || true
    done
    exit 0
fi

make transforms
for t in "${TRANSFORMS[@]}"; do
    (cd "transforms/$t" && rpk transform deploy --file "../../target/wasm32-wasip1/wasm/tw-$t.wasm")
done
