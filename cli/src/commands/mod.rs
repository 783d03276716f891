pub mod book;
pub mod chdb;
pub mod check;
pub mod migrate;
pub mod registry;
pub mod schemas;
pub mod topics;
pub mod transform;

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
