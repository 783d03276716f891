#!/usr/bin/env bash
# Tears down what rpk/up.sh made: the transforms first (so nothing writes), then each topic's
# value subject (soft, then permanent), then the topics themselves, data included. Asks first
# unless given --yes. The topic list is the one rpk/topics.sh creates.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# _schemas is left alone: on Redpanda it holds the registry itself, every team's schemas.
topics=($(sed -n 's/^create \([^ ]*\) .*/\1/p' rpk/topics.sh | grep -vx _schemas))
if [ "${1:-}" != "--yes" ]; then
    read -r -p "Delete the tickwatch transforms, ${#topics[@]} topics and their subjects, data included? [y/N] " answer
    [ "$answer" = "y" ] || { echo "nothing deleted"; exit 1; }
fi
bash rpk/transforms.sh --delete
for t in "${topics[@]}"; do
    rpk registry subject delete "$t-value" >/dev/null 2>&1 || true
    rpk registry subject delete "$t-value" --permanent >/dev/null 2>&1 || true
done
rpk topic delete "${topics[@]}"
