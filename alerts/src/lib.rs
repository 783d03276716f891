//! Alerts: the rule engine turns the `signals` topic into alert state changes on the `alerts`
//! topic (rules in `config/alerts.yaml`), and the notifier turns those into Slack, Lark and
//! e-mail messages, grouped, rate-limited and silenced.

pub mod dispatch;
pub mod engine;
pub mod engine_run;
pub mod notify;
pub mod notify_run;
pub mod rules;
pub mod silences;
