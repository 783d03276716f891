//! The dashboard in headless Chromium (Debian `chromium` + `chromium-driver`, from `make
//! setup`) against the running stack, every part real: trades of one perpetual on two venues,
//! okx's mark/index prices, data-quality minutes and a firing alert go to fresh topics;
//! `windows run` makes the k-lines, `analytics run` the spreads and divergence, `sink
//! clickhouse` puts everything in a database of the test's own, and `api serve` reads it and
//! serves the dashboard. The page must draw as many candles as the API returns for the same
//! query, spread and divergence lines, the alert and the instrument's data-quality rows; its
//! empty and error states must say what is missing or what the API refused. The screenshot is
//! kept in `target/dashboard.png`.

mod data;
mod support;

use data::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};
use support::*;
use tickwatch_model::{Alert, AvroRecord, QualityMinute, ReferencePrice, Trade};
use tickwatch_runtime::broker::ReliableProducer;
use tickwatch_runtime::clickhouse::ClickHouse;
use tickwatch_runtime::registry_client::RegistryClient;
use tickwatch_runtime::Settings;
use tickwatch_testkit::servers::settings_with_clickhouse;
use tickwatch_testkit::webdriver::{png_stats, Browser};
use tickwatch_testkit::{free_port, repo_root, stack, unique, wait_http};

pub const BIN: &str = env!("CARGO_BIN_EXE_tickwatch");
pub const S: i64 = 1_000_000;
pub const INSTRUMENT: &str = "BTC-USDT-PERP";
/// (venue, venue symbol) as config/symbols.yaml lists them.
pub const VENUES: [(&str, &str); 2] = [("binance-usdm", "BTCUSDT"), ("okx", "BTC-USDT-SWAP")];
/// Eight minutes of trades, one per venue every 250 ms.
pub const MINUTES: i64 = 8;
pub const STEPS: i64 = MINUTES * 240;

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_draws_the_stacks_data_in_headless_chromium() {
    let s = stack();
    let dashboard = repo_root().join("api/dashboard");
    assert!(
        dashboard.join("node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js").is_file(),
        "the dashboard's chart library is missing from api/dashboard/node_modules: run `make setup`"
    );
    let prefix = unique("dash");
    let rule = format!("dashboard-divergence-{}", prefix.rsplit('-').next().unwrap());
    // A database of the test's own: the page must show this run's figures and only them.
    let db = prefix.replace('-', "_");
    let settings_path = settings_with_clickhouse(s, &s.settings.clickhouse.url, &db);
    let out = Command::new(BIN).arg("--config").arg(&settings_path).arg("migrate").output().unwrap();
    assert!(out.status.success(), "migrate: {}", String::from_utf8_lossy(&out.stderr));
    let ch = ClickHouse::new(&Settings::load(&settings_path).unwrap().clickhouse);
    create_topics(&prefix).await;
    let registry = RegistryClient::new(&s.settings.registry.url);
    let subject = |t: &str| format!("{prefix}.{t}-value");
    let trade_id = registry.register(&subject("trades"), Trade::SCHEMA_JSON).await.unwrap();
    let ref_id = registry.register(&subject("reference"), ReferencePrice::SCHEMA_JSON).await.unwrap();
    let dq_id = registry.register(&subject("dq.minute"), QualityMinute::SCHEMA_JSON).await.unwrap();
    let alert_id = registry.register(&subject("alerts"), Alert::SCHEMA_JSON).await.unwrap();

    // Whole minutes, the last one ending a minute or two ago: the page's default range (the
    // last 6 h) holds them all.
    let t0 = (now_us() / (60 * S) - MINUTES - 2) * 60 * S;
    let all_trades = trades(t0);
    let mut producer = ReliableProducer::new(&s.broker()).unwrap();
    let topic = |t: &str| format!("{prefix}.{t}");
    send(&mut producer, &topic("trades"), trade_id, |t: &Trade| t.instrument.clone(), &all_trades).await;
    send(&mut producer, &topic("reference"), ref_id, |r: &ReferencePrice| r.instrument.clone(), &references(t0)).await;
    send(&mut producer, &topic("dq.minute"), dq_id, |q: &QualityMinute| q.instrument.clone(), &quality(t0)).await;
    send(&mut producer, &topic("alerts"), alert_id, |a: &Alert| a.fingerprint.clone(), &[alert(&rule, t0)]).await;

    let dir = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let windows = write(
        "windows.yaml",
        "intervals: [1s, 5s, 1m]\nallowed_lateness_ms: 2000\ncorrection_horizon_ms: 60000\nidle_after_ms: 1000\n"
            .into(),
    );
    let analytics = write(
        "analytics.yaml",
        format!(
            "spread: {{every: 1s, max_age: 5s}}\ndivergence: {{every: 1s, max_age: 5s}}\nema: {{intervals: []}}\n\
             state_prefix: '{prefix}:a:'\n"
        ),
    );
    let sinks = write(
        "sinks.yaml",
        "clickhouse:\n  topics: [trades, reference, kline.1s, kline.5s, kline.1m, dq.minute, signals, alerts, \
         price.smooth]\n  batch_ms: 200\n"
            .into(),
    );
    let api_port = free_port();
    let api_cfg = write("api.yaml", format!("listen: 127.0.0.1:{api_port}\ndashboard_dir: {}\n", dashboard.display()));
    let topic_prefix = format!("{prefix}.");
    let worker = |name: &str, args: &[&str]| {
        let group = format!("{prefix}-{name}");
        let mut all = args.to_vec();
        all.extend(["--topic-prefix", &topic_prefix, "--group", &group]);
        spawn(&settings_path, &prefix, name, &all)
    };
    let _windows = worker("windows", &["windows", "run", "--windows", &windows]);
    let _analytics = worker("analytics", &["analytics", "run", "--analytics", &analytics]);
    let _sink = worker("sink", &["sink", "clickhouse", "--sinks", &sinks]);

    // Everything in ClickHouse: a 1 s bar for every second with trades, a 1 m bar for every
    // minute, per venue; spreads and divergence; the quality minutes and the alert.
    let seconds: BTreeSet<(String, i64)> =
        all_trades.iter().map(|t| (t.venue.clone(), t.event_time_us.div_euclid(S))).collect();
    let per_venue = (seconds.len() / VENUES.len()) as i64;
    assert_eq!(per_venue, MINUTES * 60);
    let q = |sql: &str| sql.replace("{i}", INSTRUMENT);
    let expected: Vec<(String, i64)> = vec![
        (q("SELECT count() AS n FROM klines FINAL WHERE instrument = '{i}' AND interval = '1s'"), 2 * per_venue),
        (q("SELECT count() AS n FROM klines FINAL WHERE instrument = '{i}' AND interval = '1m'"), 2 * MINUTES),
        ("SELECT count() AS n FROM data_quality_minute FINAL".into(), 2 * MINUTES),
        ("SELECT count() AS n FROM alerts FINAL".into(), 1),
        (q("SELECT least(count(), 100) AS n FROM signals WHERE kind = 'spread' AND instrument = '{i}'"), 100),
        (q("SELECT least(count(), 100) AS n FROM signals WHERE kind = 'divergence' AND instrument = '{i}'"), 100),
    ];
    let started = Instant::now();
    let deadline = started + Duration::from_secs(240);
    loop {
        let mut got = Vec::new();
        for (sql, _) in &expected {
            got.push(count(&ch, sql).await);
        }
        if expected.iter().zip(&got).all(|((_, want), have)| have == want) {
            eprintln!("ClickHouse {db} has the run's rows after {:.1} s", started.elapsed().as_secs_f64());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ClickHouse {db} after 240 s: {got:?}, want {:?}; logs in target/test-logs/{prefix}-*.log",
            expected.iter().map(|e| e.1).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The API over that database, following the run's topics.
    let listen = format!("127.0.0.1:{api_port}");
    let _api = spawn(
        &settings_path,
        &prefix,
        "api",
        &["api", "serve", "--api", &api_cfg, "--listen", &listen, "--topic-prefix", &topic_prefix],
    );
    let base = format!("http://{listen}");
    tokio::task::block_in_place(|| wait_http(&format!("{base}/healthz"), 60));
    let http = reqwest::Client::new();
    let from = (now_us() / 1000 - 6 * 3_600_000).to_string();
    let klines = api_items(
        &http,
        &base,
        "/api/v1/klines",
        &[
            ("venue", "okx".into()),
            ("instrument", INSTRUMENT.into()),
            ("interval", "1s".into()),
            ("from", from.clone()),
        ],
    )
    .await;
    assert_eq!(klines.len() as i64, per_venue, "the API's 1 s k-lines of okx over the last 6 h");
    let spreads =
        api_items(&http, &base, "/api/v1/spreads", &[("instrument", INSTRUMENT.into()), ("from", from.clone())]).await;
    assert!(spreads.len() >= 100, "{} spreads from the API", spreads.len());
    let divergence =
        api_items(&http, &base, "/api/v1/divergence", &[("instrument", INSTRUMENT.into()), ("from", from.clone())])
            .await;
    assert!(divergence.len() >= 100, "{} divergence points from the API", divergence.len());
    let summary = api_items(&http, &base, "/api/v1/quality/summary", &[]).await;
    let rows: BTreeMap<String, &Value> = summary
        .iter()
        .filter(|r| r["instrument"] == INSTRUMENT)
        .map(|r| (r["venue"].as_str().unwrap_or_default().to_string(), r))
        .collect();
    assert_eq!(rows.keys().map(String::as_str).collect::<Vec<_>>(), ["binance-usdm", "okx"], "{summary:?}");
    assert_eq!(int(&rows["okx"]["messages"]), 240 * MINUTES, "{:?}", rows["okx"]);
    // The firing alert: the API reads it from ClickHouse at start and follows the topic.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let active = api_items(&http, &base, "/api/v1/alerts", &[("state", "active".into())]).await;
        if active.iter().any(|a| a["rule"] == rule.as_str()) {
            break;
        }
        assert!(Instant::now() < deadline, "alert {rule} not active in the API: {active:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The page: as many candles as the API's k-lines, a spread line for the venue pair,
    // okx's divergence, the alert, and both venues' quality rows.
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e}"));
    // The whole dashboard in one screenshot.
    browser.set_viewport_size(1400, 1000).await.unwrap();
    let url = format!("{base}/?venue=okx&instrument={INSTRUMENT}&interval=1s");
    browser.goto(&url).await.unwrap();
    let drawn = format!(
        "document.body.dataset.ready === '1'
         && document.getElementById('chart-klines').dataset.points === '{n}'
         && document.getElementById('chart-klines').dataset.state === 'ok'
         && document.getElementById('chart-spreads').dataset.series === '1'
         && +document.getElementById('chart-spreads').dataset.points >= 100
         && document.getElementById('chart-divergence').dataset.series === '1'
         && +document.getElementById('chart-divergence').dataset.points >= 100
         && document.querySelector('#table-alerts tr[data-rule=\"{rule}\"][data-instrument=\"{INSTRUMENT}\"]') !== null
         && document.querySelectorAll('#table-quality tr[data-instrument=\"{INSTRUMENT}\"]').length === 2",
        n = klines.len()
    );
    let started = Instant::now();
    if let Err(e) = browser.wait_until(&drawn, Duration::from_secs(60)).await {
        panic!("{e}\n{}", page_state(&browser).await);
    }
    eprintln!(
        "the page drew {} candles after {:.1} s: {}",
        klines.len(),
        started.elapsed().as_secs_f64(),
        page_state(&browser).await
    );
    // The selectors show the query, filled from /api/v1/instruments.
    let selected = browser
        .eval("[document.getElementById('venue').value, document.getElementById('instrument').value, document.getElementById('interval').value, document.getElementById('venue').options.length]")
        .await
        .unwrap();
    assert_eq!(selected.as_array().unwrap()[..3], [json!("okx"), json!(INSTRUMENT), json!("1s")], "{selected}");
    assert!(selected[3].as_u64().unwrap() >= 2, "venues listed: {selected}");
    // No panel is in an error state, and the chart library drew on its canvases.
    let errors = browser.eval("document.querySelectorAll('.message.error:not([hidden])').length").await.unwrap();
    assert_eq!(errors, json!(0), "{}", page_state(&browser).await);
    let screenshot = repo_root().join("target/dashboard.png");
    let png = browser.screenshot(&screenshot).await.unwrap();
    let stats = png_stats(&png).unwrap();
    assert!(png.len() > 40_000, "a screenshot of {} bytes is too small to show the charts: {stats:?}", png.len());
    assert!(stats.colours >= 32 && stats.dominant_per_mille < 950, "the screenshot is nearly one colour: {stats:?}");
    eprintln!("screenshot: {} ({} bytes, {stats:?})", screenshot.display(), png.len());

    // Another interval from the selector: the chart reloads with the API's 1 m k-lines and
    // the address follows.
    let minutes = api_items(
        &http,
        &base,
        "/api/v1/klines",
        &[
            ("venue", "okx".into()),
            ("instrument", INSTRUMENT.into()),
            ("interval", "1m".into()),
            ("from", from.clone()),
        ],
    )
    .await;
    assert_eq!(minutes.len() as i64, MINUTES, "the API's 1 m k-lines of okx");
    browser
        .execute(
            "const s = document.getElementById('interval'); s.value = '1m'; \
             s.dispatchEvent(new Event('change', { bubbles: true }));",
            vec![],
        )
        .await
        .unwrap();
    let reloaded = format!(
        "document.getElementById('chart-klines').dataset.points === '{MINUTES}' && location.search.includes('interval=1m')"
    );
    if let Err(e) = browser.wait_until(&reloaded, Duration::from_secs(30)).await {
        panic!("{e}\n{}", page_state(&browser).await);
    }

    // Empty state: an instrument okx lists, with nothing in this database.
    browser.goto(&format!("{base}/?venue=okx&instrument=ETH-USDT&interval=1m")).await.unwrap();
    let empty =
        "document.body.dataset.ready === '1' && document.getElementById('chart-klines').dataset.state === 'empty'
        && document.getElementById('msg-klines').textContent";
    let text = match browser.wait_until(empty, Duration::from_secs(30)).await {
        Ok(t) => t,
        Err(e) => panic!("{e}\n{}", page_state(&browser).await),
    };
    assert!(text.as_str().unwrap().contains("no k-lines in the last 6 h"), "{text}");
    // Error state: the API's own message for a venue it does not know.
    let refused = http
        .get(format!("{base}/api/v1/klines"))
        .query(&[("venue", "nowhere"), ("instrument", INSTRUMENT), ("interval", "1m")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    let refusal: Value = refused.json().await.unwrap();
    let message = refusal["error"]["message"].as_str().unwrap().to_string();
    browser.goto(&format!("{base}/?venue=nowhere&instrument={INSTRUMENT}&interval=1m")).await.unwrap();
    let error =
        "document.body.dataset.ready === '1' && document.getElementById('chart-klines').dataset.state === 'error'
        && document.getElementById('msg-klines').textContent";
    let text = match browser.wait_until(error, Duration::from_secs(30)).await {
        Ok(t) => t,
        Err(e) => panic!("{e}\n{}", page_state(&browser).await),
    };
    assert!(text.as_str().unwrap().contains(&message), "the panel shows {text}, the API said {message}");
    browser.quit().await.unwrap();
    let _ = ch.execute(&format!("DROP DATABASE IF EXISTS `{db}`")).await;
}
