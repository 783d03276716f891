use clap::Subcommand;
use std::path::Path;
use tickwatch_runtime::topics::Topics;
use tickwatch_runtime::Settings;

#[derive(Subcommand)]
pub enum TopicsAction {
    /// Create every declared topic that does not exist yet.
    Create,
    /// Print the declared topics.
    List,
    /// Print the rpk script that creates the topics on Redpanda (rpk/topics.sh).
    Rpk,
    /// Print the rpk script that registers the schemas on Redpanda (rpk/registry.sh).
    RpkRegistry,
}

pub async fn run(config: &Path, action: TopicsAction) -> anyhow::Result<()> {
    // Rendering needs only the declaration, not the endpoints.
    let topics_path = match &action {
        TopicsAction::Create => Settings::load(config)?.files.topics,
        _ => Settings::load(config).map(|s| s.files.topics).unwrap_or_else(|_| "config/topics.yaml".into()),
    };
    let topics = Topics::load(&topics_path)?;
    match action {
        TopicsAction::Create => {
            let settings = Settings::load(config)?;
            let created = tickwatch_runtime::broker::create_topics(&settings.broker, &topics.specs()).await?;
            println!("{} topics declared, {} created: {}", topics.0.len(), created.len(), created.join(" "));
        }
        TopicsAction::List => {
            for t in &topics.0 {
                let schema = t.value_schema.map_or("-", |s| s.name);
                println!(
                    "{:<28} partitions={} replication={} schema={schema} {:?}",
                    t.name,
                    t.partitions,
                    t.replication,
                    t.configs()
                );
            }
        }
        TopicsAction::Rpk => print!("{}", topics.render_rpk_topics()),
        TopicsAction::RpkRegistry => print!("{}", topics.render_rpk_registry()),
    }
    Ok(())
}
