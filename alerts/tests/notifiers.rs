//! The notification channels against real receivers: an HTTP server of the test's own for the
//! Slack and Lark webhooks, and aiosmtpd (a real SMTP server) for e-mail.

#[path = "notifiers/logs.rs"]
mod logs;
#[path = "notifiers/receiver.rs"]
mod receiver;
#[path = "notifiers/smtp.rs"]
mod smtp;

use base64::Engine;
use hmac::{KeyInit, Mac};
use receiver::{Receiver, Reply};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use tickwatch_alerts::notify::{ChannelName, Channels, Notification, NotifiersConfig, NotifyError, StatsSnapshot};
use tickwatch_model::{Alert, AlertSeverity, AlertState};

/// Two alerts of one group: one firing P1 with value and threshold, one resolved P2.
fn notification() -> Notification {
    let firing = Alert {
        fingerprint: "fp-1".into(),
        rule: "spread-btc".into(),
        severity: AlertSeverity::P1,
        state: AlertState::Firing,
        venue: Some("binance".into()),
        instrument: Some("BTC-USDT".into()),
        value: Some(12.5),
        threshold: Some(10.0),
        summary: "BTC-USDT spread 12.5 bps above 10".into(),
        labels: BTreeMap::from([("instrument".into(), "BTC-USDT".into())]),
        started_at_us: 1_767_323_045_000_000, // 2026-01-02 03:04:05 UTC
        emitted_at_us: 1_767_323_046_000_000,
    };
    let resolved = Alert {
        fingerprint: "fp-2".into(),
        rule: "stale-feed".into(),
        severity: AlertSeverity::P2,
        state: AlertState::Resolved,
        venue: Some("okx".into()),
        instrument: None,
        value: None,
        threshold: Some(30.0),
        summary: "okx trades flowing again".into(),
        labels: BTreeMap::new(),
        started_at_us: 1_767_322_800_000_000, // 2026-01-02 03:00:00 UTC
        emitted_at_us: 1_767_323_046_000_000,
    };
    Notification {
        group: "spread-btc/BTC-USDT".into(),
        severity: AlertSeverity::P1,
        alerts: vec![firing, resolved],
        reminder: false,
    }
}

fn channels(yaml: &str) -> Channels {
    let cfg: NotifiersConfig = serde_yaml::from_str(yaml).expect("notifier settings parse");
    Channels::from_config(&cfg, Path::new("alerts.yaml")).expect("channels build")
}

fn stats(sent: u64, failed: u64, attempts: u64) -> Option<StatsSnapshot> {
    Some(StatsSnapshot { sent, failed, attempts })
}

#[tokio::test]
async fn slack_gets_every_alert_with_severity_value_and_threshold() {
    let mut slack = Receiver::start(vec![], Reply::slack_ok()).await;
    let url = format!("{}/services/T0/B0/tok", slack.base_url);
    let channels = channels(&format!("slack: {{webhook_url: {{value: '{url}'}}}}"));

    let results = channels.deliver(&notification(), &[ChannelName::Slack, ChannelName::Email]).await;
    assert!(
        matches!(&results[..], [(ChannelName::Email, Err(NotifyError::NotConfigured)), (ChannelName::Slack, Ok(()))]),
        "{results:?}"
    );

    let got = slack.next().await;
    assert_eq!(got.path, "/services/T0/B0/tok");
    let text = got.body["text"].as_str().expect("fallback text");
    assert!(text.starts_with("FIRING P1 spread-btc/BTC-USDT\n"), "{text}");
    let blocks = got.body["blocks"].as_array().expect("blocks");
    assert_eq!(blocks.len(), 3, "a header and one section per alert: {blocks:?}");
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["text"], "FIRING P1 spread-btc/BTC-USDT");
    assert_eq!(blocks[1]["type"], "section");
    assert_eq!(blocks[1]["text"]["type"], "mrkdwn");
    assert_eq!(
        blocks[1]["text"]["text"],
        "*FIRING* P1 *spread-btc* · binance BTC-USDT · value 12.5 vs threshold 10 · since 2026-01-02 03:04:05 UTC\n\
         BTC-USDT spread 12.5 bps above 10"
    );
    assert_eq!(
        blocks[2]["text"]["text"],
        "*RESOLVED* P2 *stale-feed* · okx · threshold 30 · since 2026-01-02 03:00:00 UTC\nokx trades flowing again"
    );
    for line in ["FIRING P1 spread-btc · binance BTC-USDT · value 12.5 vs threshold 10", "RESOLVED P2 stale-feed"] {
        assert!(text.contains(line), "{line} missing from {text}");
    }
    assert_eq!(channels.stats(ChannelName::Slack), stats(1, 0, 1));
    assert_eq!(channels.stats(ChannelName::Email), None);
}

#[tokio::test]
async fn lark_card_is_signed_with_the_bot_secret() {
    let mut lark = Receiver::start(vec![], Reply::lark_ok()).await;
    let secret = "lark-bot-secret";
    let channels = channels(&format!(
        "lark: {{webhook_url: {{value: '{}/open-apis/bot/v2/hook/abc'}}, secret: {{value: {secret}}}}}",
        lark.base_url
    ));

    let results = channels.deliver(&notification(), &[ChannelName::Lark]).await;
    assert!(matches!(&results[..], [(ChannelName::Lark, Ok(()))]), "{results:?}");

    let got = lark.next().await;
    assert_eq!(got.path, "/open-apis/bot/v2/hook/abc");
    assert_eq!(got.body["msg_type"], "interactive");
    let card = &got.body["card"];
    assert_eq!(card["header"]["title"]["content"], "FIRING P1 spread-btc/BTC-USDT");
    assert_eq!(card["header"]["template"], "red", "a firing P1 is red");
    let elements = card["elements"].as_array().expect("card elements");
    assert_eq!(elements.len(), 2);
    let first = elements[0]["text"]["content"].as_str().unwrap();
    assert!(first.contains("**FIRING** P1 **spread-btc**") && first.contains("value 12.5 vs threshold 10"), "{first}");

    // The signature, checked independently: HMAC-SHA256 keyed with "timestamp\nsecret" over
    // nothing, base64.
    let timestamp = got.body["timestamp"].as_str().expect("timestamp is a string");
    let sign = got.body["sign"].as_str().expect("sign");
    let raw = base64::engine::general_purpose::STANDARD.decode(sign).expect("sign is base64");
    let verify = |key: &str| {
        hmac::Hmac::<sha2::Sha256>::new_from_slice(format!("{timestamp}\n{key}").as_bytes()).unwrap().verify_slice(&raw)
    };
    assert!(verify(secret).is_ok(), "the signature verifies with the bot secret");
    assert!(verify("another-secret").is_err(), "and only with it");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let ts: u64 = timestamp.parse().expect("timestamp in seconds");
    assert!(now.abs_diff(ts) < 3600, "Lark refuses a timestamp over an hour off: {ts} vs {now}");
}

#[tokio::test]
async fn a_lark_refusal_with_http_200_is_a_failure_with_its_message() {
    let refusal =
        Reply::new(200, r#"{"code":19021,"msg":"sign match fail or timestamp is not within one hour","data":{}}"#);
    let lark = Receiver::start(vec![], refusal).await;
    let channels = channels(&format!("lark: {{webhook_url: {{value: '{}/hook'}}}}", lark.base_url));

    let mut results = channels.deliver(&notification(), &[ChannelName::Lark]).await;
    let (name, result) = results.pop().unwrap();
    assert_eq!(name, ChannelName::Lark);
    let err = result.unwrap_err();
    assert!(
        matches!(&err, NotifyError::GaveUp { attempts: 1, last } if matches!(**last, NotifyError::Lark { code: 19021, .. })),
        "a refused message is not retried: {err:?}"
    );
    assert!(err.to_string().contains("sign match fail"), "{err}");
    assert_eq!(lark.seen().len(), 1);
    assert_eq!(channels.stats(ChannelName::Lark), stats(0, 1, 1));
}

#[tokio::test]
async fn a_failing_receiver_is_retried_until_it_accepts() {
    let logs = logs::capture();
    let slack = Receiver::start(vec![Reply::new(500, "oops"), Reply::too_many(1)], Reply::slack_ok()).await;
    let channels = channels(&format!(
        "retry: {{attempts: 5, initial_backoff: 10ms, max_backoff: 20ms}}\n\
         slack: {{webhook_url: {{value: '{}/services/T0/B0/tok'}}}}",
        slack.base_url
    ));

    let results = channels.deliver(&notification(), &[ChannelName::Slack]).await;
    assert!(matches!(&results[..], [(ChannelName::Slack, Ok(()))]), "{results:?}");

    let seen = slack.seen();
    let answered: Vec<u16> = seen.iter().map(|c| c.answered).collect();
    assert_eq!(answered, [500, 429, 200], "delivered once, on the third attempt");
    assert!(seen.iter().all(|c| c.body == seen[0].body), "every attempt sends the same message");
    assert_eq!(channels.stats(ChannelName::Slack), stats(1, 0, 3));
    // Retry-After (1 s) wins over the backoff (at most 20 ms). The sleep starts after the
    // 429 left the receiver, so this lower bound holds on any machine.
    assert!(seen[2].at - seen[1].at >= Duration::from_secs(1), "{:?}", seen[2].at - seen[1].at);
    let warns = logs.lines_with("notification attempt failed");
    assert_eq!(warns.len(), 2, "one warn line per failed attempt: {warns:?}");
    assert!(warns[0].contains("retry_in_ms=10 ") && warns[0].contains("HTTP 500"), "{}", warns[0]);
    assert!(warns[1].contains("retry_in_ms=1000") && warns[1].contains("HTTP 429"), "{}", warns[1]);
}

#[tokio::test]
async fn a_dead_channel_does_not_hold_up_the_others() {
    let logs = logs::capture();
    let lark = Receiver::start(vec![], Reply::lark_ok()).await;
    // Nothing listens on this port: every Slack attempt is refused.
    let dead_url = format!("http://127.0.0.1:{}/services/T0/B0/SECRET-TOKEN-93", tickwatch_testkit::free_port());
    let channels = channels(&format!(
        "retry: {{attempts: 3, initial_backoff: 400ms, max_backoff: 1s}}\n\
         slack: {{webhook_url: {{value: '{dead_url}'}}}}\n\
         lark: {{webhook_url: {{value: '{}/hook'}}}}",
        lark.base_url
    ));

    // Slack is named first: a channel-by-channel delivery would finish it first.
    let results = channels.deliver(&notification(), &[ChannelName::Slack, ChannelName::Lark]).await;
    let order: Vec<ChannelName> = results.iter().map(|(name, _)| *name).collect();
    assert_eq!(order, [ChannelName::Lark, ChannelName::Slack], "results come as channels finish: {results:?}");
    assert!(results[0].1.is_ok(), "{results:?}");
    let err = results[1].1.as_ref().unwrap_err();
    assert!(
        matches!(err, NotifyError::GaveUp { attempts: 3, last } if matches!(**last, NotifyError::Request(_))),
        "{err:?}"
    );
    assert_eq!(lark.seen().len(), 1);
    assert_eq!(channels.stats(ChannelName::Lark), stats(1, 0, 1));
    assert_eq!(channels.stats(ChannelName::Slack), stats(0, 1, 3));

    // One warn per failed attempt but the last, then one error; never the webhook URL.
    assert_eq!(logs.lines_with("notification attempt failed").len(), 2);
    let gave_up = logs.lines_with("notification not delivered");
    assert_eq!(gave_up.len(), 1, "{gave_up:?}");
    assert!(gave_up[0].contains("ERROR") && gave_up[0].contains("channel=slack"), "{}", gave_up[0]);
    let all = logs.text();
    assert!(!all.contains("SECRET-TOKEN") && !all.contains("/services/"), "a webhook URL was logged:\n{all}");
    assert!(!err.to_string().contains("SECRET-TOKEN"), "{err}");
}

#[tokio::test]
async fn email_arrives_with_subject_recipients_and_body() {
    let server = smtp::SmtpServer::start();
    let channels = channels(&format!(
        "email:\n  smtp_host: 127.0.0.1\n  smtp_port: {}\n  tls: none\n  \
         from: 'tickwatch <alerts@tickwatch.test>'\n  to: [oncall@tickwatch.test, 'Desk <desk@tickwatch.test>']",
        server.port
    ));

    let results = channels.deliver(&notification(), &[ChannelName::Email]).await;
    assert!(matches!(&results[..], [(ChannelName::Email, Ok(()))]), "{results:?}");

    assert_eq!(server.received(), 1);
    let mail = server.message(0);
    assert_eq!(mail["subject"], "[tickwatch] FIRING P1 spread-btc/BTC-USDT");
    assert_eq!(mail["mail_from"], "alerts@tickwatch.test");
    assert_eq!(mail["rcpt_tos"], serde_json::json!(["oncall@tickwatch.test", "desk@tickwatch.test"]));
    assert_eq!(mail["from"], "tickwatch <alerts@tickwatch.test>");
    assert_eq!(mail["content_type"], "text/plain");
    // Mail lines end in CRLF on the wire.
    let body = mail["body"].as_str().expect("a text body").replace("\r\n", "\n");
    for line in [
        "FIRING P1 spread-btc/BTC-USDT\n",
        "FIRING P1 spread-btc\n  binance BTC-USDT · value 12.5 vs threshold 10 · since 2026-01-02 03:04:05 UTC\n  \
         BTC-USDT spread 12.5 bps above 10\n  labels: instrument=BTC-USDT\n",
        "RESOLVED P2 stale-feed\n  okx · threshold 30 · since 2026-01-02 03:00:00 UTC\n  okx trades flowing again\n",
    ] {
        assert!(body.contains(line), "{line:?} missing from the body:\n{body}");
    }
    assert_eq!(channels.stats(ChannelName::Email), stats(1, 0, 1));
}
