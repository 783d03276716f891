# The one image every stage runs (helm/tickwatch): the `tickwatch` binary, the .wasm transforms,
# the ClickHouse DDL, the sample configuration and the dashboard with its chart library.
# Build from the repository root: docker build -t tickwatch/tickwatch:0.1.0 .
# The working directory mirrors the repository (config/, schemas/, api/dashboard/, wasm/), so the
# settings' relative paths and config/api.yaml's dashboard_dir hold unchanged.

FROM rust:1.95-bookworm AS build
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/* && rustup target add wasm32-wasip1
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p tickwatch \
    && cargo build --locked --profile wasm --target wasm32-wasip1 \
        -p tickwatch-transform-trades -p tickwatch-transform-depth \
        -p tickwatch-transform-reference -p tickwatch-transform-dex

FROM node:20-bookworm-slim AS dashboard
WORKDIR /dashboard
COPY api/dashboard/package.json api/dashboard/package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=dev
COPY api/dashboard/ ./

FROM debian:bookworm-slim
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends ca-certificates libssl3 zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 tickwatch && useradd --uid 10001 --gid 10001 --no-create-home tickwatch
WORKDIR /opt/tickwatch
COPY --from=build /src/target/release/tickwatch /usr/local/bin/tickwatch
COPY --from=build /src/target/wasm32-wasip1/wasm/tw-*.wasm wasm/
COPY --from=dashboard /dashboard api/dashboard
COPY schemas schemas
COPY config config
USER 10001:10001
EXPOSE 8080 9464
ENTRYPOINT ["/usr/local/bin/tickwatch"]
CMD ["--help"]
