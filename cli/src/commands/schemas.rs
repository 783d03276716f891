use clap::Subcommand;
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::topics::Topics;
use tickwatch_runtime::Settings;

#[derive(Subcommand)]
pub enum SchemasAction {
    /// Set BACKWARD and register each declared topic's value schema; prints subject → id.
    Register,
}

pub async fn run(settings: &Settings, action: SchemasAction) -> anyhow::Result<()> {
    match action {
        SchemasAction::Register => {
            let topics = Topics::load(&settings.files.topics)?;
            let client = RegistryClient::new(&settings.registry.url);
            for t in &topics.0 {
                let Some(schema) = t.value_schema else {
                    continue;
                };
                let subject = t.value_subject();
                client.set_compatibility(&subject, "BACKWARD").await?;
                let id = client.register(&subject, schema.json).await?;
                println!("{subject} -> id {id}");
            }
        }
    }
    Ok(())
}
