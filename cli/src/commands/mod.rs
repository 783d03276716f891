pub mod book;
pub mod chdb;
pub mod check;
pub mod fake_venue;
pub mod ingest;
pub mod migrate;
pub mod registry;
pub mod schemas;
pub mod topics;
pub mod transform;
pub mod windows;

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

/// Serve `render()` as Prometheus `/metrics` on `listen` until the process ends.
pub async fn serve_metrics(
    listen: &str,
    render: impl Fn() -> String + Clone + Send + Sync + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot serve /metrics on {listen}: {e}; pass a free --metrics-listen"))?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let body = render();
            async move { ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body) }
        }),
    );
    tracing::info!(listen, "serving /metrics");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the /metrics server stopped");
        }
    });
    Ok(())
}
