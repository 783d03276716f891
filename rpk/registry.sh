#!/usr/bin/env bash
# Generated from config/topics.yaml by `tickwatch topics rpk-registry`; do not edit by hand.
# Registers each topic's value schema in Redpanda's Schema Registry (subject <topic>-value)
# and sets its compatibility to BACKWARD. Run from the repository root.
set -euo pipefail

rpk registry compatibility-level set raw.trades-value --level BACKWARD
rpk registry schema create raw.trades-value --schema schemas/avro/raw_trade.avsc --type avro
rpk registry compatibility-level set raw.depth-value --level BACKWARD
rpk registry schema create raw.depth-value --schema schemas/avro/raw_book_update.avsc --type avro
rpk registry compatibility-level set raw.reference-value --level BACKWARD
rpk registry schema create raw.reference-value --schema schemas/avro/raw_reference_price.avsc --type avro
rpk registry compatibility-level set raw.dex-value --level BACKWARD
rpk registry schema create raw.dex-value --schema schemas/avro/raw_dex_log.avsc --type avro
rpk registry compatibility-level set trades-value --level BACKWARD
rpk registry schema create trades-value --schema schemas/avro/trade.avsc --type avro
rpk registry compatibility-level set depth-value --level BACKWARD
rpk registry schema create depth-value --schema schemas/avro/book_update.avsc --type avro
rpk registry compatibility-level set reference-value --level BACKWARD
rpk registry schema create reference-value --schema schemas/avro/reference_price.avsc --type avro
rpk registry compatibility-level set dex.swaps-value --level BACKWARD
rpk registry schema create dex.swaps-value --schema schemas/avro/dex_swap.avsc --type avro
rpk registry compatibility-level set raw.trades.quarantine-value --level BACKWARD
rpk registry schema create raw.trades.quarantine-value --schema schemas/avro/quarantine_record.avsc --type avro
rpk registry compatibility-level set raw.depth.quarantine-value --level BACKWARD
rpk registry schema create raw.depth.quarantine-value --schema schemas/avro/quarantine_record.avsc --type avro
rpk registry compatibility-level set raw.reference.quarantine-value --level BACKWARD
rpk registry schema create raw.reference.quarantine-value --schema schemas/avro/quarantine_record.avsc --type avro
rpk registry compatibility-level set raw.dex.quarantine-value --level BACKWARD
rpk registry schema create raw.dex.quarantine-value --schema schemas/avro/quarantine_record.avsc --type avro
rpk registry compatibility-level set trades.quarantine-value --level BACKWARD
rpk registry schema create trades.quarantine-value --schema schemas/avro/quarantine_record.avsc --type avro
rpk registry compatibility-level set kline.1s-value --level BACKWARD
rpk registry schema create kline.1s-value --schema schemas/avro/kline.avsc --type avro
rpk registry compatibility-level set kline.5s-value --level BACKWARD
rpk registry schema create kline.5s-value --schema schemas/avro/kline.avsc --type avro
rpk registry compatibility-level set kline.1m-value --level BACKWARD
rpk registry schema create kline.1m-value --schema schemas/avro/kline.avsc --type avro
rpk registry compatibility-level set book.1s-value --level BACKWARD
rpk registry schema create book.1s-value --schema schemas/avro/book_top.avsc --type avro
rpk registry compatibility-level set book.5s-value --level BACKWARD
rpk registry schema create book.5s-value --schema schemas/avro/book_top.avsc --type avro
rpk registry compatibility-level set book.1m-value --level BACKWARD
rpk registry schema create book.1m-value --schema schemas/avro/book_top.avsc --type avro
rpk registry compatibility-level set alerts-value --level BACKWARD
rpk registry schema create alerts-value --schema schemas/avro/alert.avsc --type avro
rpk registry compatibility-level set dq.minute-value --level BACKWARD
rpk registry schema create dq.minute-value --schema schemas/avro/quality_minute.avsc --type avro
rpk registry compatibility-level set signals-value --level BACKWARD
rpk registry schema create signals-value --schema schemas/avro/signal.avsc --type avro
rpk registry compatibility-level set price.smooth-value --level BACKWARD
rpk registry schema create price.smooth-value --schema schemas/avro/smooth_price.avsc --type avro
