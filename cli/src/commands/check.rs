use std::path::Path;
use tickwatch_runtime::topics::Topics;
use tickwatch_runtime::Settings;

/// Load every configuration file; the first problem is returned as an error naming the field.
pub fn run(config: &Path) -> anyhow::Result<()> {
    let settings = Settings::load(config)?;
    let topics = Topics::load(&settings.files.topics)?;
    let venues = tickwatch_runtime::venues::Exchanges::load(&settings.files.exchanges)?;
    let symbols = tickwatch_runtime::venues::load_symbols(&settings.files.symbols)?;
    let windows = super::windows::load(&settings.files.windows)?;
    let sinks = super::sink::load(&settings.files.sinks)?;
    tickwatch_sink_analytics::config::AnalyticsConfig::load(&settings.files.analytics)?;
    let rules = tickwatch_alerts::rules::AlertsFile::load(&settings.files.alerts)?;
    tickwatch_api::config::ApiConfig::load(&settings.files.api)?;
    // Settings written before the DEX ingestor name no chains file; without one there is
    // nothing to check, and `tickwatch evm` says so when it runs.
    let chains = match settings.files.chains.exists() {
        true => tickwatch_ingest::evm::ChainsFile::load(&settings.files.chains)?.chains.len(),
        false => 0,
    };
    println!(
        "{}: ok ({} topics, {} venues, {} symbol aliases, {} pools, {} chains, {} window intervals, {} topics to ClickHouse, {} alert rules)",
        config.display(),
        topics.0.len(),
        venues.venues.len(),
        symbols.aliases.len(),
        symbols.pools.len(),
        chains,
        windows.intervals.len(),
        sinks.clickhouse.topics.len(),
        rules.rules.len()
    );
    Ok(())
}
