//! The `notifiers:` settings as a user writes them: the documented block parses, defaults
//! apply, and every mistake is reported by field (and variable or file), never by value.

use super::config::{HumanDuration, SmtpTls};
use super::{ChannelName, Channels, NotifiersConfig};
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;
use tickwatch_runtime::config_error::parse_yaml;

/// The block documented for `config/alerts.yaml`.
const DOCUMENTED: &str = r#"
notifiers:
  # How each channel retries a notification it could not deliver: `attempts` tries in all,
  # waiting `initial_backoff`, doubling up to `max_backoff`; a 429's Retry-After is honoured
  # instead. A channel may set its own `retry:` with the same keys.
  retry:
    attempts: 5
    initial_backoff: 500ms
    max_backoff: 30s

  # Secrets (webhook URLs carry their token) are never written here: {env: VARIABLE} or
  # {file: /path/to/file} (its trailing newline is dropped); they are read at startup, and a
  # missing variable or file stops it with the field's name. Leave a channel out to disable it.
  slack:
    # Incoming webhook of the alerts channel (Slack app → Incoming Webhooks).
    webhook_url: {env: TICKWATCH_SLACK_WEBHOOK_URL}
    # Longest wait for one request (default 5s).
    timeout: 5s

  lark:
    # Custom bot webhook of the group (Group settings → Bots → Custom bot), Lark or Feishu.
    webhook_url: {env: TICKWATCH_LARK_WEBHOOK_URL}
    # The bot's signing secret when its security settings use signature verification;
    # leave out otherwise.
    secret: {env: TICKWATCH_LARK_SECRET}
    timeout: 5s

  email:
    smtp_host: smtp.example.com
    # Default by tls: 25 (none), 587 (starttls), 465 (tls).
    smtp_port: 587
    # none | starttls (default; refuses to send if the server cannot upgrade) | tls (SMTPS).
    tls: starttls
    # Both or neither (a relay that takes mail without login).
    username: {env: TICKWATCH_SMTP_USERNAME}
    password: {file: /run/secrets/tickwatch-smtp-password}
    from: "tickwatch <alerts@example.com>"
    to: [oncall@example.com]
    # Subject: "<prefix> FIRING|RESOLVED <severity> <group>" (default "[tickwatch]").
    subject_prefix: "[tickwatch]"
    # Longest wait for each SMTP command (default 10s).
    timeout: 10s
"#;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    notifiers: NotifiersConfig,
}

fn parse(text: &str) -> Result<NotifiersConfig, String> {
    parse_yaml::<File>(Path::new("alerts.yaml"), text).map(|f| f.notifiers).map_err(|e| e.to_string())
}

fn build(text: &str) -> Result<Channels, String> {
    Channels::from_config(&parse(text)?, Path::new("alerts.yaml")).map_err(|e| e.to_string())
}

#[test]
fn the_documented_block_parses() {
    let cfg = parse(DOCUMENTED).unwrap();
    assert_eq!(cfg.configured(), ChannelName::ALL.to_vec());
    assert_eq!(cfg.retry.attempts, 5);
    let email = cfg.email.as_ref().unwrap();
    assert_eq!((email.tls, email.port()), (SmtpTls::Starttls, 587));
    cfg.validate(Path::new("alerts.yaml")).unwrap();
}

#[test]
fn defaults_fill_what_is_left_out() {
    let cfg = parse(
        "notifiers:\n  slack: {webhook_url: {env: X}}\n  email: {smtp_host: h, from: a@b.c, to: [d@e.f], tls: tls}",
    )
    .unwrap();
    assert_eq!(cfg.slack.as_ref().unwrap().timeout, HumanDuration(Duration::from_secs(5)));
    assert_eq!(cfg.retry.initial_backoff, HumanDuration(Duration::from_millis(500)));
    assert_eq!(cfg.retry.max_backoff, HumanDuration(Duration::from_secs(30)));
    let email = cfg.email.as_ref().unwrap();
    assert_eq!((email.port(), email.subject_prefix.as_str()), (465, "[tickwatch]"));
    assert_eq!(cfg.configured(), vec![ChannelName::Slack, ChannelName::Email]);
}

#[test]
fn parse_errors_name_the_field() {
    let cases = [
        ("notifiers:\n  slack: {webhook: {env: X}}", "notifiers.slack.webhook"),
        ("notifiers:\n  retry: {initial_backoff: 5 seconds}", "notifiers.retry.initial_backoff"),
        ("notifiers:\n  email: {smtp_host: h, from: a@b.c, to: [x@y.z], tls: ssl}", "notifiers.email.tls"),
        ("notifiers:\n  lark: {webhook_url: {env: A, value: b}}", "notifiers.lark.webhook_url"),
        ("notifiers:\n  teams: {}", "notifiers.teams"),
    ];
    for (text, field) in cases {
        let err = parse(text).unwrap_err();
        assert!(err.contains(&format!("field `{field}`")), "{text}: {err}");
    }
    let err = parse("notifiers:\n  retry: {max_backoff: 5 seconds}").unwrap_err();
    assert!(err.contains("`5 seconds` is not a duration"), "{err}");
}

#[test]
fn check_errors_name_the_field() {
    let cases = [
        ("notifiers:\n  retry: {attempts: 0}", "notifiers.retry.attempts"),
        (
            "notifiers:\n  slack: {webhook_url: {env: X}, retry: {initial_backoff: 1m, max_backoff: 1s}}",
            "notifiers.slack.retry.initial_backoff",
        ),
        ("notifiers:\n  email: {smtp_host: h, from: a@b.c, to: [x@y.z, not an address]}", "notifiers.email.to[1]"),
        ("notifiers:\n  email: {smtp_host: h, from: a@b.c, to: []}", "notifiers.email.to"),
        ("notifiers:\n  email: {smtp_host: h, from: nobody, to: [x@y.z]}", "notifiers.email.from"),
        (
            "notifiers:\n  email: {smtp_host: h, from: a@b.c, to: [x@y.z], username: {value: u}}",
            "notifiers.email.password",
        ),
    ];
    for (text, field) in cases {
        let err = parse(text).unwrap().validate(Path::new("alerts.yaml")).unwrap_err().to_string();
        assert!(err.contains(&format!("field `{field}`")), "{text}: {err}");
    }
}

#[test]
fn a_missing_secret_names_the_field_and_the_variable() {
    let var = "TICKWATCH_TEST_NO_SUCH_WEBHOOK_VARIABLE";
    let err = build(&format!("notifiers:\n  slack: {{webhook_url: {{env: {var}}}}}")).err().unwrap();
    assert!(err.contains("field `notifiers.slack.webhook_url`") && err.contains(var), "{err}");
    let err = build("notifiers:\n  lark: {webhook_url: {value: 'http://x/'}, secret: {file: /nonexistent/lark}}")
        .err()
        .unwrap();
    assert!(err.contains("field `notifiers.lark.secret`") && err.contains("/nonexistent/lark"), "{err}");
}

#[test]
fn a_bad_webhook_url_is_reported_without_its_value() {
    let err = build("notifiers:\n  slack: {webhook_url: {value: 'hooks.example/T0/B0/SECRETTOKEN'}}").err().unwrap();
    assert!(err.contains("field `notifiers.slack.webhook_url`") && err.contains("not an http"), "{err}");
    assert!(!err.contains("SECRETTOKEN"), "{err}");
}

#[test]
fn settings_print_without_their_secrets() {
    let cfg = parse(
        "notifiers:\n  lark: {webhook_url: {value: 'https://x/hook/TOKEN1'}, secret: {value: SIGNKEY}}\n  \
         email: {smtp_host: h, from: a@b.c, to: [x@y.z], username: {value: USER1}, password: {value: PASS1}}",
    )
    .unwrap();
    let printed = format!("{cfg:?}");
    for secret in ["TOKEN1", "SIGNKEY", "USER1", "PASS1"] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }
    assert!(printed.contains("***"));
}

#[test]
fn every_tls_mode_builds() {
    for tls in ["none", "starttls", "tls"] {
        let channels = build(&format!(
            "notifiers:\n  email: {{smtp_host: smtp.example.com, tls: {tls}, from: a@b.c, to: [x@y.z], \
             username: {{value: u}}, password: {{value: p}}}}"
        ))
        .unwrap_or_else(|e| panic!("{tls}: {e}"));
        assert_eq!(channels.configured(), vec![ChannelName::Email]);
    }
}
