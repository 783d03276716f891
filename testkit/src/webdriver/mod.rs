//! A minimal W3C WebDriver client for driving headless Chromium (Debian `chromium` and
//! `chromium-driver`, installed by `make setup`): [`Browser::start`] runs `chromedriver` on a
//! free port as a child process and opens a session; then navigate, run scripts, poll a
//! JavaScript condition, take screenshots. Dropping the browser ends the session and the
//! driver (and the browser it started: the driver runs in its own process group).
//!
//! ```ignore
//! let browser = Browser::start().await?;
//! browser.goto("http://127.0.0.1:8080/").await?;
//! browser.wait_until("document.body.dataset.ready === '1'", Duration::from_secs(30)).await?;
//! let png = browser.screenshot(Path::new("target/page.png")).await?;
//! let stats = png_stats(&png)?;
//! ```

use crate::free_port;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod png;
pub use png::{base64_decode, png_stats, PngStats};

/// The Chromium flags every session gets.
pub const CHROME_ARGS: [&str; 7] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--window-size=1400,1000",
];

/// What went wrong, in words a test failure can show as is.
#[derive(Debug)]
pub struct WebDriverError(pub String);

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WebDriverError {}

pub type Result<T> = std::result::Result<T, WebDriverError>;

fn err(text: impl Into<String>) -> WebDriverError {
    WebDriverError(text.into())
}

/// The first of `names` found on `PATH` (or the path in the environment variable `var`).
fn find_program(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    names.iter().flat_map(|n| std::env::split_paths(&path).map(move |d| d.join(n))).find(|p| p.is_file())
}

/// `chromedriver` and the Chromium binary: `TW_CHROMEDRIVER` / `TW_CHROMIUM`, else `PATH`.
pub fn find_browser() -> Result<(PathBuf, PathBuf)> {
    let driver = find_program("TW_CHROMEDRIVER", &["chromedriver"]);
    let chromium = find_program("TW_CHROMIUM", &["chromium", "chromium-browser", "google-chrome"]);
    match (driver, chromium) {
        (Some(d), Some(c)) => Ok((d, c)),
        (d, c) => Err(err(format!(
            "headless Chromium is not installed ({}{}): run `make setup` (it installs the Debian packages \
             `chromium` and `chromium-driver`), or set TW_CHROMIUM / TW_CHROMEDRIVER",
            if d.is_none() { "no chromedriver on PATH" } else { "" },
            if c.is_none() {
                if d.is_none() {
                    ", no chromium"
                } else {
                    "no chromium on PATH"
                }
            } else {
                ""
            },
        ))),
    }
}

/// A chromedriver process and one browser session on it.
pub struct Browser {
    http: reqwest::Client,
    port: u16,
    session: String,
    driver: Option<Child>,
    log: PathBuf,
}

impl Browser {
    /// Start chromedriver and a headless Chromium session with [`CHROME_ARGS`].
    pub async fn start() -> Result<Browser> {
        Browser::start_with(&[]).await
    }

    /// The same with more Chromium flags.
    pub async fn start_with(extra_args: &[&str]) -> Result<Browser> {
        let (driver_bin, chromium) = find_browser()?;
        let port = free_port();
        let log_dir = crate::repo_root().join("target/test-logs");
        std::fs::create_dir_all(&log_dir).map_err(|e| err(format!("{}: {e}", log_dir.display())))?;
        let log = log_dir.join(format!("{}-chromedriver.log", crate::unique("webdriver")));
        let log_file = std::fs::File::create(&log).map_err(|e| err(format!("{}: {e}", log.display())))?;
        let log_err = log_file.try_clone().map_err(|e| err(e.to_string()))?;
        let child = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            // Its own process group: the browser it starts is ended with it.
            .process_group(0)
            .spawn()
            .map_err(|e| err(format!("cannot start {}: {e}", driver_bin.display())))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| err(format!("HTTP client: {e}")))?;
        let mut browser = Browser { http, port, session: String::new(), driver: Some(child), log };
        browser.wait_ready(Duration::from_secs(30)).await?;
        let mut args: Vec<&str> = CHROME_ARGS.to_vec();
        args.extend_from_slice(extra_args);
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "goog:chromeOptions": { "binary": chromium, "args": args },
                    "goog:loggingPrefs": { "browser": "ALL" }
                }
            }
        });
        let value = browser.call(reqwest::Method::POST, "/session", Some(caps)).await?;
        browser.session = value["sessionId"]
            .as_str()
            .ok_or_else(|| err(format!("new session answered no sessionId: {value}")))?
            .to_string();
        Ok(browser)
    }

    async fn wait_ready(&mut self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(child) = self.driver.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(err(format!("chromedriver exited ({status}); log: {}", self.log_tail())));
                }
            }
            let url = format!("http://127.0.0.1:{}/status", self.port);
            if let Ok(r) = self.http.get(&url).timeout(Duration::from_secs(2)).send().await {
                if let Ok(v) = r.json::<Value>().await {
                    if v["value"]["ready"].as_bool() == Some(true) {
                        return Ok(());
                    }
                }
            }
            if Instant::now() > deadline {
                return Err(err(format!("chromedriver not ready within {within:?}; log: {}", self.log_tail())));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The last lines of chromedriver's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Path of chromedriver's log.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// One WebDriver command; its `value`, or the W3C error as text.
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let mut req = self.http.request(method.clone(), &url);
        // POST commands always carry a JSON body (an empty object when they take nothing).
        if method == reqwest::Method::POST {
            req = req.json(&body.unwrap_or_else(|| json!({})));
        }
        let resp = req.send().await.map_err(|e| err(format!("{method} {path}: {e}")))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| err(format!("{method} {path}: {e}")))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| err(format!("{method} {path}: {status}, not JSON ({e}): {}", &text[..text.len().min(300)])))?;
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        if !status.is_success() {
            let kind = value["error"].as_str().unwrap_or("unknown error");
            let message = value["message"].as_str().unwrap_or_default();
            return Err(err(format!("{method} {path}: {status} {kind}: {message}")));
        }
        Ok(value)
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Navigate and wait for the page's load event.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.call(reqwest::Method::POST, &self.session_path("/url"), Some(json!({ "url": url }))).await.map(|_| ())
    }

    pub async fn current_url(&self) -> Result<String> {
        let v = self.call(reqwest::Method::GET, &self.session_path("/url"), None).await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    pub async fn title(&self) -> Result<String> {
        let v = self.call(reqwest::Method::GET, &self.session_path("/title"), None).await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// Run `script` (a function body: `return ...;`) with `args` (`arguments[0]`, ...) in the
    /// page and return its result as JSON.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        let body = json!({ "script": script, "args": args });
        self.call(reqwest::Method::POST, &self.session_path("/execute/sync"), Some(body)).await
    }

    /// Evaluate a JavaScript expression.
    pub async fn eval(&self, expression: &str) -> Result<Value> {
        self.execute(&format!("return ({expression});"), vec![]).await
    }

    /// Poll `expression` every 250 ms until it is truthy (as JavaScript sees it); its value.
    /// A script error while polling counts as not yet (the page may still be loading).
    pub async fn wait_until(&self, expression: &str, within: Duration) -> Result<Value> {
        let script = format!("const v = ({expression}); return v ? v : null;");
        let deadline = Instant::now() + within;
        loop {
            let last = match self.execute(&script, vec![]).await {
                Ok(Value::Null) => "falsy".to_string(),
                Ok(v) => return Ok(v),
                Err(e) => e.to_string(),
            };
            if Instant::now() > deadline {
                return Err(err(format!("`{expression}` not true within {within:?} (last: {last})")));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Resize the window (CSS pixels).
    pub async fn set_window_size(&self, width: u32, height: u32) -> Result<()> {
        let body = json!({ "width": width, "height": height });
        self.call(reqwest::Method::POST, &self.session_path("/window/rect"), Some(body)).await.map(|_| ())
    }

    /// Resize the window so that the page's viewport (what a screenshot shows) is `width` ×
    /// `height` CSS pixels: headless Chromium's window still counts a browser frame.
    pub async fn set_viewport_size(&self, width: u32, height: u32) -> Result<()> {
        let frame =
            self.eval("[window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight]").await?;
        let dx = frame[0].as_u64().unwrap_or(0) as u32;
        let dy = frame[1].as_u64().unwrap_or(0) as u32;
        self.set_window_size(width + dx, height + dy).await?;
        let inner = self.eval("[window.innerWidth, window.innerHeight]").await?;
        if inner != json!([width, height]) {
            return Err(err(format!("asked for a {width}×{height} viewport, got {inner}")));
        }
        Ok(())
    }

    /// A PNG of the viewport, written to `path` (folders created); its bytes.
    pub async fn screenshot(&self, path: &Path) -> Result<Vec<u8>> {
        let v = self.call(reqwest::Method::GET, &self.session_path("/screenshot"), None).await?;
        let b64 = v.as_str().ok_or_else(|| err(format!("screenshot answered no string: {v}")))?;
        let png = base64_decode(b64)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(format!("{}: {e}", dir.display())))?;
        }
        std::fs::write(path, &png).map_err(|e| err(format!("{}: {e}", path.display())))?;
        Ok(png)
    }

    /// The browser console's messages so far (Chromium's log endpoint; empty where the driver
    /// does not have it). Each read returns only what is new.
    pub async fn console(&self) -> Vec<String> {
        let body = json!({ "type": "browser" });
        match self.call(reqwest::Method::POST, &self.session_path("/se/log"), Some(body)).await {
            Ok(Value::Array(entries)) => entries
                .iter()
                .map(|e| format!("{} {}", e["level"].as_str().unwrap_or("?"), e["message"].as_str().unwrap_or("")))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// End the session and the driver.
    pub async fn quit(mut self) -> Result<()> {
        let path = self.session_path("");
        let ended = self.call(reqwest::Method::DELETE, &path, None).await;
        self.session.clear();
        self.stop_driver();
        ended.map(|_| ())
    }

    fn stop_driver(&mut self) {
        if let Some(mut child) = self.driver.take() {
            // The driver's process group: the driver, the browser and its helpers.
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            // Drop cannot await: a plain blocking DELETE, so the browser closes its profile.
            let _ = blocking_delete(self.port, &format!("/session/{}", self.session));
        }
        self.stop_driver();
    }
}

fn blocking_delete(port: u16, path: &str) -> std::io::Result<()> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "DELETE {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
    let mut sink = Vec::new();
    let _ = s.read_to_end(&mut sink);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page served from a local socket: its script runs, a condition is awaited, scripts
    /// see the page's state, and the screenshot shows what it drew.
    #[tokio::test(flavor = "multi_thread")]
    async fn drives_headless_chromium() {
        let page = "<!doctype html><title>wd</title><body style='margin:0;background:#fff'>\
            <canvas id=c width=300 height=200></canvas><script>\
            setTimeout(() => { const g = document.getElementById('c').getContext('2d');\
            g.fillStyle = '#d00'; g.fillRect(10, 10, 120, 80); g.fillStyle = '#00d'; g.fillRect(150, 60, 100, 100);\
            document.body.dataset.ready = '1'; }, 300);</script>";
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(20) {
                let Ok(mut s) = stream else { continue };
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
            }
        });
        let browser = Browser::start().await.unwrap();
        browser.goto(&format!("http://127.0.0.1:{port}/")).await.unwrap();
        assert_eq!(browser.title().await.unwrap(), "wd");
        let ready = browser.wait_until("document.body.dataset.ready", Duration::from_secs(20)).await.unwrap();
        assert_eq!(ready, json!("1"));
        let sum = browser.execute("return arguments[0] + arguments[1];", vec![json!(2), json!(3)]).await.unwrap();
        assert_eq!(sum, json!(5));
        let never = browser.wait_until("window.nothing === 1", Duration::from_millis(600)).await;
        assert!(never.unwrap_err().0.contains("not true within"));
        let thrown = browser.eval("undefined_function()").await.unwrap_err();
        assert!(thrown.0.contains("javascript error"), "{thrown}");
        let path = std::env::temp_dir().join(format!("{}.png", crate::unique("wd-shot")));
        let png = browser.screenshot(&path).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), png);
        let stats = png_stats(&png).unwrap();
        // The window of CHROME_ARGS, less the frame headless Chromium still draws around it.
        assert!(stats.width == 1400 && stats.height > 700 && stats.height <= 1000, "{stats:?}");
        assert!(stats.colours >= 3, "white, red and blue at least: {stats:?}");
        assert!(stats.dominant_per_mille > 900, "mostly white: {stats:?}");
        browser.set_viewport_size(1200, 900).await.unwrap();
        let stats = png_stats(&browser.screenshot(&path).await.unwrap()).unwrap();
        assert_eq!((stats.width, stats.height), (1200, 900));
        browser.quit().await.unwrap();
        let _ = std::fs::remove_file(path);
    }
}
