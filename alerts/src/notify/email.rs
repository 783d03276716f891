//! E-mail over SMTP (lettre): a plain-text message to every configured address, subject
//! `"{prefix} {FIRING|RESOLVED} {severity} {group}"`.

use super::config::{EmailConfig, SmtpTls, PREFIX};
use super::error::NotifyError;
use super::render::{headline, title, AlertText};
use super::secret::SecretValue;
use super::Notification;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::Path;
use tickwatch_runtime::ConfigError;

pub(crate) struct EmailChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    subject_prefix: String,
}

impl EmailChannel {
    /// `credentials` are the resolved username and password; `path` is the settings file,
    /// for error messages.
    pub fn new(
        cfg: &EmailConfig,
        credentials: Option<(SecretValue, SecretValue)>,
        path: &Path,
    ) -> Result<EmailChannel, ConfigError> {
        let field = |f: &str| format!("{PREFIX}.email.{f}");
        let host = cfg.smtp_host.trim();
        let tls_for = |host: &str| {
            TlsParameters::new(host.to_string())
                .map_err(|e| ConfigError::field(path, field("tls"), format!("cannot set up TLS for {host}: {e}")))
        };
        let tls = match cfg.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => Tls::Required(tls_for(host)?),
            SmtpTls::Tls => Tls::Wrapper(tls_for(host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(cfg.port())
            .tls(tls)
            .timeout(Some(cfg.timeout.get()));
        if let Some((user, password)) = credentials {
            builder = builder.credentials(Credentials::new(user.expose().to_string(), password.expose().to_string()));
        }
        let mailbox = |at: String, text: &str| {
            text.parse::<Mailbox>()
                .map_err(|e| ConfigError::field(path, field(&at), format!("`{text}` is not an e-mail address: {e}")))
        };
        Ok(EmailChannel {
            transport: builder.build(),
            from: mailbox("from".into(), &cfg.from)?,
            to: cfg.to.iter().enumerate().map(|(i, to)| mailbox(format!("to[{i}]"), to)).collect::<Result<_, _>>()?,
            subject_prefix: cfg.subject_prefix.clone(),
        })
    }

    pub async fn send(&self, n: &Notification) -> Result<(), NotifyError> {
        let message = self.message(n)?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) => Err(NotifyError::Smtp { message: e.to_string(), permanent: e.is_permanent() }),
        }
    }

    fn message(&self, n: &Notification) -> Result<Message, NotifyError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(subject(&self.subject_prefix, n))
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder.body(body(n)).map_err(|e| NotifyError::Message(e.to_string()))
    }
}

/// `[tickwatch] FIRING P1 spread-btc/BTC-USDT`.
pub fn subject(prefix: &str, n: &Notification) -> String {
    if prefix.is_empty() {
        headline(n)
    } else {
        format!("{prefix} {}", headline(n))
    }
}

/// The plain-text body: the title, then each alert as a short paragraph.
pub fn body(n: &Notification) -> String {
    let mut out = format!("{}\n", title(n));
    if n.reminder {
        out.push_str("These alerts were notified before and are still as shown.\n");
    }
    for a in &n.alerts {
        let t = AlertText::of(a);
        out.push_str(&format!("\n{} {} {}\n  {}\n  {}\n", t.state, t.severity, t.rule, t.details(), t.summary));
        if !a.labels.is_empty() {
            let labels: Vec<String> = a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("  labels: {}\n", labels.join(", ")));
        }
    }
    out
}
