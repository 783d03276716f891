//! The rule engine's state machine over scripted signal sequences.

use std::path::Path;
use tickwatch_alerts::engine::{Engine, EngineState};
use tickwatch_alerts::rules::AlertsFile;
use tickwatch_model::{Alert, AlertSeverity, AlertState, Signal};

const RULES: &str = r#"
defaults: {severity: P2}
rules:
  - name: spread-btc
    when: spread(binance, okx, BTC-USDT) > 10 bps for 5s
    severity: P1
  - name: any-divergence
    when: divergence(*, *) > band for 2s
    bands:
      default: {normal_bps: 5, buffer_bps: 5}
      feeds: {"okx/BTC-USDT-PERP": {normal_bps: 20, buffer_bps: 10}}
  - name: golden-cross
    when: ema_cross(*, *, 1m) crosses up
  - name: loss
    when: loss(*, *, depth) > 1 %
  - name: off
    when: gaps(*, *) > 0
    enabled: false
"#;

fn engine() -> Engine {
    let file = AlertsFile::parse(Path::new("alerts.yaml"), RULES).unwrap();
    Engine::new(&file, EngineState::default())
}

const T0: i64 = 1_764_000_000_000_000;

fn signal(kind: &str, venue: &str, venue_b: Option<&str>, instrument: &str, value: f64, at_s: f64) -> Signal {
    Signal {
        kind: kind.into(),
        venue: venue.into(),
        venue_b: venue_b.map(Into::into),
        instrument: instrument.into(),
        channel: (kind == "loss" || kind == "gaps").then(|| "depth".to_string()),
        interval: (kind == "ema_cross").then(|| "1m".to_string()),
        value,
        unit: "bps".into(),
        at_us: T0 + (at_s * 1e6) as i64,
        emitted_at_us: 0,
    }
}

fn spread(value: f64, at_s: f64) -> Signal {
    signal("spread", "binance", Some("okx"), "BTC-USDT", value, at_s)
}

fn states(alerts: &[Alert]) -> Vec<(String, AlertState)> {
    alerts.iter().map(|a| (a.fingerprint.clone(), a.state)).collect()
}

#[test]
fn a_spread_fires_after_holding_for_its_duration_once_and_resolves_once() {
    let mut e = engine();
    let mut all = Vec::new();
    // 12 bps from t=0, a dip at t=3 restarts the clock, then 12..15 bps from t=4 on.
    for (v, t) in [(12.0, 0.0), (-13.0, 1.0), (9.0, 3.0), (12.0, 4.0), (14.0, 6.0), (15.0, 8.9)] {
        all.extend(e.on_signal(&spread(v, t)));
    }
    assert!(all.is_empty(), "held only 4.9 s since the dip: {all:?}");
    all.extend(e.on_signal(&spread(-11.0, 9.0)));
    assert_eq!(states(&all), vec![("spread-btc/binance/okx/BTC-USDT".into(), AlertState::Firing)]);
    let fired = &all[0];
    assert_eq!(
        (fired.severity, fired.started_at_us, fired.emitted_at_us),
        (AlertSeverity::P1, T0 + 4_000_000, T0 + 9_000_000)
    );
    assert_eq!((fired.value, fired.threshold), (Some(11.0), Some(10.0)), "spreads compare by size");
    assert!(fired.summary.contains("spread(binance, okx, BTC-USDT) > 10 bps for 5s"), "{}", fired.summary);
    // Still above: no second FIRING. Then below: one RESOLVED with the same start.
    assert!(e.on_signal(&spread(20.0, 10.0)).is_empty());
    let resolved = e.on_signal(&spread(2.0, 11.0));
    assert_eq!(states(&resolved), vec![(fired.fingerprint.clone(), AlertState::Resolved)]);
    assert_eq!(resolved[0].started_at_us, fired.started_at_us);
    assert!(e.on_signal(&spread(1.0, 12.0)).is_empty());
    assert!(e.firing().is_empty());
}

#[test]
fn the_duration_completes_on_the_kinds_clock_when_the_series_stops_updating() {
    let mut e = engine();
    assert!(e.on_signal(&spread(30.0, 0.0)).is_empty());
    // Another pair's spread moves the spread clock past 5 s.
    let other = signal("spread", "binance", Some("bybit"), "BTC-USDT", 1.0, 5.5);
    let fired = e.on_signal(&other);
    assert_eq!(states(&fired), vec![("spread-btc/binance/okx/BTC-USDT".into(), AlertState::Firing)]);
    assert_eq!(fired[0].emitted_at_us, T0 + 5_000_000, "stamped when the duration completed");
}

#[test]
fn replays_and_out_of_order_signals_change_nothing() {
    let mut e = engine();
    e.on_signal(&spread(30.0, 0.0));
    let fired = e.on_signal(&spread(30.0, 5.0));
    assert_eq!(fired.len(), 1);
    let saved = e.state.clone();
    // A restart restores the state and the broker replays the last signals.
    let file = AlertsFile::parse(Path::new("alerts.yaml"), RULES).unwrap();
    let mut e = Engine::new(&file, serde_json::from_str(&serde_json::to_string(&saved).unwrap()).unwrap());
    assert!(e.on_signal(&spread(30.0, 0.0)).is_empty());
    assert!(e.on_signal(&spread(30.0, 5.0)).is_empty());
    assert!(e.on_signal(&spread(0.0, 4.0)).is_empty(), "older than the last applied");
    assert_eq!(e.firing(), vec!["spread-btc/binance/okx/BTC-USDT"]);
}

#[test]
fn divergence_uses_each_feeds_band_and_wildcards_split_by_series() {
    let mut e = engine();
    let d = |venue: &str, inst: &str, v: f64, t: f64| signal("divergence", venue, None, inst, v, t);
    let mut all = Vec::new();
    for t in [0.0, 1.0, 2.0] {
        all.extend(e.on_signal(&d("binance-usdm", "BTC-USDT-PERP", 11.0, t))); // band 10
        all.extend(e.on_signal(&d("okx", "BTC-USDT-PERP", 25.0, t))); // band 30
        all.extend(e.on_signal(&d("bybit", "XRP-USDT-PERP", 10.0, t))); // not > 10
    }
    assert_eq!(states(&all), vec![("any-divergence/binance-usdm/BTC-USDT-PERP".into(), AlertState::Firing)]);
    assert_eq!(all[0].threshold, Some(10.0));
    assert_eq!(all[0].severity, AlertSeverity::P2, "the default severity");
}

#[test]
fn crossovers_fire_on_the_cross_up_and_resolve_on_the_cross_down() {
    let mut e = engine();
    let x = |v: f64, t: f64| signal("ema_cross", "okx", None, "BTC-USDT", v, t);
    assert!(e.on_signal(&x(-1.0, 0.0)).is_empty());
    assert_eq!(states(&e.on_signal(&x(1.0, 60.0))), vec![("golden-cross/okx/BTC-USDT/1m".into(), AlertState::Firing)]);
    assert_eq!(
        states(&e.on_signal(&x(-1.0, 120.0))),
        vec![("golden-cross/okx/BTC-USDT/1m".into(), AlertState::Resolved)]
    );
}

#[test]
fn quality_rules_match_their_channel_and_disabled_rules_never_fire() {
    let mut e = engine();
    let mut depth = signal("loss", "okx", None, "BTC-USDT", 2.5, 60.0);
    let fired = e.on_signal(&depth);
    assert_eq!(states(&fired), vec![("loss/okx/BTC-USDT/depth".into(), AlertState::Firing)]);
    depth.channel = Some("trades".into());
    depth.at_us += 60_000_000;
    assert!(e.on_signal(&depth).is_empty(), "trades is not depth");
    let gaps = signal("gaps", "okx", None, "BTC-USDT", 5.0, 60.0);
    assert!(e.on_signal(&gaps).is_empty());
}

#[test]
fn a_bad_rule_file_is_refused_with_the_line_and_the_reason() {
    let bad = |text: &str| AlertsFile::parse(Path::new("alerts.yaml"), text).unwrap_err().to_string();
    let e = bad("rules:\n  - name: a\n    when: spread(binance, okx) > 10 bps\n");
    assert!(e.contains("rules[0].when") && e.contains("spread takes") && e.contains("line 3"), "{e}");
    let e = bad("rules:\n  - name: a\n    when: gaps(*, *) > 1\n  - name: a\n    when: gaps(*, *) > 2\n");
    assert!(e.contains("rules[1].name") && e.contains("unique") && e.contains("line 4"), "{e}");
    let e = bad("rules:\n  - name: d\n    when: divergence(*, *) > band\n");
    assert!(e.contains("bands"), "{e}");
    let e = bad("rules:\n  - name: a\n    when: gaps(*, *) > 1\n    severity: P7\n");
    assert!(e.contains("rules[0].severity") && e.contains("line 4"), "{e}");
    let e = bad("rules:\n  - name: a\n    when: gaps(*, *) > 1\n    notify: [pager]\n");
    assert!(e.contains("unknown channel `pager`"), "{e}");
    let e = bad("rules:\n  - name: a\n    when: gaps(*, *) > 1\n    group_by: [desk]\n");
    assert!(e.contains("`desk` is not a label"), "{e}");
}
