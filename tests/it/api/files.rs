//! Static files (the shop pages and the widget), the demo's canonical host, and CORS, in-process
//! (see `crate::common::api` for the harness).

use axum::body::Body;
use axum::http::{Method, header};

use crate::common::api::*;

// ---------------------------------------------------------------------------------------------
// Static files
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn www_pages_are_served_with_no_cache_and_nosniff() {
    let shop = Shop::demo().await;
    for (path, marker) in [("/", "TOP-PAGE"), ("/index.html", "TOP-PAGE"), ("/mypage/", "MY-PAGE")] {
        let reply = shop.get(path).await;
        reply.assert_status(200);
        assert!(reply.text().contains(marker), "{path}");
        assert!(reply.header(header::CONTENT_TYPE).is_some_and(|t| t.starts_with("text/html")));
        assert_eq!(reply.header(header::CACHE_CONTROL), Some("no-cache"), "{path}");
        assert_eq!(reply.header(header::X_CONTENT_TYPE_OPTIONS), Some("nosniff"), "{path}");
    }
}

#[tokio::test]
async fn www_edits_show_without_a_restart() {
    let shop = Shop::demo().await;
    write(&shop.dirs.www().join("new.html"), b"ADDED-LATER");
    assert!(shop.get("/new.html").await.text().contains("ADDED-LATER"));
}

#[tokio::test]
async fn the_widget_is_served_with_wasm_and_javascript_types() {
    let shop = Shop::demo().await;
    let wasm = shop.get("/amazonpay2/amazonpay2_bg.wasm").await;
    wasm.assert_status(200);
    assert_eq!(wasm.header(header::CONTENT_TYPE), Some("application/wasm"));
    assert_eq!(wasm.header(header::X_CONTENT_TYPE_OPTIONS), Some("nosniff"));
    let script = shop.get("/amazonpay2/widget.js").await;
    script.assert_status(200);
    assert!(script.header(header::CONTENT_TYPE).is_some_and(|t| t.contains("javascript")));
}

#[tokio::test]
async fn the_widget_files_can_be_fetched_by_the_shop_origin() {
    let shop = Shop::production().await;
    let request = request(Method::GET, "/amazonpay2/amazonpay2_bg.wasm")
        .header(header::ORIGIN, PRODUCTION_ORIGIN)
        .body(Body::empty())
        .unwrap();
    let reply = shop.send(request).await;
    reply.assert_status(200);
    assert_eq!(reply.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), Some(PRODUCTION_ORIGIN));
    // The loader fetches the wasm without credentials: none are granted.
    assert!(reply.header(header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none());
}

#[tokio::test]
async fn the_api_answers_carry_nosniff() {
    let shop = Shop::demo().await;
    assert_eq!(shop.browser().buttons(EVERY_KIND).await.header(header::X_CONTENT_TYPE_OPTIONS), Some("nosniff"));
    assert_eq!(shop.get("/api/amazonpay2/nope").await.header(header::X_CONTENT_TYPE_OPTIONS), Some("nosniff"));
}

/// Asserts that none of `paths` reveals the secret beside the folders or the private key.
async fn assert_not_served(shop: &Shop, paths: &[&str]) {
    for path in paths {
        let reply = shop.get(path).await;
        let body = reply.text();
        assert!(reply.status.as_u16() < 500, "{path}: {}", reply.status);
        assert!(!body.contains(SECRET), "{path} escaped the served folder");
        assert!(!body.contains("PRIVATE KEY"), "{path} served the private key");
    }
}

#[tokio::test]
async fn path_traversal_does_not_escape_the_served_folders() {
    let shop = Shop::demo().await;
    assert_not_served(
        &shop,
        &[
            "/../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E/secret.txt",
            "/..%2fsecret.txt",
            "/%2e%2e%2fsecret.txt",
            "/..%5csecret.txt",
            "/%252e%252e/secret.txt",
            "/mypage/../../secret.txt",
            "/mypage/%2e%2e/%2e%2e/secret.txt",
            "/amazonpay2/../secret.txt",
            "/amazonpay2/%2e%2e/secret.txt",
            "/amazonpay2/%2e%2e/%2e%2e/secret.txt",
            "/amazonpay2/..%2f..%2fsecret.txt",
            "/../Cargo.toml",
            "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_double_slash_never_comes_back_as_a_redirect_to_another_host() {
    let shop = Shop::demo().await;
    for path in ["//mypage", "///mypage", "//evil.example", "//\\evil.example/x", "/\\/evil.example"] {
        let mut location = path.to_owned();
        // Follow the shop's own redirects: none may leave the site.
        for _ in 0..3 {
            let reply = shop.get(&location).await;
            let Some(next) = reply.header(header::LOCATION) else { break };
            assert!(next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\"), "{path} → {next}");
            location = next.to_owned();
        }
    }
    shop.get("//mypage").await.assert_redirect_to("/mypage");
}

#[tokio::test]
async fn the_private_key_in_the_data_folder_is_never_served() {
    let shop = Shop::demo().await;
    let key = format!("/{DEMO_KEY_FILE}");
    assert_not_served(
        &shop,
        &[
            &key,
            "/data/demo-private-key.pem",
            "/amazonpay2/demo-private-key.pem",
            "/../data/demo-private-key.pem",
            "/%2e%2e/data/demo-private-key.pem",
            "/amazonpay2/%2e%2e/data/demo-private-key.pem",
            "/amazonpay2/..%2fdata%2fdemo-private-key.pem",
            "/api/amazonpay2/../../data/demo-private-key.pem",
        ],
    )
    .await;
}

#[tokio::test]
async fn the_private_key_is_not_served_even_when_it_lies_under_www() {
    // The demo keeps its generated key in the data folder; a shop names its key file.
    for (setting, under_www, key_file, production) in [
        ("AMAZONPAY2_DATA", "data", "data/demo-private-key.pem", false),
        ("AMAZONPAY2_PRIVATE_KEY", "keys/amazonpay2.pem", "keys/amazonpay2.pem", true),
    ] {
        let dirs = Dirs::new();
        write(&dirs.www().join(key_file), TEST_KEY_PEM.as_bytes());
        let value = dirs.www().join(under_www).display().to_string();
        let mut vars = if production { production_vars() } else { Vec::new() };
        vars.retain(|(name, _)| *name != setting);
        vars.push((setting, &value));
        // Either answer is right: refuse to start, or never serve the key.
        let Ok(config) = config_for(&dirs, &vars) else {
            continue;
        };
        let shop = Shop::from_config(config, dirs).await;
        assert_not_served(&shop, &[&format!("/{key_file}")]).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Demo: other host names are sent to the shop origin
// ---------------------------------------------------------------------------------------------

async fn get_with_host(shop: &Shop, uri: &str, host: &str) -> Reply {
    shop.send(request(Method::GET, uri).header(header::HOST, host).body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn the_demo_sends_another_host_name_to_the_shop_origin() {
    let shop = Shop::demo().await;
    let reply = get_with_host(&shop, "/mypage/?x=1", "localhost:8080").await;
    assert!(reply.status.is_redirection());
    assert_eq!(reply.header(header::LOCATION), Some("http://127.0.0.1:8080/mypage/?x=1"));
    get_with_host(&shop, "/", "127.0.0.1:8080").await.assert_status(200);
}

#[tokio::test]
async fn the_demo_redirect_cannot_be_steered_to_another_site() {
    let shop = Shop::demo().await;
    for uri in ["//evil.example/", "/\\evil.example/"] {
        let reply = get_with_host(&shop, uri, "evil.example").await;
        let location = reply.header(header::LOCATION).unwrap_or_default();
        assert!(location.starts_with("http://127.0.0.1:8080/"), "{uri} -> {location}");
    }
}

#[tokio::test]
async fn a_demo_with_an_https_shop_origin_serves_its_own_host() {
    let shop = Shop::with_vars(&[("AMAZONPAY2_SHOP_ORIGIN", "https://demo.example")]).await;
    let reply = get_with_host(&shop, "/", "demo.example").await;
    reply.assert_status(200);
    assert!(reply.text().contains("TOP-PAGE"));
}

// ---------------------------------------------------------------------------------------------
// CORS
// ---------------------------------------------------------------------------------------------

async fn preflight(shop: &Shop, origin: &str, method: &str, path: &str, headers: &str) -> Reply {
    let request = request(Method::OPTIONS, path)
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, method)
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, headers)
        .body(Body::empty())
        .unwrap();
    shop.send(request).await
}

#[tokio::test]
async fn a_preflight_from_the_shop_origin_is_allowed_with_credentials() {
    let shop = Shop::production().await;
    for (method, path, headers) in
        [("POST", "/api/amazonpay2/buttons", "content-type"), ("DELETE", "/api/amazonpay2/link", "x-amazonpay2-csrf")]
    {
        let reply = preflight(&shop, PRODUCTION_ORIGIN, method, path, headers).await;
        assert!(reply.status.is_success(), "{path}: {}", reply.status);
        assert_eq!(reply.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), Some(PRODUCTION_ORIGIN));
        assert_eq!(reply.header(header::ACCESS_CONTROL_ALLOW_CREDENTIALS), Some("true"));
        let allowed_methods = reply.header(header::ACCESS_CONTROL_ALLOW_METHODS).unwrap_or_default();
        assert!(allowed_methods.contains(method), "{allowed_methods}");
        let allowed_headers = reply.header(header::ACCESS_CONTROL_ALLOW_HEADERS).unwrap_or_default();
        assert!(allowed_headers.to_ascii_lowercase().contains(headers), "{allowed_headers}");
    }
}

#[tokio::test]
async fn a_preflight_from_another_origin_gets_no_allow_origin() {
    let shop = Shop::production().await;
    for origin in [FOREIGN_ORIGIN, "null", "https://shop.example.evil.example", "http://shop.example"] {
        let reply = preflight(&shop, origin, "POST", "/api/amazonpay2/buttons", "content-type").await;
        assert!(reply.status.as_u16() < 500);
        assert!(reply.header(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "{origin}");
    }
}

#[tokio::test]
async fn api_answers_to_the_shop_origin_allow_credentials() {
    let shop = Shop::production().await;
    let reply = shop.post_buttons("application/json", buttons_body(EVERY_KIND).to_string()).await;
    reply.assert_status(200);
    assert_eq!(reply.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), Some(PRODUCTION_ORIGIN));
    assert_eq!(reply.header(header::ACCESS_CONTROL_ALLOW_CREDENTIALS), Some("true"));
}
