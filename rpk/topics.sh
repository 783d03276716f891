#!/usr/bin/env bash
# Generated from config/topics.yaml by `tickwatch topics rpk`; do not edit by hand.
# Creates every tickwatch topic on a Redpanda cluster (rpk's usual flags/env select the cluster).
set -euo pipefail

# An existing topic is fine (the script is re-runnable); any other failure stops it.
create() {
    local out
    if ! out="$(rpk topic create "$@" 2>&1)"; then
        grep -q TOPIC_ALREADY_EXISTS <<<"$out" || { echo "$out" >&2; exit 1; }
    fi
    echo "$out"
}

create raw.trades -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=604800000 -c compression.type=zstd
create raw.depth -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=604800000 -c compression.type=zstd
create raw.reference -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=604800000 -c compression.type=zstd
create raw.dex -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=604800000 -c compression.type=zstd
create trades -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=604800000 -c compression.type=zstd
create depth -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=604800000 -c compression.type=zstd
create reference -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=604800000 -c compression.type=zstd
create dex.swaps -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=604800000 -c compression.type=zstd
create raw.trades.quarantine -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=2592000000 -c compression.type=zstd
create raw.depth.quarantine -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=2592000000 -c compression.type=zstd
create raw.reference.quarantine -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=2592000000 -c compression.type=zstd
create raw.dex.quarantine -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=2592000000 -c compression.type=zstd
create trades.quarantine -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=2592000000 -c compression.type=zstd
create kline.1s -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=604800000 -c compression.type=zstd
create kline.5s -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=604800000 -c compression.type=zstd
create kline.1m -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=2592000000 -c compression.type=zstd
create book.1s -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=604800000 -c compression.type=zstd
create book.5s -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=604800000 -c compression.type=zstd
create book.1m -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=2592000000 -c compression.type=zstd
create alerts -p 1 -r 1 -c cleanup.policy=delete -c retention.ms=2592000000 -c compression.type=zstd
create dq.minute -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=2592000000 -c compression.type=zstd
create signals -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=604800000 -c compression.type=zstd
create price.smooth -p 3 -r 1 -c cleanup.policy=delete -c retention.ms=2592000000 -c compression.type=zstd
create _schemas -p 1 -r 1 -c cleanup.policy=compact -c retention.ms=-1 -c compression.type=zstd
