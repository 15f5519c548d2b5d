//! A minimal async W3C WebDriver client for the end-to-end tests, driving headless Chromium
//! through chromedriver over loopback HTTP.
//!
//! It is deliberately small: one chromedriver per [`Chromedriver`], one session per [`Browser`],
//! plain JSON over `reqwest`, and only the endpoints the tests use. Anything else can be reached
//! with [`Browser::execute`].
#![allow(dead_code)] // each test crate that does `mod common;` uses a different subset

use std::fmt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};

/// The W3C key under which an element reference travels in JSON (WebDriver spec, "web element
/// identifier"; note the final `f`).
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const MOBILE_USER_AGENT: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36";

/// Everything that can go wrong while talking to chromedriver.
#[derive(Debug)]
pub enum WebDriverError {
    /// The HTTP exchange itself failed (connection refused, body not JSON, ...).
    Http(reqwest::Error),
    /// chromedriver answered with a W3C error such as `no such element` or `javascript error`.
    Protocol { error: String, message: String },
    /// A wait ran out; the text says what was awaited and what was last seen.
    Timeout(String),
    /// chromedriver could not be started (or a scratch directory could not be made).
    Spawn(std::io::Error),
}

impl fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http(e) => write!(f, "webdriver HTTP error: {e}"),
            Self::Protocol { error, message } => write!(f, "webdriver error `{error}`: {message}"),
            Self::Timeout(what) => write!(f, "webdriver timeout: {what}"),
            Self::Spawn(e) => write!(f, "could not start chromedriver: {e}"),
        }
    }
}

impl std::error::Error for WebDriverError {}

impl From<reqwest::Error> for WebDriverError {
    fn from(e: reqwest::Error) -> Self {
        Self::Http(e)
    }
}

/// The chromedriver binary: `$CHROMEDRIVER`, else `chromedriver` on `$PATH`, else
/// `/usr/bin/chromedriver`. `None` when none of these exists (tests then skip).
pub fn chromedriver_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMEDRIVER").filter(|p| !p.is_empty()) {
        return Some(path.into());
    }
    let on_path = std::env::var_os("PATH").and_then(|dirs| {
        std::env::split_paths(&dirs)
            .map(|d| d.join("chromedriver"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| Some(PathBuf::from("/usr/bin/chromedriver")).filter(|p| p.is_file()))
}

/// Live (non-zombie) processes in process group `pgid`, read from `/proc` (Linux only; empty
/// elsewhere). Used to wait for Chromium to really be gone.
pub fn live_group_members(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "pid (comm) state ppid pgrp ...": comm may hold spaces or parentheses.
        let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
        let (state, _ppid, pgrp) = (fields.next()?, fields.next()?, fields.next()?);
        (state != "Z" && pgrp.parse() == Ok(pgid)).then_some(pid)
    })
    .collect()
}

/// A running chromedriver on a free loopback port.
///
/// chromedriver starts Chromium, which forks zygotes, renderers and a crash handler. Killing
/// only chromedriver would orphan them, so chromedriver runs as the leader of its own process
/// group (which all of those inherit) and Drop signals the whole group: a panicking test leaves
/// no browser behind.
pub struct Chromedriver {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl Chromedriver {
    /// Spawns chromedriver and waits (up to 10 s) until `GET /status` reports ready.
    /// Set `CHROMEDRIVER_LOG=/path` to get chromedriver's verbose log for debugging.
    pub async fn start() -> Result<Chromedriver, WebDriverError> {
        let binary = chromedriver_binary().unwrap_or_else(|| "chromedriver".into());
        // A free port: bind :0 and release it (chromedriver cannot report the port it chose).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(WebDriverError::Spawn)?
            .port();
        let mut cmd = Command::new(binary);
        cmd.arg(format!("--port={port}")).process_group(0);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        if let Some(log) = std::env::var_os("CHROMEDRIVER_LOG") {
            cmd.arg("--verbose").arg(format!("--log-path={}", log.display()));
        }
        let child = cmd.spawn().map_err(WebDriverError::Spawn)?;
        let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build();
        // Built before polling so that an early return below still kills the process group.
        let mut driver = Chromedriver { child, url: format!("http://127.0.0.1:{port}"), http: http? };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let status_url = format!("{}/status", driver.url);
            if send(&driver.http, Method::GET, &status_url, None).await.is_ok_and(|v| v["ready"] == true) {
                return Ok(driver);
            }
            if let Ok(Some(exit)) = driver.child.try_wait() {
                let message = format!("chromedriver exited early ({exit})");
                return Err(WebDriverError::Spawn(std::io::Error::other(message)));
            }
            if Instant::now() > deadline {
                return Err(WebDriverError::Timeout(format!("chromedriver not ready after 10 s")));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// chromedriver's pid, which is also the id of the process group holding all of Chromium.
    pub fn pgid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let pgid = self.child.id();
        // Spelled `kill -s SIG -- -PGID` on purpose: procps-ng 4's `kill -SIG -PGID` parses
        // the group as an option and signals pid -1, i.e. every process we may signal.
        let signal = |sig: &str| {
            if pgid > 1 {
                let group = format!("-{pgid}");
                let _ = Command::new("kill")
                    .args(["-s", sig, "--", &group])
                    .stderr(Stdio::null())
                    .status();
            }
        };
        // SIGTERM lets Chromium shut down cleanly; SIGKILL whatever is still alive after 5 s.
        // The group id cannot be reused meanwhile: chromedriver is not reaped until `wait`.
        signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !live_group_members(pgid).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if !live_group_members(pgid).is_empty() {
            signal("KILL");
        }
        let _ = self.child.wait();
    }
}

/// Window size and device emulation for [`Browser::open`].
#[derive(Clone, Copy, Debug)]
pub struct BrowserOptions {
    pub width: u32,
    pub height: u32,
    /// Emulate a phone: `width`×`height` CSS-pixel viewport, touch, DPR 2, Android user agent.
    pub mobile: bool,
}

impl Default for BrowserOptions {
    fn default() -> Self {
        BrowserOptions {
            width: 1280,
            height: 800,
            mobile: false,
        }
    }
}

/// A reference to a DOM element inside one [`Browser`] session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    pub id: String,
}

impl Element {
    /// The W3C JSON form, for passing the element as an argument to [`Browser::execute`].
    pub fn to_json(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    /// Reads an element reference out of a script result or a find response.
    pub fn from_json(value: &Value) -> Option<Element> {
        Some(Element {
            id: value.get(ELEMENT_KEY)?.as_str()?.to_owned(),
        })
    }
}

/// One line of the browser's console log: level is `SEVERE`, `WARNING`, `INFO` or `DEBUG`.
#[derive(Clone, Debug)]
pub struct LogEntry {
    pub level: String,
    pub message: String,
}

/// One WebDriver session, i.e. one headless Chromium with a fresh profile.
///
/// Dropping it without [`Browser::quit`] (say, in a panicking test) still ends the session
/// with a blocking request, so that the throwaway profile directory can be deleted.
pub struct Browser {
    http: reqwest::Client,
    /// `host:port` of chromedriver, for the blocking DELETE in Drop.
    driver_addr: String,
    session: String,
    profile: PathBuf,
    quit: bool,
}

impl Browser {
    /// Starts Chromium (`$CHROME`, else /usr/bin/chromium) and opens a session.
    pub async fn open(
        driver: &Chromedriver,
        opts: BrowserOptions,
    ) -> Result<Browser, WebDriverError> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let profile = std::env::temp_dir().join(format!(
            "amazonpay2-chrome-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&profile).map_err(WebDriverError::Spawn)?;
        let (w, h) = (opts.width, opts.height);
        let binary = std::env::var("CHROME").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
        ];
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.push(format!("--window-size={w},{h}"));
        args.push(format!("--user-data-dir={}", profile.display()));
        let mut chrome = json!({ "binary": binary, "args": args });
        if opts.mobile {
            chrome["mobileEmulation"] = json!({
                "deviceMetrics": { "width": w, "height": h, "pixelRatio": 2.0, "touch": true, "mobile": true },
                "userAgent": MOBILE_USER_AGENT,
            });
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": chrome,
            "goog:loggingPrefs": { "browser": "ALL" },
            "pageLoadStrategy": "normal",
            "timeouts": { "pageLoad": 30_000, "script": 30_000, "implicit": 0 },
        }}});
        let created = send(
            &driver.http,
            Method::POST,
            &format!("{}/session", driver.url),
            Some(caps),
        )
        .await;
        let session = match created.map(|v| v["sessionId"].as_str().map(str::to_owned)) {
            Ok(Some(id)) => id,
            other => {
                let _ = std::fs::remove_dir_all(&profile);
                return Err(other
                    .err()
                    .unwrap_or_else(|| protocol("invalid response", "no sessionId")));
            }
        };
        let driver_addr = driver.url.trim_start_matches("http://").to_owned();
        Ok(Browser {
            http: driver.http.clone(),
            driver_addr,
            session,
            profile,
            quit: false,
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        let url = format!("http://{}/session/{}{path}", self.driver_addr, self.session);
        send(&self.http, method, &url, body).await
    }

    /// Navigates and waits for the load event (`pageLoadStrategy: normal`).
    pub async fn goto(&self, url: &str) -> Result<(), WebDriverError> {
        self.call(Method::POST, "/url", Some(json!({ "url": url })))
            .await
            .map(drop)
    }

    pub async fn current_url(&self) -> Result<String, WebDriverError> {
        Ok(self
            .call(Method::GET, "/url", None)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Runs `script` as a function body (use `return`); `arguments[i]` are `args`.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, WebDriverError> {
        self.call(
            Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// Like [`Browser::execute`], but the result is what the script passes to its last
    /// argument, the callback: `arguments[arguments.length - 1](value)`.
    pub async fn execute_async(
        &self,
        script: &str,
        args: Vec<Value>,
    ) -> Result<Value, WebDriverError> {
        self.call(
            Method::POST,
            "/execute/async",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// The first element matching a CSS selector; `no such element` if there is none.
    pub async fn find(&self, css: &str) -> Result<Element, WebDriverError> {
        let found = self
            .call(
                Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await?;
        Element::from_json(&found).ok_or_else(|| protocol("invalid response", &found.to_string()))
    }

    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>, WebDriverError> {
        let found = self
            .call(
                Method::POST,
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await?;
        Ok(found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Element::from_json)
            .collect())
    }

    /// A real (trusted) click at the element's centre, after scrolling it into view.
    pub async fn click(&self, element: &Element) -> Result<(), WebDriverError> {
        self.call(
            Method::POST,
            &format!("/element/{}/click", element.id),
            None,
        )
        .await
        .map(drop)
    }

    /// The rendered (visible) text.
    pub async fn text(&self, element: &Element) -> Result<String, WebDriverError> {
        let text = self
            .call(Method::GET, &format!("/element/{}/text", element.id), None)
            .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    /// The attribute (or, for a few like `value`, the property); `None` when absent.
    pub async fn attribute(
        &self,
        element: &Element,
        name: &str,
    ) -> Result<Option<String>, WebDriverError> {
        let value = self
            .call(
                Method::GET,
                &format!("/element/{}/attribute/{name}", element.id),
                None,
            )
            .await?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// Evaluates the JS expression every 50 ms until it is truthy and returns that value.
    /// A `javascript error` (e.g. the element does not exist yet) counts as "not yet".
    pub async fn wait_for(
        &self,
        expression: &str,
        timeout: Duration,
        description: &str,
    ) -> Result<Value, WebDriverError> {
        let deadline = Instant::now() + timeout;
        let script = format!("return ({expression});");
        loop {
            let last = match self.execute(&script, vec![]).await {
                Ok(v) if truthy(&v) => return Ok(v),
                Ok(v) => v.to_string(),
                Err(WebDriverError::Protocol { error, message }) if error == "javascript error" => {
                    message
                }
                Err(e) => return Err(e),
            };
            if Instant::now() >= deadline {
                return Err(WebDriverError::Timeout(format!(
                    "{description} (after {timeout:?}; last value: {last})"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Console messages and uncaught errors (`Uncaught Error: ...`, also unhandled promise
    /// rejections) since the previous call: chromedriver hands each entry out only once. The
    /// capture starts with the session, so it includes scripts that run before DOMContentLoaded.
    pub async fn browser_log(&self) -> Result<Vec<LogEntry>, WebDriverError> {
        let entries = self
            .call(Method::POST, "/se/log", Some(json!({ "type": "browser" })))
            .await?;
        let entries = entries.as_array().into_iter().flatten();
        let field = |e: &Value, k: &str| e[k].as_str().unwrap_or_default().to_owned();
        Ok(entries
            .map(|e| LogEntry {
                level: field(e, "level"),
                message: field(e, "message"),
            })
            .collect())
    }

    /// A PNG of the viewport.
    pub async fn screenshot_png(&self) -> Result<Vec<u8>, WebDriverError> {
        let data = self.call(Method::GET, "/screenshot", None).await?;
        base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .map_err(|e| {
                protocol(
                    "invalid response",
                    &format!("screenshot is not base64: {e}"),
                )
            })
    }

    /// Resizes the outer window (mobile emulation keeps its own fixed viewport).
    pub async fn set_window_size(&self, width: u32, height: u32) -> Result<(), WebDriverError> {
        self.call(
            Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await
        .map(drop)
    }

    /// Ends the session (Chromium exits) and deletes the profile directory.
    pub async fn quit(mut self) -> Result<(), WebDriverError> {
        self.quit = true;
        self.call(Method::DELETE, "", None).await.map(drop)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.quit {
            // Drop cannot await; a blocking HTTP/1.1 request to loopback is short and simple.
            use std::io::{Read, Write};
            if let Ok(mut stream) = std::net::TcpStream::connect(&self.driver_addr) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let request = format!(
                    "DELETE /session/{} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                    self.session, self.driver_addr
                );
                let _ = stream
                    .write_all(request.as_bytes())
                    .and_then(|()| stream.read_to_end(&mut Vec::new()));
            }
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// One WebDriver command: returns the response's `value`, or its W3C error as `Protocol`.
async fn send(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, WebDriverError> {
    let mut request = http.request(method.clone(), url);
    if method == Method::POST {
        // chromedriver insists on a JSON body for every POST, even an empty one.
        request = request.json(&body.unwrap_or_else(|| json!({})));
    }
    let response: Value = request.send().await?.json().await?;
    let value = response.get("value").cloned().unwrap_or(Value::Null);
    match value.get("error").and_then(Value::as_str) {
        Some(error) => Err(protocol(
            error,
            value["message"].as_str().unwrap_or_default(),
        )),
        None => Ok(value),
    }
}

fn protocol(error: &str, message: &str) -> WebDriverError {
    WebDriverError::Protocol {
        error: error.to_owned(),
        message: message.to_owned(),
    }
}

/// JavaScript truthiness of a JSON result (NaN already arrives as null).
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}
