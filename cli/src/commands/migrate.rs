use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::Settings;

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let ch = ClickHouse::new(&settings.clickhouse);
    let applied = ch.migrate(&settings.files.clickhouse_ddl).await?;
    if applied.is_empty() {
        println!("database {}: up to date", ch.database());
    }
    for name in applied {
        println!("database {}: applied {name}", ch.database());
    }
    for table in ch.apply_hot_ttl(settings.clickhouse.hot_ttl_days).await? {
        println!("database {}: {table} keeps {} days", ch.database(), settings.clickhouse.hot_ttl_days);
    }
    Ok(())
}
