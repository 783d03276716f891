#!/usr/bin/env bash
# Everything tickwatch needs on a Redpanda cluster, in order: the topics, the schemas (BACKWARD),
# then the transforms. Re-runnable. rpk's usual profile, flags and environment select the cluster.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash rpk/topics.sh
bash rpk/registry.sh
bash rpk/transforms.sh
