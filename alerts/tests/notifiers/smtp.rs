//! A real SMTP server for the e-mail channel: Python's aiosmtpd from the project's venv
//! (installed by `make setup`), with a small handler that writes each message it accepts
//! to a directory as JSON (envelope, headers, decoded body), so the test reads what a mail
//! client would show rather than raw MIME.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tickwatch_testkit::{free_port, repo_root, unique, ChildGuard};

const HANDLER: &str = r#"
import email, email.policy, json, pathlib

class Capture:
    """Writes each message as <n>.json: envelope, headers and the decoded text body."""

    def __init__(self, out_dir):
        self.out = pathlib.Path(out_dir)
        self.count = 0

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 1:
            parser.error("tw_capture.Capture takes the output directory")
        return cls(args[0])

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content or envelope.content,
                                       policy=email.policy.default)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "content_type": msg.get_content_type(),
            "body": msg.get_content(),
        }
        tmp = self.out / f".{self.count}.tmp"
        tmp.write_text(json.dumps(record))
        tmp.rename(self.out / f"{self.count}.json")  # whole files only
        self.count += 1
        return "250 Message accepted for delivery"
"#;

pub struct SmtpServer {
    pub port: u16,
    dir: PathBuf,
    _child: ChildGuard,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        let python = python();
        let check = Command::new(&python).args(["-c", "import aiosmtpd"]).output();
        match check {
            Ok(out) if out.status.success() => {}
            _ => panic!(
                "aiosmtpd is not installed for {} (the venv that scripts/setup.sh builds); run `make setup`",
                python.display()
            ),
        }
        let dir = std::env::temp_dir().join(unique("tw-smtp"));
        let mail = dir.join("mail");
        std::fs::create_dir_all(&mail).expect("mail directory");
        std::fs::write(dir.join("tw_capture.py"), HANDLER).expect("write the handler");
        let port = free_port();
        let log = std::fs::File::create(dir.join("aiosmtpd.log")).expect("log file");
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "tw_capture.Capture"])
            .arg(&mail)
            .env("PYTHONPATH", &dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}; run `make setup`", python.display()));
        let mut child = ChildGuard(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.0.try_wait() {
                let log = std::fs::read_to_string(dir.join("aiosmtpd.log")).unwrap_or_default();
                panic!("aiosmtpd exited ({status}):\n{log}");
            }
            assert!(Instant::now() < deadline, "aiosmtpd did not listen on {port} within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer { port, dir, _child: child }
    }

    /// The `n`th message received (from 0), as the handler wrote it.
    pub fn message(&self, n: usize) -> serde_json::Value {
        let path = self.dir.join("mail").join(format!("{n}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("message {n} was not received ({}): {e}", path.display()));
        serde_json::from_str(&text).expect("the handler writes JSON")
    }

    pub fn received(&self) -> usize {
        std::fs::read_dir(self.dir.join("mail"))
            .map(|d| d.filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == "json")).count())
            .unwrap_or(0)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The project's Python: `TW_PYTHON` if set, else the one `make stack-up` wrote to
/// `.stack/env`, else the venv path `scripts/lib.sh` gives (what `make setup` creates).
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("TW_PYTHON") {
        return PathBuf::from(p);
    }
    let env_file = repo_root().join(".stack/env");
    if let Some(p) = std::fs::read_to_string(env_file)
        .ok()
        .and_then(|text| text.lines().find_map(|l| l.strip_prefix("TW_PYTHON=").map(str::to_string)))
    {
        return PathBuf::from(p);
    }
    let lib = repo_root().join("scripts/lib.sh");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && printf %s \"$VENV/bin/python\"", shell_quote(&lib)))
        .output()
        .expect("bash is installed");
    PathBuf::from(String::from_utf8(out.stdout).expect("a UTF-8 path"))
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}
