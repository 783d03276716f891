# The verbs a user types. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: help setup build wasm transforms test lint fmt stack-up stack-down stack-status migrate bench bench-setup soak up up-offline down

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

setup: ## install everything on a fresh Debian machine (idempotent; heavy downloads cached)
	bash scripts/setup.sh

build: ## build the tickwatch binary
	$(CARGO) build -p tickwatch

wasm: ## build what the in-broker transforms link (model, transform core) for wasm32-wasip1
	$(CARGO) build -p tickwatch-model -p tickwatch-transform-core --target wasm32-wasip1

transforms: ## build the .wasm transforms (target/wasm32-wasip1/wasm/tw-*.wasm)
	$(CARGO) build --profile wasm -p tickwatch-transform-trades -p tickwatch-transform-depth -p tickwatch-transform-reference -p tickwatch-transform-dex --target wasm32-wasip1

test: stack-up wasm transforms ## start the local stack (if needed) and run the whole suite against it
	$(CARGO) test --workspace --no-fail-fast

lint: ## rustfmt and clippy, warnings are errors
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p tickwatch-transform-shell -p tickwatch-transform-trades -p tickwatch-transform-depth -p tickwatch-transform-reference -p tickwatch-transform-dex --target wasm32-wasip1 -- -D warnings

fmt: ## format the code
	$(CARGO) fmt --all

up: stack-up transforms build ## start the stack and every stage against the real venues; prints the dashboard URL
	bash scripts/up.sh

up-offline: stack-up transforms build ## the same against fake Binance and OKX (a seeded market from now); no internet needed
	bash scripts/up.sh --offline

down: ## stop every stage of make up, then the local stack
	bash scripts/up.sh --stop
	bash scripts/stack.sh down

stack-up: ## install (first time) and start broker, registry, ClickHouse, S3, Redis, Prometheus
	bash scripts/stack.sh up

stack-down: ## stop the local stack (data kept in .stack/)
	bash scripts/stack.sh down

stack-status: ## one line per local server
	bash scripts/stack.sh status

migrate: ## apply the ClickHouse DDL to the configured server
	$(CARGO) run -q -p tickwatch -- migrate

bench-setup: ## install the peer the benchmarks compare with (cryptofeed, in bench/cryptofeed/.venv)
	bash bench/cryptofeed/setup.sh

bench: bench-setup transforms ## every benchmark, each beside its baseline from the same run
	$(CARGO) bench -p tickwatch-bench --bench ingest
	$(CARGO) bench -p tickwatch-bench --bench windows
	$(CARGO) bench -p tickwatch-bench --bench clickhouse
	$(CARGO) bench -p tickwatch-bench --bench api
	$(CARGO) bench -p tickwatch-bench --bench parquet
	$(CARGO) bench -p tickwatch --bench e2e
	$(CARGO) bench -p tickwatch-model
	$(CARGO) bench -p tickwatch-transform-host

soak: transforms ## the one-hour soak: 5 000 trades/s, disconnects, writer killed every 10 minutes
	$(CARGO) bench -p tickwatch --bench soak
