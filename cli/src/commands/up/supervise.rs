//! Keeping `tickwatch up`'s processes running: each a child of this binary with its stderr in
//! its log file; one that exits is started again (at once if it ran a while, else after a
//! growing pause, so that a stage failing at start does not spin), and at the end each gets
//! SIGTERM and a while to finish what it holds.

use super::plan::Stage;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

struct Managed {
    stage: Stage,
    child: Option<Child>,
    started: Instant,
    /// Quick exits in a row (reset once a run lasts a minute).
    failures: u32,
    next_start: Option<Instant>,
}

pub struct Supervisor {
    exe: PathBuf,
    settings: PathBuf,
    log_dir: PathBuf,
    managed: Vec<Managed>,
}

impl Supervisor {
    pub fn new(exe: PathBuf, settings: PathBuf, log_dir: PathBuf) -> Supervisor {
        Supervisor { exe, settings, log_dir, managed: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.managed.len()
    }

    fn log_path(&self, stage: &Stage) -> PathBuf {
        self.log_dir.join(format!("{}.log", stage.name))
    }

    fn command(&self, stage: &Stage) -> std::io::Result<Command> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path(stage))?;
        let mut cmd = Command::new(&self.exe);
        cmd.arg("--config").arg(&self.settings).args(&stage.args).stdin(Stdio::null()).stderr(log);
        cmd.stdout(Stdio::null()).kill_on_drop(true);
        // SAFETY: prctl is async-signal-safe and touches nothing of the parent's memory. A
        // stage gets SIGTERM when `up` dies, even by SIGKILL, so none is left running alone.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Ok(cmd)
    }

    /// Start `stage` and keep it running.
    pub fn start(&mut self, stage: Stage) -> anyhow::Result<()> {
        let child = self
            .command(&stage)?
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start {} ({}): {e}", stage.name, self.exe.display()))?;
        tracing::info!(stage = %stage.name, log = %self.log_path(&stage).display(), "started");
        self.keep(stage, child);
        Ok(())
    }

    fn keep(&mut self, stage: Stage, child: Child) {
        self.managed.push(Managed {
            stage,
            child: Some(child),
            started: Instant::now(),
            failures: 0,
            next_start: None,
        });
    }

    /// Start `stage`, return the first line it prints on stdout (a fake venue's addresses),
    /// and keep it running.
    pub async fn start_and_read_line(&mut self, stage: Stage) -> anyhow::Result<String> {
        let mut cmd = self.command(&stage)?;
        let mut child =
            cmd.stdout(Stdio::piped()).spawn().map_err(|e| anyhow::anyhow!("cannot start {}: {e}", stage.name))?;
        let stdout = child.stdout.take().expect("piped");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line()).await;
        let line = match line {
            Ok(Ok(Some(l))) => l,
            _ => anyhow::bail!("{} said nothing; see {}", stage.name, self.log_path(&stage).display()),
        };
        // The rest of its stdout is read and dropped, so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        tracing::info!(stage = %stage.name, %line, "started");
        self.keep(stage, child);
        Ok(line)
    }

    /// Watch the children until Ctrl-C or SIGTERM, then stop them all.
    pub async fn run_until_stopped(mut self) {
        let stop = crate::commands::shutdown_signal();
        tokio::pin!(stop);
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = tick.tick() => self.check(),
            }
        }
        self.stop_all().await;
    }

    fn check(&mut self) {
        let now = Instant::now();
        for i in 0..self.managed.len() {
            let exited = match self.managed[i].child.as_mut().map(Child::try_wait) {
                Some(Ok(Some(status))) => Some(status.to_string()),
                Some(Err(e)) => Some(e.to_string()),
                _ => None,
            };
            if let Some(status) = exited {
                let log = self.log_path(&self.managed[i].stage);
                let m = &mut self.managed[i];
                m.child = None;
                m.failures = if m.started.elapsed() > Duration::from_secs(60) { 0 } else { m.failures + 1 };
                let pause = Duration::from_secs(u64::from(m.failures.min(5)) * 2);
                m.next_start = Some(now + pause);
                tracing::warn!(
                    stage = %m.stage.name,
                    %status,
                    restart_in_s = pause.as_secs(),
                    log = %log.display(),
                    "a stage exited; starting it again"
                );
            }
            if self.managed[i].next_start.is_some_and(|t| t <= now) {
                let stage = self.managed[i].stage.clone();
                match self.command(&stage).and_then(|mut c| c.spawn()) {
                    Ok(child) => {
                        let m = &mut self.managed[i];
                        (m.child, m.started, m.next_start) = (Some(child), Instant::now(), None);
                    }
                    Err(e) => {
                        tracing::error!(stage = %stage.name, error = %e, "cannot start the stage again; trying later");
                        self.managed[i].next_start = Some(now + Duration::from_secs(10));
                    }
                }
            }
        }
    }

    /// SIGTERM to every child (the API and the writers finish their batches), then wait up to
    /// 30 s for all of them together before killing what is left.
    async fn stop_all(&mut self) {
        for m in &self.managed {
            if let Some(pid) = m.child.as_ref().and_then(Child::id) {
                // SAFETY: kill(2) on a pid this process started and has not reaped.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
            }
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        for m in &mut self.managed {
            if let Some(child) = m.child.as_mut() {
                let left = deadline.saturating_duration_since(Instant::now());
                if tokio::time::timeout(left, child.wait()).await.is_err() {
                    tracing::warn!(stage = %m.stage.name, "did not stop within 30 s; killed");
                    let _ = child.kill().await;
                }
            }
        }
        tracing::info!(stages = self.managed.len(), "every stage stopped");
    }
}

/// Poll `url` until it answers 2xx or `within` passes.
pub async fn wait_ready(url: &str, within: Duration) -> bool {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if client.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    false
}
