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

/// Standard base64 (RFC 4648, with or without padding; whitespace ignored).
pub fn base64_decode(text: &str) -> Result<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some((c - b'A') as u32),
            b'a'..=b'z' => Some((c - b'a') as u32 + 26),
            b'0'..=b'9' => Some((c - b'0') as u32 + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in text.as_bytes() {
        if c.is_ascii_whitespace() {
            continue;
        }
        if c == b'=' {
            break;
        }
        let v = sextet(c).ok_or_else(|| err(format!("not base64: byte {c:#04x}")))?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// What a PNG holds, to tell a real screenshot from a blank one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PngStats {
    pub width: u32,
    pub height: u32,
    /// Distinct colours (RGBA), counted up to 4 096.
    pub colours: usize,
    /// The share (per mille) of pixels that have the most common colour.
    pub dominant_per_mille: u32,
}

/// Decode an 8-bit, non-interlaced PNG (what Chromium's screenshots are) and count its
/// colours.
pub fn png_stats(png: &[u8]) -> Result<PngStats> {
    const SIGNATURE: [u8; 8] = [137, 80, 78, 71, 13, 10, 26, 10];
    if png.len() < 33 || png[..8] != SIGNATURE {
        return Err(err("not a PNG"));
    }
    let (mut pos, mut header, mut idat) = (8usize, None, Vec::new());
    while pos + 12 <= png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &png[pos + 4..pos + 8];
        let data = png.get(pos + 8..pos + 8 + len).ok_or_else(|| err("PNG chunk runs past the end"))?;
        match kind {
            b"IHDR" => header = Some(data.to_vec()),
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => break,
            _ => {}
        }
        pos += 12 + len;
    }
    let h = header.ok_or_else(|| err("PNG without IHDR"))?;
    let width = u32::from_be_bytes(h[0..4].try_into().unwrap());
    let height = u32::from_be_bytes(h[4..8].try_into().unwrap());
    let (depth, colour_type, interlace) = (h[8], h[9], h[12]);
    let channels = match colour_type {
        0 => 1,
        2 => 3,
        4 => 2,
        6 => 4,
        _ => return Err(err(format!("PNG colour type {colour_type} is not handled"))),
    };
    if depth != 8 || interlace != 0 {
        return Err(err(format!("PNG of bit depth {depth}, interlace {interlace} is not handled")));
    }
    let raw = miniz_oxide::inflate::decompress_to_vec_zlib(&idat).map_err(|e| err(format!("PNG data: {e:?}")))?;
    let stride = width as usize * channels;
    if raw.len() < (stride + 1) * height as usize {
        return Err(err("PNG data shorter than its size"));
    }
    let mut prev = vec![0u8; stride];
    let mut line = vec![0u8; stride];
    let mut counts: std::collections::HashMap<u32, u64> = std::collections::HashMap::new();
    for y in 0..height as usize {
        let row = &raw[y * (stride + 1)..(y + 1) * (stride + 1)];
        let filter = row[0];
        for x in 0..stride {
            let a = if x >= channels { line[x - channels] as i32 } else { 0 };
            let b = prev[x] as i32;
            let c = if x >= channels { prev[x - channels] as i32 } else { 0 };
            let predictor = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => return Err(err(format!("PNG filter {f} on row {y}"))),
            };
            line[x] = row[x + 1].wrapping_add(predictor as u8);
        }
        for px in line.chunks_exact(channels) {
            let rgba = match channels {
                1 => u32::from_be_bytes([px[0], px[0], px[0], 255]),
                2 => u32::from_be_bytes([px[0], px[0], px[0], px[1]]),
                3 => u32::from_be_bytes([px[0], px[1], px[2], 255]),
                _ => u32::from_be_bytes([px[0], px[1], px[2], px[3]]),
            };
            if counts.len() < 4_096 || counts.contains_key(&rgba) {
                *counts.entry(rgba).or_default() += 1;
            }
        }
        std::mem::swap(&mut prev, &mut line);
    }
    let pixels = width as u64 * height as u64;
    let dominant = counts.values().copied().max().unwrap_or(0);
    Ok(PngStats {
        width,
        height,
        colours: counts.len(),
        dominant_per_mille: (dominant * 1000).checked_div(pixels).map_or(1000, |m| m as u32),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_the_rfc_examples() {
        for (plain, coded) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")]
        {
            assert_eq!(base64_decode(coded).unwrap(), plain.as_bytes());
        }
        assert!(base64_decode("Zm9v!").is_err());
    }

    /// A 2×2 RGB PNG (red, green / blue, white), filters None and Sub.
    #[test]
    fn png_stats_counts_colours() {
        let rows: Vec<u8> = [
            vec![0u8, 255, 0, 0, 0, 255, 0],
            // Sub: the second pixel as the difference from the first (white - blue).
            vec![1u8, 0, 0, 255, 255, 255, 0],
        ]
        .concat();
        let idat = miniz_oxide::deflate::compress_to_vec_zlib(&rows, 6);
        let chunk = |kind: &[u8], data: &[u8]| {
            let mut c = (data.len() as u32).to_be_bytes().to_vec();
            c.extend_from_slice(kind);
            c.extend_from_slice(data);
            c.extend_from_slice(&[0, 0, 0, 0]); // CRC, not checked
            c
        };
        let mut png = vec![137, 80, 78, 71, 13, 10, 26, 10];
        png.extend(chunk(b"IHDR", &[0, 0, 0, 2, 0, 0, 0, 2, 8, 2, 0, 0, 0]));
        png.extend(chunk(b"IDAT", &idat));
        png.extend(chunk(b"IEND", &[]));
        let s = png_stats(&png).unwrap();
        assert_eq!((s.width, s.height, s.colours, s.dominant_per_mille), (2, 2, 4, 250));
    }

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
