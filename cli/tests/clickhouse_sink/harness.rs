//! A writer under test: its topics, database and process, and the helpers that read back.

use crate::records::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tickwatch_model::{AvroRecord, Decimal, Kline, QualityMinute, QuarantineRecord, ReferencePrice, Trade};
use tickwatch_runtime::broker::{self, ReliableProducer, TopicSpec};
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::Settings;
use tickwatch_testkit::servers::settings_with_clickhouse;
use tickwatch_testkit::{free_port, stack, unique, ChildGuard};

/// Everything a test needs: its topics, registered schemas, settings and sink file.
pub struct Harness {
    pub prefix: String,
    pub settings_path: PathBuf,
    pub sinks_path: PathBuf,
    pub clickhouse: ClickHouse,
    pub producer: ReliableProducer,
    pub ids: HashMap<&'static str, u32>,
    /// The writer's /metrics address.
    pub metrics_listen: String,
}

impl Harness {
    pub async fn new(
        name: &str,
        clickhouse_url: &str,
        database: &str,
        topics: &[(&'static str, i32)],
        sink: &str,
    ) -> Harness {
        let s = stack();
        let prefix = unique(name);
        let settings_path = settings_with_clickhouse(s, clickhouse_url, database);
        let out = Command::new(BIN).arg("--config").arg(&settings_path).arg("migrate").output().unwrap();
        assert!(out.status.success(), "migrate: {}", String::from_utf8_lossy(&out.stderr));
        let specs: Vec<TopicSpec> = topics
            .iter()
            .map(|(t, p)| TopicSpec { name: format!("{prefix}.{t}"), partitions: *p, replication: 1, configs: vec![] })
            .collect();
        broker::create_topics(&s.broker(), &specs).await.unwrap();
        let registry = RegistryClient::new(&s.settings.registry.url);
        let mut ids = HashMap::new();
        for (topic, _) in topics {
            let schema = match *topic {
                "trades" => Trade::SCHEMA_JSON,
                "reference" => ReferencePrice::SCHEMA_JSON,
                "kline.1m" => Kline::SCHEMA_JSON,
                "dq.minute" => QualityMinute::SCHEMA_JSON,
                _ => QuarantineRecord::SCHEMA_JSON,
            };
            ids.insert(*topic, registry.register(&format!("{prefix}.{topic}-value"), schema).await.unwrap());
        }
        let sinks_path = std::env::temp_dir().join(format!("{prefix}-sinks.yaml"));
        std::fs::write(&sinks_path, sink).unwrap();
        let settings = Settings::load(&settings_path).unwrap();
        Harness {
            prefix,
            settings_path,
            sinks_path,
            clickhouse: ClickHouse::new(&settings.clickhouse),
            producer: ReliableProducer::new(&s.broker()).unwrap(),
            ids,
            metrics_listen: format!("127.0.0.1:{}", free_port()),
        }
    }

    /// A value of the writer's /metrics: the sample whose name and labels start with `series`.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let text = reqwest::get(format!("http://{}/metrics", self.metrics_listen)).await.ok()?.text().await.ok()?;
        text.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
    }

    pub fn topic(&self, t: &str) -> String {
        format!("{}.{t}", self.prefix)
    }

    pub fn log(&self) -> PathBuf {
        std::env::temp_dir().join(format!("{}-sink.log", self.prefix))
    }

    pub fn sink(&self) -> ChildGuard {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log()).unwrap();
        let child = Command::new(BIN)
            .arg("--config")
            .arg(&self.settings_path)
            .args(["sink", "clickhouse", "--sinks"])
            .arg(&self.sinks_path)
            .args(["--topic-prefix", &format!("{}.", self.prefix), "--group", &format!("{}-sink", self.prefix)])
            .args(["--instance-id", "writer-0", "--metrics-listen", &self.metrics_listen])
            .env("RUST_LOG", "info,tickwatch_sink_clickhouse=debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("tickwatch sink clickhouse starts");
        ChildGuard(child)
    }

    pub async fn count(&self, sql: &str) -> u64 {
        match self.clickhouse.query_rows(sql).await {
            Ok(rows) => int(&rows[0]["n"]) as u64,
            Err(_) => 0,
        }
    }

    /// Wait until every query counts what it should.
    pub async fn wait_for(&self, expected: &[(&str, u64)], secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let mut got = Vec::new();
            for (sql, _) in expected {
                got.push(self.count(sql).await);
            }
            if expected.iter().zip(&got).all(|((_, want), have)| have == want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "after {secs} s: {got:?}, expected {:?}\n{}",
                expected.iter().map(|e| e.1).collect::<Vec<_>>(),
                std::fs::read_to_string(self.log()).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The group's committed offsets of `topic` (partitions 0..n), summed.
    pub fn committed(&self, topic: &str, partitions: i32) -> i64 {
        let c: BaseConsumer =
            broker::client_config(&stack().broker()).set("group.id", format!("{}-sink", self.prefix)).create().unwrap();
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition(&self.topic(topic), p);
        }
        let got = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
        got.elements().iter().map(|e| if let Offset::Offset(o) = e.offset() { o } else { 0 }).sum()
    }
}

pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A 64-bit integer, quoted or not (ClickHouse's JSON quotes them by default).
pub fn int(v: &serde_json::Value) -> i64 {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap()
}

pub fn dec(v: &serde_json::Value) -> Decimal {
    v.as_str().unwrap().parse().unwrap()
}
