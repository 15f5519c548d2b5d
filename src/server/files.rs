//! The files the server serves: the shop's pages (`www/`) at the site root and the built widget
//! at `/amazonpay2/`.
//!
//! The widget is what every shop page loads, so it goes out as small and as rarely as it can: the
//! brotli or gzip variant (whichever the browser accepts: `build.sh` wrote the wasm's, the server
//! makes the loader's once it has written its checkout.js URL into it), the wasm under a name
//! carrying its content hash and kept by browsers for good, and the loader (`widget.js`, the name
//! shops paste) kept ten minutes and then revalidated with its `ETag` (a 304 without a body).
//! It comes from the binary itself (embedded at build time), or from a folder named by
//! `AMAZONPAY2_WIDGET`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use tower_http::cors::CorsLayer;
use tower_http::services::ServeDir;

use super::AppState;
use super::config::{Config, DEMO_STORE_NAME};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/widget_files.rs"));
}

/// The widget and the shop pages, as [`Served::resolve`] found them.
pub struct Served {
    /// The built widget.
    pub widget: Arc<WidgetFiles>,
    /// The shop pages, when there are any.
    pub www: Option<PathBuf>,
}

/// Why the server has nothing to serve.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    /// No built widget anywhere.
    #[error(
        "no widget to serve: this binary was built before the widget and there is no target/widget/widget.js; \
         run ./build.sh, or set AMAZONPAY2_WIDGET to the folder build.sh wrote"
    )]
    NoWidget,
    /// `AMAZONPAY2_WIDGET` names a folder without a built widget.
    #[error("AMAZONPAY2_WIDGET: {0} holds no built widget (widget.js and its wasm); run ./build.sh")]
    BadWidgetFolder(String),
    /// The demo's pages are nowhere to be found.
    #[error(
        "AMAZONPAY2_WWW: the demo's shop pages (www/) are neither in {0} nor beside the binary; \
         start the server from the repository or set AMAZONPAY2_WWW"
    )]
    NoPages(String),
}

impl Served {
    /// Finds the widget (the folder `AMAZONPAY2_WIDGET` names, else the one embedded in the
    /// binary, else `target/widget` on disk) and the shop pages (`AMAZONPAY2_WWW`, else `www/` in
    /// the working folder or beside the binary). The demo refuses to run without its pages; a
    /// shop's own server may serve the widget and the API alone.
    pub fn resolve(config: &Config) -> Result<Self, FilesError> {
        let widget = match &config.widget_dir {
            Some(dir) => WidgetFiles::from_dir(dir, config)
                .ok_or_else(|| FilesError::BadWidgetFolder(dir.display().to_string()))?,
            None => WidgetFiles::embedded(config)
                .or_else(|| WidgetFiles::from_dir(Path::new("target/widget"), config))
                .ok_or(FilesError::NoWidget)?,
        };
        let www = find_pages(&config.www_dir);
        if www.is_none() && config.demo.is_some() {
            return Err(FilesError::NoPages(config.www_dir.display().to_string()));
        }
        Ok(Self { widget: Arc::new(widget), www })
    }
}

impl fmt::Display for Served {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "widget at /amazonpay2/ from {}; ", self.widget.source)?;
        match &self.www {
            Some(www) => write!(f, "shop pages from {}", www.display()),
            None => write!(f, "no shop pages (AMAZONPAY2_WWW): the widget and the API only"),
        }
    }
}

/// The shop pages: the configured folder, or for the default (`www`) the `www/` beside the binary
/// or two levels up (`target/release/amazonpay2-server` in the repository).
fn find_pages(configured: &Path) -> Option<PathBuf> {
    if configured.is_dir() {
        return Some(configured.to_path_buf());
    }
    if configured != Path::new("www") {
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors().skip(1).take(3).map(|dir| dir.join("www")).find(|dir| dir.is_dir())
}

/// The widget under `/amazonpay2/` and the shop pages as the fallback. The wasm is fetched
/// relative to widget.js, so a widget served from another origin than the shop pages needs the
/// shop origin granted; the fetch sends no credentials, so the grant allows none (and every
/// phone downloads a header less).
pub fn routes<S: Clone + Send + Sync + 'static>(config: &Config) -> Router<S> {
    let cors = CorsLayer::new()
        .allow_origin(HeaderValue::from_str(config.shop_origin.as_str()).into_iter().collect::<Vec<_>>())
        .allow_methods([Method::GET, Method::HEAD]);
    let (widget, www) = match Served::resolve(config) {
        Ok(served) => (served.widget, served.www),
        Err(error) => {
            tracing::error!(%error, "serving no widget");
            (Arc::new(WidgetFiles { source: String::new(), files: Vec::new() }), find_pages(&config.www_dir))
        }
    };
    let widget = Router::new()
        .route("/amazonpay2/{file}", get(move |UrlPath(file): UrlPath<String>, headers| serve(widget, file, headers)))
        .layer(cors);
    match www {
        Some(www) => widget.merge(
            Router::new()
                .fallback_service(ServeDir::new(www).append_index_html_on_directories(true))
                .layer(middleware::from_fn(named_for_the_shop)),
        ),
        None => widget.fallback(|| async { StatusCode::NOT_FOUND }),
    }
}

/// The largest page renamed for its shop (the demo's are under 4 KiB).
const MAX_PAGE: usize = 256 * 1024;

/// The demo's pages are one set of files for every shop, written with the first shop's name: a
/// page served on another shop's host carries that shop's name instead (its title and header),
/// escaped as HTML. Other files, and pages of a shop with the first shop's name, go out as they
/// are.
async fn named_for_the_shop(request: Request, next: Next) -> Response {
    let app = match request.method() {
        &Method::GET => request.extensions().get::<Arc<AppState>>().cloned(),
        _ => None,
    };
    let response = next.run(request).await;
    let Some(name) =
        app.as_ref().and_then(|app| app.config.store_name.as_deref()).filter(|name| *name != DEMO_STORE_NAME)
    else {
        return response;
    };
    let html =
        response.headers().get(header::CONTENT_TYPE).is_some_and(|kind| kind.as_bytes().starts_with(b"text/html"));
    if !html || response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(page) = axum::body::to_bytes(body, MAX_PAGE).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let renamed = String::from_utf8_lossy(&page).replace(DEMO_STORE_NAME, &escape_html(name));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(renamed))
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// The built widget's files, each with its precompressed variants.
pub struct WidgetFiles {
    /// Where they come from, for the start-up line.
    source: String,
    files: Vec<WidgetFile>,
}

struct WidgetFile {
    name: String,
    identity: Vec<u8>,
    brotli: Option<Vec<u8>>,
    gzip: Option<Vec<u8>>,
    /// A strong validator of the file's content (each encoding adds its own suffix).
    etag: String,
}

impl WidgetFiles {
    /// The widget embedded in this binary, if it was built before the server.
    fn embedded(config: &Config) -> Option<Self> {
        let entries = embedded::EMBEDDED.iter().map(|(name, bytes)| ((*name).to_owned(), bytes.to_vec()));
        Self::from_entries("the binary (embedded at build time)".to_owned(), entries.collect(), config)
    }

    /// The widget in `dir`, as `build.sh` writes it.
    fn from_dir(dir: &Path, config: &Config) -> Option<Self> {
        let entries = std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|entry| Some((entry.file_name().into_string().ok()?, std::fs::read(entry.path()).ok()?)))
            .collect();
        Self::from_entries(format!("the folder {}", dir.display()), entries, config)
    }

    /// Groups `name`, `name.br` and `name.gz`; `None` without a loader. The loader gets this
    /// server's checkout.js URL, so that it can start loading checkout.js with the API request.
    fn from_entries(source: String, mut entries: Vec<(String, Vec<u8>)>, config: &Config) -> Option<Self> {
        let url = serde_json::to_string(config.checkout_js.as_str()).ok()?;
        let loader = entries.iter().position(|(name, _)| name == "widget.js")?;
        if let Some(spliced) = splice(&entries[loader].1, CHECKOUT_JS_PLACEHOLDER, url.as_bytes()) {
            let (gzip, brotli) = (gzip(&spliced).ok()?, brotli(&spliced).ok()?);
            entries.retain(|(name, _)| name != "widget.js.br" && name != "widget.js.gz");
            entries.push(("widget.js.gz".to_owned(), gzip));
            entries.push(("widget.js.br".to_owned(), brotli));
            entries[loader].1 = spliced;
        }
        let variant = |name: &str, suffix: &str| {
            let wanted = format!("{name}{suffix}");
            entries.iter().find(|(n, _)| *n == wanted).map(|(_, bytes)| bytes.clone())
        };
        let files: Vec<WidgetFile> = entries
            .iter()
            .filter(|(name, _)| !name.ends_with(".br") && !name.ends_with(".gz"))
            .map(|(name, identity)| WidgetFile {
                name: name.clone(),
                identity: identity.clone(),
                brotli: variant(name, ".br"),
                gzip: variant(name, ".gz"),
                etag: hex(&Sha256::digest(identity)[..8]),
            })
            .collect();
        files.iter().any(|f| f.name == "widget.js").then_some(Self { source, files })
    }
}

/// Where the loader expects the checkout.js URL (a JavaScript string).
const CHECKOUT_JS_PLACEHOLDER: &[u8] = b"\"@@CHECKOUT_JS@@\"";

/// `haystack` with its first `needle` replaced by `replacement`; `None` if there is none.
fn splice(haystack: &[u8], needle: &[u8], replacement: &[u8]) -> Option<Vec<u8>> {
    let at = haystack.windows(needle.len()).position(|window| window == needle)?;
    Some([&haystack[..at], replacement, &haystack[at + needle.len()..]].concat())
}

fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(body)?;
    encoder.finish()
}

/// Brotli at build.sh's settings (quality 11, 16 MiB window): once per start, for every first
/// visit's loader.
fn brotli(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 24, ..Default::default() };
    brotli::BrotliCompress(&mut &body[..], &mut out, &params)?;
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A content-hashed name (`amazonpay2_bg.<16 hex digits>.wasm`): its content never changes.
fn is_hashed(name: &str) -> bool {
    let mut parts = name.split('.');
    matches!((parts.next(), parts.next(), parts.next(), parts.next()), (Some("amazonpay2_bg"), Some(hash), Some("wasm"), None)
        if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// One widget file, in the best encoding the browser accepts, with its caching rules.
async fn serve(files: Arc<WidgetFiles>, name: String, headers: HeaderMap) -> Response {
    let Some(file) = files.files.iter().find(|f| f.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let accepted = headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let (encoding, body) = match (&file.brotli, &file.gzip) {
        (Some(brotli), _) if accepts(accepted, "br") => (Some("br"), brotli),
        (_, Some(gzip)) if accepts(accepted, "gzip") => (Some("gzip"), gzip),
        _ => (None, &file.identity),
    };
    let etag = format!("\"{}{}\"", file.etag, encoding.map(|e| format!("-{e}")).unwrap_or_default());
    let cache = if is_hashed(&file.name) {
        "public, max-age=31536000, immutable"
    } else if file.name == "widget.js" {
        "public, max-age=600"
    } else {
        "no-cache"
    };
    let content_type = match file.name.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        _ => "application/octet-stream",
    };
    let mut response = if matches_etag(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Response::new(Body::from(body.clone()));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some(encoding) = encoding {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        response
    };
    let out = response.headers_mut();
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if file.brotli.is_some() || file.gzip.is_some() {
        out.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, etag);
    }
    response
}

/// Whether `Accept-Encoding` allows `coding` (named, or `*`, without `q=0`).
fn accepts(accept_encoding: &str, coding: &str) -> bool {
    accept_encoding.split(',').any(|item| {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let refused = parts.any(|p| {
            let p = p.trim().replace(' ', "");
            p.strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0))
        });
        (name.eq_ignore_ascii_case(coding) || name == "*") && !refused
    })
}

/// Whether `If-None-Match` names `etag` (or `*`).
fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    let Some(value) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    value.split(',').map(|tag| tag.trim().trim_start_matches("W/")).any(|tag| tag == etag || tag == "*")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shops_name_goes_into_a_page_as_text_never_as_markup() {
        assert_eq!(escape_html("藍染め工房"), "藍染め工房");
        assert_eq!(
            escape_html("<script>alert('x')</script> & \"co\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;co&quot;"
        );
    }

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        assert!(accepts("gzip, deflate, br, zstd", "br"));
        assert!(accepts("gzip;q=1.0, br;q=0.5", "br"));
        assert!(!accepts("gzip, br;q=0", "br"));
        assert!(!accepts("gzip, br; q=0.0", "br"));
        assert!(accepts("*", "gzip"));
        assert!(!accepts("", "gzip"));
        assert!(!accepts("identity", "gzip"));
        assert!(!accepts("xbr", "br"));
    }

    #[test]
    fn only_content_hashed_wasm_names_are_immutable() {
        assert!(is_hashed("amazonpay2_bg.0123456789abcdef.wasm"));
        for name in [
            "amazonpay2_bg.wasm",
            "widget.js",
            "amazonpay2_bg.0123.wasm",
            "amazonpay2_bg.0123456789abcdeg.wasm",
            "x.0123456789abcdef.wasm",
        ] {
            assert!(!is_hashed(name), "{name}");
        }
    }

    fn demo_config() -> Config {
        Config::from_vars(true, |_| None).unwrap()
    }

    #[test]
    fn a_folder_without_a_loader_is_no_widget() {
        let entries = vec![("amazonpay2_bg.0123456789abcdef.wasm".to_owned(), vec![0, 97, 115, 109])];
        assert!(WidgetFiles::from_entries("test".into(), entries, &demo_config()).is_none());
    }

    #[test]
    fn the_loader_gets_the_checkout_js_url_and_a_gzip_and_brotli_of_its_own() {
        use std::io::Read as _;
        let loader = br#"var CHECKOUT_JS = "@@CHECKOUT_JS@@";"#.to_vec();
        let entries = vec![
            ("widget.js".to_owned(), loader),
            ("widget.js.br".to_owned(), b"stale".to_vec()),
            ("widget.js.gz".to_owned(), b"stale".to_vec()),
        ];
        let files = WidgetFiles::from_entries("test".into(), entries, &demo_config()).unwrap();
        let loader = &files.files[0];
        assert_eq!(loader.identity, br#"var CHECKOUT_JS = "http://127.0.0.1:8081/checkout.js";"#);
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(loader.gzip.as_deref().unwrap()).read_to_end(&mut unzipped).unwrap();
        assert_eq!(unzipped, loader.identity);
        let mut unbrotlied = Vec::new();
        brotli::BrotliDecompress(&mut loader.brotli.as_deref().unwrap(), &mut unbrotlied).unwrap();
        assert_eq!(unbrotlied, loader.identity, "not the build's brotli copy, which lacks the URL");
    }
}
