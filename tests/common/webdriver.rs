//! A minimal async W3C WebDriver client for the end-to-end tests, driving headless Chromium
//! through chromedriver over loopback HTTP.
//!
//! It is deliberately small: one chromedriver per [`Chromedriver`], one session per [`Browser`],
//! plain JSON over `reqwest`, and only the endpoints the tests use. Anything else can be reached
//! with [`Browser::execute`].
#![allow(dead_code)] // each test binary uses its own part of this module

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use std::{fmt, io};

use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};

/// The W3C "web element identifier": the key under which element references travel in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// Quiet, reproducible headless Chromium: no sandbox (we run as root in a container), no GPU,
/// no /dev/shm (often tiny in containers), no background traffic, updates or first-run UI.
const CHROME_ARGS: &str = "--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
     --disable-background-networking --disable-component-update --no-first-run --disable-sync";
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
    /// chromedriver could not be started (or a profile directory could not be made).
    Spawn(io::Error),
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
/// `/usr/bin/chromedriver`; `None` when there is none (tests then skip).
pub fn chromedriver_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMEDRIVER").filter(|p| !p.is_empty()) {
        return Some(path.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("chromedriver"))
        .find(|p| p.is_file())
}

/// Live (non-zombie) processes in process group `pgid`, read from `/proc` (Linux only; empty
/// elsewhere). Lets Drop wait until Chromium is really gone, and tests assert that it is.
pub fn live_group_members(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "pid (comm) state ppid pgrp ...", and comm may itself contain spaces or parentheses.
        let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
        let (state, _ppid, pgrp) = (fields.next()?, fields.next()?, fields.next()?);
        (state != "Z" && pgrp.parse() == Ok(pgid)).then_some(pid)
    })
    .collect()
}

/// A running chromedriver on a free loopback port.
///
/// chromedriver starts Chromium, which forks zygotes, renderers and a crash handler. Killing
/// only chromedriver would orphan them, so chromedriver leads its own process group (which all
/// of them inherit) and Drop signals that whole group: even a panicking test leaves no browser.
pub struct Chromedriver {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl Chromedriver {
    /// Spawns chromedriver and waits (up to 30 s: a loaded machine) until `GET /status` reports
    /// ready.
    /// Set `CHROMEDRIVER_LOG=/path` to get chromedriver's verbose log for debugging.
    pub async fn start() -> Result<Chromedriver, WebDriverError> {
        amazonpay2::core::install_crypto_provider();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(120)).build()?;
        // A free port: bind :0 and release it (chromedriver cannot report a port it chose).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(WebDriverError::Spawn)?
            .port();
        let mut cmd = Command::new(chromedriver_binary().unwrap_or("chromedriver".into()));
        cmd.arg(format!("--port={port}")).process_group(0);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        if let Some(log) = std::env::var_os("CHROMEDRIVER_LOG") {
            cmd.arg("--verbose").arg(format!("--log-path={}", log.display()));
        }
        let child = cmd.spawn().map_err(WebDriverError::Spawn)?;
        // Built before polling, so that returning an error below kills the process again.
        let mut driver = Chromedriver { child, url: format!("http://127.0.0.1:{port}"), http };
        let (status, deadline) = (format!("{}/status", driver.url), Instant::now() + 30 * SECOND);
        loop {
            let ready = send(&driver.http, Method::GET, &status, None).await;
            if ready.is_ok_and(|v| v["ready"] == true) {
                return Ok(driver);
            }
            if let Ok(Some(exit)) = driver.child.try_wait() {
                let message = format!("chromedriver exited early ({exit})");
                return Err(WebDriverError::Spawn(io::Error::other(message)));
            }
            if Instant::now() > deadline {
                return Err(WebDriverError::Timeout("chromedriver /status not ready in 30 s".into()));
            }
            tokio::time::sleep(POLL).await;
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
        // Spelled `kill -s SIG -- -PGID` on purpose: procps-ng's `kill -SIG -PGID` reads the
        // group as an option and signals pid -1, i.e. every process we are allowed to signal.
        let signal = |sig: &str| {
            let group = format!("-{pgid}");
            let _ = Command::new("kill").args(["-s", sig, "--", &group]).stderr(Stdio::null()).status();
        };
        // SIGTERM lets Chromium exit cleanly; SIGKILL whatever still lives after 5 s. The group
        // id cannot be reused meanwhile: chromedriver stays unreaped (a zombie) until `wait`.
        signal("TERM");
        let deadline = Instant::now() + 5 * SECOND;
        while !live_group_members(pgid).is_empty() && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        if !live_group_members(pgid).is_empty() {
            signal("KILL");
        }
        let _ = self.child.wait();
    }
}

const SECOND: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(50);
/// How long a navigation may take to show its new page (generous: a loaded 2-core machine).
pub const NAVIGATION_TIMEOUT: Duration = Duration::from_secs(30);
/// The property a marked document carries (see [`Browser::mark_page`]).
const MARK_KEY: &str = "__webdriverPageMark";

/// The mark of one document (see [`Browser::mark_page`]).
#[derive(Clone, Debug)]
pub struct PageMark(String);

/// Whether a script failed because its document went away or was being replaced.
fn navigating(error: &str, message: &str) -> bool {
    error == "javascript error"
        || error == "no such execution context"
        || error == "stale element reference"
        || (error == "unknown error"
            && ["context", "navigat", "loading status", "target"].iter().any(|m| message.contains(m)))
}

/// Window size and device emulation for [`Browser::open`].
#[derive(Clone, Copy, Debug)]
pub struct BrowserOptions {
    pub width: u32,
    pub height: u32,
    /// Emulate a phone: `width`×`height` CSS-pixel screen, touch, DPR 2, Android user agent.
    /// As on a real phone, pages without `<meta name="viewport">` lay out 980 px wide.
    pub mobile: bool,
}

impl Default for BrowserOptions {
    fn default() -> Self {
        BrowserOptions { width: 1280, height: 800, mobile: false }
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
        Some(Element { id: value.get(ELEMENT_KEY)?.as_str()?.to_owned() })
    }
}

/// One entry of the browser's console log; `level` is `SEVERE`, `WARNING`, `INFO` or `DEBUG`.
#[derive(Clone, Debug)]
pub struct LogEntry {
    pub level: String,
    pub message: String,
}

/// One WebDriver session, i.e. one headless Chromium with a fresh profile directory.
///
/// Dropping it without [`Browser::quit`] (say, in a panicking test) still ends the session,
/// with a blocking request, so that Chromium exits and the profile can be deleted.
pub struct Browser {
    http: reqwest::Client,
    /// `127.0.0.1:port` of chromedriver; Drop speaks plain HTTP to it.
    driver_addr: String,
    session: String,
    profile: PathBuf,
    quit: bool,
}

impl Browser {
    /// Starts Chromium (`$CHROME`, else /usr/bin/chromium) and opens a session.
    pub async fn open(driver: &Chromedriver, opts: BrowserOptions) -> Result<Browser, WebDriverError> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let profile = std::env::temp_dir().join(format!("amazonpay2-chrome-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile); // a leftover from a killed run with our pid
        std::fs::create_dir_all(&profile).map_err(WebDriverError::Spawn)?;
        let (w, h) = (opts.width, opts.height);
        let mut args: Vec<String> = CHROME_ARGS.split(' ').map(String::from).collect();
        args.push(format!("--window-size={w},{h}"));
        args.push(format!("--user-data-dir={}", profile.display()));
        let binary = std::env::var("CHROME").unwrap_or("/usr/bin/chromium".into());
        let mut chrome = json!({ "binary": binary, "args": args });
        if opts.mobile {
            let metrics = json!({ "width": w, "height": h, "pixelRatio": 2.0, "touch": true, "mobile": true });
            chrome["mobileEmulation"] = json!({ "deviceMetrics": metrics, "userAgent": MOBILE_USER_AGENT });
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": chrome,
            "goog:loggingPrefs": { "browser": "ALL" },
            "pageLoadStrategy": "normal",
            "timeouts": { "pageLoad": 30_000, "script": 30_000, "implicit": 0 },
        }}});
        let url = format!("{}/session", driver.url);
        let created = send(&driver.http, Method::POST, &url, Some(caps)).await.and_then(|v| {
            let id = v["sessionId"].as_str().map(str::to_owned);
            id.ok_or_else(|| protocol("invalid response", &v.to_string()))
        });
        let session = created.inspect_err(|_| drop(std::fs::remove_dir_all(&profile)))?;
        let driver_addr = driver.url.trim_start_matches("http://").to_owned();
        Ok(Browser { http: driver.http.clone(), driver_addr, session, profile, quit: false })
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, WebDriverError> {
        let url = format!("http://{}/session/{}{path}", self.driver_addr, self.session);
        send(&self.http, method, &url, body).await
    }

    async fn get(&self, path: &str) -> Result<Value, WebDriverError> {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, WebDriverError> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Navigates and waits for the load event (`pageLoadStrategy: normal`).
    pub async fn goto(&self, url: &str) -> Result<(), WebDriverError> {
        self.post("/url", json!({ "url": url })).await.map(drop)
    }

    /// Sets a cookie of the current page's site (HttpOnly ones too, as a server would).
    pub async fn add_cookie(&self, name: &str, value: &str, http_only: bool) -> Result<(), WebDriverError> {
        let cookie = json!({ "name": name, "value": value, "path": "/", "httpOnly": http_only });
        self.post("/cookie", json!({ "cookie": cookie })).await.map(drop)
    }

    pub async fn current_url(&self) -> Result<String, WebDriverError> {
        Ok(string(self.get("/url").await?))
    }

    /// Runs `script` as a function body (so: `return ...`); `arguments[i]` are the `args`.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, WebDriverError> {
        self.post("/execute/sync", json!({ "script": script, "args": args })).await
    }

    /// Like [`Browser::execute`], but the result is what the script passes to the callback
    /// appended to its arguments: `arguments[arguments.length - 1](result)`.
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Result<Value, WebDriverError> {
        self.post("/execute/async", json!({ "script": script, "args": args })).await
    }

    /// The first element matching a CSS selector; a `no such element` error if none does.
    pub async fn find(&self, css: &str) -> Result<Element, WebDriverError> {
        let found = self.post("/element", json!({ "using": "css selector", "value": css })).await?;
        Element::from_json(&found).ok_or_else(|| protocol("invalid response", &found.to_string()))
    }

    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>, WebDriverError> {
        let found = self.post("/elements", json!({ "using": "css selector", "value": css })).await?;
        Ok(found.as_array().into_iter().flatten().filter_map(Element::from_json).collect())
    }

    /// A real (trusted) click at the element's centre, after scrolling it into view.
    pub async fn click(&self, element: &Element) -> Result<(), WebDriverError> {
        self.post(&format!("/element/{}/click", element.id), json!({})).await.map(drop)
    }

    /// The rendered (visible) text.
    pub async fn text(&self, element: &Element) -> Result<String, WebDriverError> {
        Ok(string(self.get(&format!("/element/{}/text", element.id)).await?))
    }

    /// The attribute (or, for a few such as `value`, the property); `None` when absent.
    pub async fn attribute(&self, element: &Element, name: &str) -> Result<Option<String>, WebDriverError> {
        let value = self.get(&format!("/element/{}/attribute/{name}", element.id)).await?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// Evaluates a JS expression every 50 ms until it is truthy and returns that value. A
    /// `javascript error` (e.g. the element does not exist yet), or the document going away
    /// mid-script, counts as "not yet". After a navigation, wait with
    /// [`Browser::wait_for_new_page`] first: this alone may still see the page before it.
    pub async fn wait_for(
        &self,
        expression: &str,
        timeout: Duration,
        description: &str,
    ) -> Result<Value, WebDriverError> {
        let (script, deadline) = (format!("return ({expression});"), Instant::now() + timeout);
        loop {
            let last = match self.execute(&script, vec![]).await {
                Ok(value) if truthy(&value) => return Ok(value),
                Ok(value) => value.to_string(),
                Err(WebDriverError::Protocol { error, message }) if navigating(&error, &message) => message,
                Err(e) => return Err(e),
            };
            if Instant::now() >= deadline {
                let what = format!("{description} (waited {timeout:?}; last value: {last})");
                return Err(WebDriverError::Timeout(what));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Marks the current document, so that [`Browser::wait_for_new_page`] can tell the next one
    /// from it: a navigation to the very same URL (a form posted back to its page) included.
    pub async fn mark_page(&self) -> Result<PageMark, WebDriverError> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let mark = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        self.execute(&format!("document[{MARK_KEY:?}] = arguments[0]; return true;"), vec![json!(mark)]).await?;
        Ok(PageMark(mark))
    }

    /// Waits until the document marked by `mark` is gone and a new one has loaded
    /// (`readyState` complete) whose path is exactly `path` (`location.pathname`; the query
    /// is not compared); answers its URL.
    pub async fn wait_for_new_page(&self, mark: &PageMark, path: &str) -> Result<String, WebDriverError> {
        let condition = format!("location.pathname === {}", json!(path));
        self.wait_for_new_page_where(mark, &condition, &format!("a new page at {path}")).await
    }

    /// [`Browser::wait_for_new_page`] for a page whose path starts with `prefix` (a job page
    /// whose number is not known beforehand).
    pub async fn wait_for_new_page_under(&self, mark: &PageMark, prefix: &str) -> Result<String, WebDriverError> {
        let condition = format!("location.pathname.startsWith({})", json!(prefix));
        self.wait_for_new_page_where(mark, &condition, &format!("a new page under {prefix}")).await
    }

    /// Waits until the marked document is gone and a new one has loaded where `condition` (a JS
    /// expression) holds; answers its URL. Errors of a document going away mid-script count as
    /// "not yet".
    pub async fn wait_for_new_page_where(
        &self,
        mark: &PageMark,
        condition: &str,
        description: &str,
    ) -> Result<String, WebDriverError> {
        let expression = format!(
            "document[{MARK_KEY:?}] !== {} && document.readyState === 'complete' && ({condition}) && location.href",
            json!(mark.0)
        );
        let (script, deadline) = (format!("return ({expression});"), Instant::now() + NAVIGATION_TIMEOUT);
        loop {
            let last = match self.execute(&script, vec![]).await {
                Ok(Value::String(href)) if !href.is_empty() => return Ok(href),
                Ok(value) => value.to_string(),
                Err(WebDriverError::Protocol { error, message }) if navigating(&error, &message) => message,
                Err(e) => return Err(e),
            };
            if Instant::now() >= deadline {
                let url = self.current_url().await.unwrap_or_default();
                let what = format!("{description} (waited {NAVIGATION_TIMEOUT:?}; at {url}; last value: {last})");
                return Err(WebDriverError::Timeout(what));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clicks `element` (a link or a submit button) and waits for the new page at exactly
    /// `path`; answers its URL.
    pub async fn click_to_page(&self, element: &Element, path: &str) -> Result<String, WebDriverError> {
        let mark = self.mark_page().await?;
        self.click(element).await?;
        self.wait_for_new_page(&mark, path).await
    }

    /// Navigates to `url` and checks the browser landed exactly on `path` (after any redirect);
    /// answers the final URL.
    pub async fn goto_page(&self, url: &str, path: &str) -> Result<String, WebDriverError> {
        let mark = self.mark_page().await.ok();
        self.goto(url).await?;
        match mark {
            Some(mark) => self.wait_for_new_page(&mark, path).await,
            // No document to mark yet (a fresh session's about:blank refuses nothing, but a
            // crashed page might): goto has waited for the load already.
            None => self.wait_for_new_page(&PageMark(String::new()), path).await,
        }
    }

    /// Lets the page finish what it is doing now: resolves after two animation frames and a
    /// task queued behind them, so that work already queued (a fetch's handler, a render) has
    /// run. Used before asserting that something did *not* happen, after waiting for the
    /// event that would have caused it.
    pub async fn drain(&self) -> Result<(), WebDriverError> {
        self.execute_async(
            "const done = arguments[arguments.length - 1];
             requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => done(true), 0)));",
            vec![],
        )
        .await
        .map(drop)
    }

    /// Console messages and uncaught errors (`Uncaught Error: ...`, unhandled rejections too)
    /// since the previous call: chromedriver hands out each entry once. Capture starts with the
    /// session, so it includes scripts that run before DOMContentLoaded.
    pub async fn browser_log(&self) -> Result<Vec<LogEntry>, WebDriverError> {
        let entries = self.post("/se/log", json!({ "type": "browser" })).await?;
        let entries = entries.as_array().into_iter().flatten();
        let entry = |e: &Value| LogEntry { level: string(e["level"].clone()), message: string(e["message"].clone()) };
        Ok(entries.map(entry).collect())
    }

    /// A PNG of the viewport.
    pub async fn screenshot_png(&self) -> Result<Vec<u8>, WebDriverError> {
        let data = string(self.get("/screenshot").await?);
        let png = base64::engine::general_purpose::STANDARD.decode(data);
        png.map_err(|e| protocol("invalid response", &format!("screenshot is not base64: {e}")))
    }

    /// A Chrome DevTools Protocol command through chromedriver (`goog/cdp/execute`): network
    /// and CPU throttling, cache control; returns the command's result.
    pub async fn cdp(&self, command: &str, params: Value) -> Result<Value, WebDriverError> {
        self.post("/goog/cdp/execute", json!({ "cmd": command, "params": params })).await
    }

    /// Resizes the outer window (mobile emulation keeps its fixed screen size).
    pub async fn set_window_size(&self, width: u32, height: u32) -> Result<(), WebDriverError> {
        self.post("/window/rect", json!({ "width": width, "height": height })).await.map(drop)
    }

    /// Ends the session (Chromium exits); Drop then deletes the profile directory.
    pub async fn quit(mut self) -> Result<(), WebDriverError> {
        self.quit = true;
        self.call(Method::DELETE, "", None).await.map(drop)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.quit {
            // Drop cannot await; one blocking HTTP/1.1 request over loopback is simple enough.
            // chromedriver answers once Chromium is gone but keeps the connection open, so
            // the first bytes of the answer are all we wait for.
            use std::io::{Read, Write};
            if let Ok(mut stream) = std::net::TcpStream::connect(&self.driver_addr) {
                let (session, host) = (&self.session, &self.driver_addr);
                let request = format!(
                    "DELETE /session/{session} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
                );
                let _ = stream.set_read_timeout(Some(10 * SECOND));
                let _ = stream.write_all(request.as_bytes()).and_then(|()| stream.read(&mut [0; 256]));
            }
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// One WebDriver command: the response's `value`, or its W3C error as `Protocol`.
async fn send(http: &reqwest::Client, method: Method, url: &str, body: Option<Value>) -> Result<Value, WebDriverError> {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let mut response: Value = request.send().await?.json().await?;
    let value = response.get_mut("value").map(Value::take).unwrap_or_default();
    match value["error"].as_str() {
        Some(error) => Err(protocol(error, value["message"].as_str().unwrap_or_default())),
        None => Ok(value),
    }
}

fn protocol(error: &str, message: &str) -> WebDriverError {
    WebDriverError::Protocol { error: error.to_owned(), message: message.to_owned() }
}

fn string(value: Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// JavaScript truthiness of a JSON result (NaN already arrives as null).
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}
