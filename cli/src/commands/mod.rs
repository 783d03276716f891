pub mod alerts;
pub mod analytics;
pub mod api;
pub mod book;
pub mod chdb;
pub mod check;
pub mod evm;
pub mod fake_venue;
pub mod history;
pub mod ingest;
pub mod migrate;
pub mod progress;
pub mod registry;
pub mod replay;
pub mod schemas;
pub mod sink;
pub mod slo;
pub mod topics;
pub mod transform;
pub mod up;
pub mod windows;

/// A time argument: milliseconds since the epoch or RFC 3339.
pub fn time_arg(text: &str) -> Result<i64, String> {
    tickwatch_api::params::parse_time_ms(text)
        .ok_or_else(|| format!("`{text}` is neither milliseconds nor RFC 3339 (2026-12-01T00:00:00Z)"))
}

/// Resolves when the process gets SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}

/// Run a blocking consumer loop on a thread of its own until it ends or the process is asked
/// to stop; then set its stop flag and wait for it to finish its batch.
pub async fn run_worker(
    name: &str,
    work: impl FnOnce(tokio::runtime::Handle, &std::sync::atomic::AtomicBool) -> anyhow::Result<()> + Send + 'static,
) -> anyhow::Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let (worker_stop, handle) = (stop.clone(), tokio::runtime::Handle::current());
    let worker = std::thread::Builder::new().name(name.into()).spawn(move || work(handle, &worker_stop))?;
    let waiter = tokio::task::spawn_blocking(move || worker.join());
    tokio::pin!(waiter);
    let panicked = || anyhow::anyhow!("the {name} worker panicked");
    tokio::select! {
        joined = &mut waiter => return joined?.map_err(|_| panicked())?,
        _ = shutdown_signal() => stop.store(true, Ordering::Relaxed),
    }
    waiter.await?.map_err(|_| panicked())?
}

/// Serve `render()` as Prometheus `/metrics` on `listen` until the process ends, beside
/// `/healthz` and `/readyz` (the probes of a Kubernetes pod: the process is up and serving).
/// An address already taken (several stages on one host with one settings file) is said in
/// one line and the stage runs on without them: in a pod of its own the address is always
/// free, and a pod without them fails its probes.
pub async fn serve_metrics(stage: &str, listen: &str, render: impl Fn() -> String + Clone + Send + Sync + 'static) {
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(
                stage,
                "cannot serve /metrics on {listen}: {e}; pass a free --metrics-listen; running without /metrics"
            );
            return;
        }
    };
    let ok = || async { "ok\n" };
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(move || {
                let body = render();
                async move { ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body) }
            }),
        )
        .route("/healthz", axum::routing::get(ok))
        .route("/readyz", axum::routing::get(ok));
    let bound = listener.local_addr().map_or_else(|_| listen.to_string(), |a| a.to_string());
    tracing::info!(stage, listen = %bound, "serving /metrics");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the /metrics server stopped");
        }
    });
}

/// Export this stage's spans (service `tickwatch-<stage>`) when an OTLP endpoint is set in
/// the settings or the environment.
pub fn start_tracing(stage: &str, settings: &tickwatch_runtime::Settings) {
    if let Some(url) = tickwatch_runtime::trace::init(&settings.otel, &format!("tickwatch-{stage}")) {
        tracing::info!(stage, url, sample_ratio = settings.otel.sample_ratio, "exporting spans over OTLP");
    }
}

/// The consumer-group stages' `/metrics` (`runtime::metrics`) on `--metrics-listen` or the
/// settings' `metrics.listen`.
pub async fn serve_stage_metrics(stage: &'static str, listen: Option<&str>, settings: &tickwatch_runtime::Settings) {
    start_tracing(stage, settings);
    let listen = listen.unwrap_or(&settings.metrics.listen);
    let render = move || {
        format!(
            "# HELP tickwatch_stage_info The stage this process runs.\n# TYPE tickwatch_stage_info gauge\n\
             tickwatch_stage_info{{stage=\"{stage}\",version=\"{}\"}} 1\n{}",
            env!("CARGO_PKG_VERSION"),
            tickwatch_runtime::metrics::stage_metrics().render()
        )
    };
    serve_metrics(stage, listen, render).await;
}
