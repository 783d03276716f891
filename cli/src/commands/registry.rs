use tickwatch_runtime::Settings;

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    tickwatch_registry::serve(&settings.broker, &settings.registry, super::shutdown_signal()).await?;
    Ok(())
}
