//! Server settings from `AMAZONPAY2_*` environment variables (README, "Server").

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use url::Url;

use crate::core::settings::CoreSettings;
pub use crate::core::settings::{AmazonAccount, ShopOrigin, ShopPages, is_local_path};

/// Everything the server needs to know, checked once at start.
#[derive(Clone, Debug)]
pub struct Config {
    /// `AMAZONPAY2_LISTEN`.
    pub listen: SocketAddr,
    /// `AMAZONPAY2_SHOP_ORIGIN`.
    pub shop_origin: ShopOrigin,
    /// The merchant's Amazon Pay identity.
    pub amazon: AmazonAccount,
    /// Where the private key comes from.
    pub key: KeySource,
    /// `AMAZONPAY2_DATA`.
    pub data_dir: PathBuf,
    /// `AMAZONPAY2_DATABASE_URL`: PostgreSQL instead of the embedded SQLite in `data_dir`.
    pub database_url: Option<DatabaseUrl>,
    /// `AMAZONPAY2_API_BASE`.
    pub api_base: Url,
    /// `AMAZONPAY2_CHECKOUT_JS`.
    pub checkout_js: Url,
    /// `AMAZONPAY2_WWW`: the shop pages served at the site root.
    pub www_dir: PathBuf,
    /// `AMAZONPAY2_WIDGET`: a folder with the built widget to serve at `/amazonpay2/`; unset, the
    /// server serves the widget embedded in its binary (see `files`).
    pub widget_dir: Option<PathBuf>,
    /// The shop's own pages the Amazon flows send shoppers to.
    pub pages: ShopPages,
    /// `AMAZONPAY2_STORE_NAME`: the store name Amazon shows the buyer (Seller Central's if unset).
    pub store_name: Option<String>,
    /// Present in demo mode: the simulator runs beside the shop.
    pub demo: Option<DemoSettings>,
    /// `AMAZONPAY2_SIMULATOR_LISTEN`: where the simulator listens (the demo's, or the
    /// `simulator` command's).
    pub simulator_listen: SocketAddr,
    /// `AMAZONPAY2_IPN_CERT_HOSTS`: origins whose SNS certificates are trusted for Amazon's
    /// notifications besides `https://sns.<region>.amazonaws.com` (the simulator's in the demo).
    pub ipn_cert_origins: Vec<String>,
    /// `AMAZONPAY2_IPN_TOPIC_ARNS`: the SNS topics Amazon's notifications may come from; empty,
    /// every topic is followed, and the topics seen are listed for the owner (see README).
    pub ipn_topic_arns: Vec<String>,
    /// `AMAZONPAY2_MASTER_KEY`: the file of 32 random bytes that seals every shop's private key
    /// in the database (the demo's is made in `AMAZONPAY2_DATA`). Needed once shops have keys of
    /// their own.
    pub master_key: Option<PathBuf>,
}

/// A checked `postgres://` URL. It may hold a password: it is never printed (`Debug` shows only
/// that one is set).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Checks a URL as `AMAZONPAY2_DATABASE_URL` would.
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        crate::storage::parse_postgres_url(url).map_err(|problem| invalid("AMAZONPAY2_DATABASE_URL", problem))?;
        Ok(Self(url.to_owned()))
    }

    /// The URL itself, for the driver.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(postgres://…)")
    }
}

/// Where the private key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// A PEM file (`AMAZONPAY2_PRIVATE_KEY`).
    File(PathBuf),
    /// Demo mode without a key: generated once and kept in the data folder.
    Generated,
}

/// Demo-only settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoSettings {
    /// `AMAZONPAY2_SIMULATOR_LISTEN`: the simulator's own address, i.e. its own origin.
    pub simulator_listen: SocketAddr,
    /// `AMAZONPAY2_SIMULATOR_QUOTAS=off`: the simulator keeps none of Amazon's throttling quotas,
    /// and the shop sends its calls without waiting for their turn: only for benchmarks that
    /// measure this program's own cost, faster than Amazon would ever let a merchant go.
    pub quotas_lifted: bool,
}

/// A setting that is missing or wrong; the message names the variable and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Settings a shop cannot run without are not set (none at all, or only some): outside
    /// `--demo` the server and every command refuse to start rather than fall back to the demo
    /// (its `./data`, its simulator, its `admin` account).
    #[error(
        "missing settings: {} (set them in the environment, or start with --demo for the offline demo)",
        .0.join(", ")
    )]
    Incomplete(Vec<&'static str>),
    /// A variable holds a value that cannot be right.
    #[error("{name}: {problem}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        problem: String,
    },
}

/// The demo shop's name, shown on Amazon's pages and written in the demo's pages (`www/`).
pub const DEMO_STORE_NAME: &str = "クラフト雑貨店";

/// The values used by the demo when the Amazon settings are not given.
pub mod demo_defaults {
    /// A merchant ID in Amazon's shape.
    pub const MERCHANT_ID: &str = "A2CRAFTCARTDEMO";
    /// A Store ID in Amazon's shape.
    pub const STORE_ID: &str = "amzn1.application-oa2-client.craftcartdemo00000000000000000";
    /// A sandbox public key ID.
    pub const PUBLIC_KEY_ID: &str = "SANDBOX-AMAZONPAY2DEMOKEY000000000";
    /// Where the simulator listens.
    pub const SIMULATOR_LISTEN: &str = "127.0.0.1:8081";
}

/// The settings a shop cannot run without (outside `--demo`).
pub const REQUIRED_VARS: [&str; 5] = [
    "AMAZONPAY2_MERCHANT_ID",
    "AMAZONPAY2_STORE_ID",
    "AMAZONPAY2_PUBLIC_KEY_ID",
    "AMAZONPAY2_PRIVATE_KEY",
    "AMAZONPAY2_SHOP_ORIGIN",
];

impl Config {
    /// Reads the process environment; `demo` is the `--demo` flag.
    pub fn from_env(demo: bool) -> Result<Self, ConfigError> {
        Self::from_vars(demo, |name| std::env::var(name).ok())
    }

    /// Reads settings through `var` (the environment, or a map in tests). Empty values count as
    /// unset, as a blank line in a service file would. Only `demo` (`--demo`) fills in what is
    /// missing with the demo's values; otherwise every missing setting is named at once, so that
    /// a server or a cron job started without its environment file does nothing at all.
    pub fn from_vars(demo: bool, var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        if !demo {
            let mut missing: Vec<&'static str> = REQUIRED_VARS.into_iter().filter(|n| var(n).is_none()).collect();
            // An unprefixed key ID says nothing of the mode: then the mode must be set too.
            let unprefixed =
                var("AMAZONPAY2_PUBLIC_KEY_ID").is_some_and(|id| crate::amazon::key_id_sandbox(&id).is_none());
            if unprefixed && var("AMAZONPAY2_SANDBOX").is_none() {
                missing.push("AMAZONPAY2_SANDBOX");
            }
            if !missing.is_empty() {
                return Err(ConfigError::Incomplete(missing));
            }
        }

        let listen = parse_addr("AMAZONPAY2_LISTEN", var("AMAZONPAY2_LISTEN"), "127.0.0.1:8080")?;
        let shop_origin = match var("AMAZONPAY2_SHOP_ORIGIN") {
            Some(value) => ShopOrigin::parse(&value).map_err(|problem| invalid("AMAZONPAY2_SHOP_ORIGIN", problem))?,
            // Only the demo comes here (the origin is required otherwise): its own address.
            None => ShopOrigin::parse(&format!("http://{listen}"))
                .map_err(|problem| invalid("AMAZONPAY2_LISTEN", problem))?,
        };

        let merchant_id = var("AMAZONPAY2_MERCHANT_ID").unwrap_or_else(|| demo_defaults::MERCHANT_ID.to_owned());
        check_token("AMAZONPAY2_MERCHANT_ID", &merchant_id, |c| c.is_ascii_alphanumeric())?;
        let store_id = var("AMAZONPAY2_STORE_ID").unwrap_or_else(|| demo_defaults::STORE_ID.to_owned());
        check_token("AMAZONPAY2_STORE_ID", &store_id, |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))?;
        if !store_id.starts_with("amzn1.application-oa2-client.") {
            return Err(invalid(
                "AMAZONPAY2_STORE_ID",
                "must start with amzn1.application-oa2-client. (Seller Central's Store ID)".into(),
            ));
        }
        let public_key_id = var("AMAZONPAY2_PUBLIC_KEY_ID").unwrap_or_else(|| demo_defaults::PUBLIC_KEY_ID.to_owned());
        check_token("AMAZONPAY2_PUBLIC_KEY_ID", &public_key_id, |c| c.is_ascii_alphanumeric() || c == '-')?;
        let sandbox = sandbox_mode(demo, var("AMAZONPAY2_SANDBOX"), &public_key_id)?;
        if !sandbox && !shop_origin.is_https() {
            return Err(invalid(
                "AMAZONPAY2_SHOP_ORIGIN",
                "must be https:// in production (Amazon returns shoppers only to https)".into(),
            ));
        }

        let key = match var("AMAZONPAY2_PRIVATE_KEY") {
            Some(path) => KeySource::File(PathBuf::from(path)),
            None => KeySource::Generated,
        };

        let simulator_listen = parse_addr(
            "AMAZONPAY2_SIMULATOR_LISTEN",
            var("AMAZONPAY2_SIMULATOR_LISTEN"),
            demo_defaults::SIMULATOR_LISTEN,
        )?;
        let quotas_lifted = match var("AMAZONPAY2_SIMULATOR_QUOTAS").as_deref() {
            None | Some("on") => false,
            Some("off") if demo => true,
            Some("off") => {
                return Err(invalid("AMAZONPAY2_SIMULATOR_QUOTAS", "applies only to the demo's simulator".into()));
            }
            Some(other) => return Err(invalid("AMAZONPAY2_SIMULATOR_QUOTAS", format!("'{other}' is not on or off"))),
        };
        let demo = demo.then_some(DemoSettings { simulator_listen, quotas_lifted });
        // In the demo, Amazon is the simulator unless these are set explicitly (tests point
        // them at dead or broken stand-ins).
        let (default_api_base, default_checkout_js) = match &demo {
            Some(settings) => (
                format!("http://{}", settings.simulator_listen),
                format!("http://{}/checkout.js", settings.simulator_listen),
            ),
            None => {
                ("https://pay-api.amazon.jp".to_owned(), "https://static-fe.payments-amazon.com/checkout.js".to_owned())
            }
        };
        let api_base = parse_url("AMAZONPAY2_API_BASE", &var("AMAZONPAY2_API_BASE").unwrap_or(default_api_base))?;
        let checkout_js = var("AMAZONPAY2_CHECKOUT_JS").unwrap_or(default_checkout_js);
        // The demo's notifications come from the simulator, signed with its own certificate.
        let ipn_cert_origins = match var("AMAZONPAY2_IPN_CERT_HOSTS") {
            Some(value) => cert_origins(&value)?,
            None if demo.is_some() => vec![api_base.origin().ascii_serialization()],
            None => Vec::new(),
        };

        let data_dir = PathBuf::from(var("AMAZONPAY2_DATA").unwrap_or_else(|| "./data".into()));
        let master_key = match var("AMAZONPAY2_MASTER_KEY") {
            Some(path) => Some(PathBuf::from(path)),
            None if demo.is_some() => Some(data_dir.join(DEMO_MASTER_KEY)),
            None => None,
        };
        let database_url = var("AMAZONPAY2_DATABASE_URL").map(|url| DatabaseUrl::parse(&url)).transpose()?;
        let www_dir = PathBuf::from(var("AMAZONPAY2_WWW").unwrap_or_else(|| "www".into()));
        let widget_dir = var("AMAZONPAY2_WIDGET").map(PathBuf::from);
        // Everything under the served folders is public: the key and the data must not be.
        let private: [(&'static str, &Path); 3] = [
            ("AMAZONPAY2_DATA", &data_dir),
            ("AMAZONPAY2_MASTER_KEY", master_key.as_deref().unwrap_or(&data_dir)),
            (
                "AMAZONPAY2_PRIVATE_KEY",
                match &key {
                    KeySource::File(path) => path,
                    KeySource::Generated => &data_dir,
                },
            ),
        ];
        for (name, path) in private {
            let widget = widget_dir.as_deref().map(|dir| ("AMAZONPAY2_WIDGET", dir));
            for (served_name, served) in [("AMAZONPAY2_WWW", www_dir.as_path())].into_iter().chain(widget) {
                if lies_within(path, served) {
                    return Err(invalid(
                        name,
                        format!("must not lie inside {served_name}, whose files are served to anyone"),
                    ));
                }
            }
        }

        let page = |name: &'static str, default: &str| {
            let path = var(name).unwrap_or_else(|| default.to_owned());
            if is_local_path(&path) {
                Ok(path)
            } else {
                Err(invalid(name, format!("'{path}' is not a path on the shop, such as /mypage/")))
            }
        };
        let defaults = ShopPages::default();
        let pages = ShopPages {
            login: page("AMAZONPAY2_LOGIN_PAGE", &defaults.login)?,
            signup: page("AMAZONPAY2_SIGNUP_PAGE", &defaults.signup)?,
            mypage: page("AMAZONPAY2_MYPAGE", &defaults.mypage)?,
            cart: page("AMAZONPAY2_CART_PAGE", &defaults.cart)?,
            confirm: page("AMAZONPAY2_CONFIRM_PAGE", &defaults.confirm)?,
            complete: page("AMAZONPAY2_COMPLETE_PAGE", &defaults.complete)?,
        };
        let store_name = match var("AMAZONPAY2_STORE_NAME") {
            Some(name) if name.chars().count() > 50 || name.chars().any(char::is_control) => {
                return Err(invalid("AMAZONPAY2_STORE_NAME", "must be at most 50 characters on one line".into()));
            }
            Some(name) => Some(name),
            None if demo.is_some() => Some(DEMO_STORE_NAME.to_owned()),
            None => None,
        };

        Ok(Self {
            listen,
            shop_origin,
            amazon: AmazonAccount { merchant_id, store_id, public_key_id, sandbox },
            key,
            data_dir,
            database_url,
            api_base,
            checkout_js: parse_url("AMAZONPAY2_CHECKOUT_JS", &checkout_js)?,
            www_dir,
            widget_dir,
            pages,
            store_name,
            demo,
            simulator_listen,
            ipn_cert_origins,
            ipn_topic_arns: topic_arns(var("AMAZONPAY2_IPN_TOPIC_ARNS").as_deref().unwrap_or_default())?,
            master_key,
        })
    }
}

/// The demo's master key file, in its data folder.
const DEMO_MASTER_KEY: &str = "master.key";

impl Config {
    /// The master key, read from `AMAZONPAY2_MASTER_KEY` (in the demo, made on first use).
    pub fn master_key(&self) -> Result<crate::storage::vault::MasterKey, ConfigError> {
        use crate::storage::vault::MasterKey;
        let Some(path) = &self.master_key else {
            return Err(ConfigError::Incomplete(vec!["AMAZONPAY2_MASTER_KEY"]));
        };
        let read = if self.demo.is_some() { MasterKey::read_or_create(path) } else { MasterKey::read(path) };
        read.map_err(|problem| invalid("AMAZONPAY2_MASTER_KEY", problem.to_string()))
    }

    /// What the core needs of these settings.
    pub fn core_settings(&self) -> CoreSettings {
        CoreSettings {
            shop_origin: self.shop_origin.clone(),
            amazon: self.amazon.clone(),
            pages: self.pages.clone(),
            store_name: self.store_name.clone(),
            ipn_cert_origins: self.ipn_cert_origins.clone(),
            ipn_topic_arns: self.ipn_topic_arns.clone(),
            paced: !self.demo.as_ref().is_some_and(|demo| demo.quotas_lifted),
        }
    }
}

/// Sandbox or production. The key ID's prefix decides when it has one, because checkout.js
/// refuses a button whose `sandbox` contradicts it; an unprefixed key needs the explicit setting.
fn sandbox_mode(demo: bool, value: Option<String>, public_key_id: &str) -> Result<bool, ConfigError> {
    let from_prefix = crate::amazon::key_id_sandbox(public_key_id);
    let explicit = match value.as_deref() {
        None => None,
        Some("true" | "1") => Some(true),
        Some("false" | "0") => Some(false),
        Some(other) => {
            return Err(invalid("AMAZONPAY2_SANDBOX", format!("'{other}' is not true or false")));
        }
    };
    match (explicit, from_prefix) {
        (Some(a), Some(b)) if a != b => {
            Err(invalid("AMAZONPAY2_SANDBOX", format!("{a} contradicts the public key ID prefix ({public_key_id})")))
        }
        (Some(mode), _) | (None, Some(mode)) => Ok(mode),
        (None, None) if demo => Ok(true),
        (None, None) => Err(invalid(
            "AMAZONPAY2_SANDBOX",
            "required for an unprefixed public key ID: true (テスト) or false (本番)".into(),
        )),
    }
}

/// Whether `path` is `dir` or inside it, following symbolic links where the paths exist.
fn lies_within(path: &Path, dir: &Path) -> bool {
    let resolve = |p: &Path| p.canonicalize().or_else(|_| std::path::absolute(p)).unwrap_or_else(|_| p.to_path_buf());
    resolve(path).starts_with(resolve(dir))
}

fn invalid(name: &'static str, problem: String) -> ConfigError {
    ConfigError::Invalid { name, problem }
}

fn parse_addr(name: &'static str, value: Option<String>, default: &str) -> Result<SocketAddr, ConfigError> {
    let value = value.unwrap_or_else(|| default.to_owned());
    value.parse().map_err(|_| invalid(name, format!("'{value}' is not an address such as 127.0.0.1:8080")))
}

fn parse_url(name: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| invalid(name, format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(name, "must be an http(s) URL".into()));
    }
    Ok(url)
}

/// `AMAZONPAY2_IPN_CERT_HOSTS`: comma-separated hosts (`sns.example` = `https://sns.example`) or
/// origins. Plain http only on this machine: a certificate fetched in the clear from elsewhere
/// could be swapped on the way, and with it every notification forged.
fn cert_origins(value: &str) -> Result<Vec<String>, ConfigError> {
    const NAME: &str = "AMAZONPAY2_IPN_CERT_HOSTS";
    let mut origins = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let written = if entry.contains("://") { entry.to_owned() } else { format!("https://{entry}") };
        let url =
            Url::parse(&written).map_err(|e| invalid(NAME, format!("'{entry}' is not a host or origin ({e})")))?;
        let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none() && url.username().is_empty();
        if !bare {
            return Err(invalid(NAME, format!("'{entry}' must be a host or scheme://host[:port], nothing more")));
        }
        let local = matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
            || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
            || url.host_str() == Some("localhost");
        match url.scheme() {
            "https" => {}
            "http" if local => {}
            _ => return Err(invalid(NAME, format!("'{entry}' must be https (http only for this machine)"))),
        }
        origins.push(url.origin().ascii_serialization());
    }
    Ok(origins)
}

/// `AMAZONPAY2_IPN_TOPIC_ARNS`: comma-separated SNS topic ARNs.
fn topic_arns(value: &str) -> Result<Vec<String>, ConfigError> {
    let arns: Vec<String> = value.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect();
    match arns.iter().find(|arn| !crate::core::notifications::is_topic_arn(arn)) {
        Some(bad) => Err(invalid(
            "AMAZONPAY2_IPN_TOPIC_ARNS",
            format!(
                "'{}' is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)",
                bad.chars().take(80).collect::<String>()
            ),
        )),
        None => Ok(arns),
    }
}

/// Identifiers end up in JSON, HTML and HTTP headers: only plain characters are accepted.
fn check_token(name: &'static str, value: &str, allowed: impl Fn(char) -> bool) -> Result<(), ConfigError> {
    if value.len() > 128 || !value.chars().all(allowed) {
        return Err(invalid(name, "contains characters Seller Central never issues".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(demo: bool, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_vars(demo, |name| vars.get(name).cloned())
    }

    const PRODUCTION: &[(&str, &str)] = &[
        ("AMAZONPAY2_MERCHANT_ID", "A1XXXXXXXXXXXX"),
        ("AMAZONPAY2_STORE_ID", "amzn1.application-oa2-client.abc"),
        ("AMAZONPAY2_PUBLIC_KEY_ID", "LIVE-AAAAAAAA"),
        ("AMAZONPAY2_PRIVATE_KEY", "/etc/shop/key.pem"),
        ("AMAZONPAY2_SHOP_ORIGIN", "https://shop.example"),
    ];

    #[test]
    fn a_database_url_selects_postgresql_and_is_never_printed() {
        assert_eq!(config(true, &[]).unwrap().database_url, None, "no setting: SQLite in the data folder");
        let url = "postgres://shop:s3cret@db.internal/amazonpay2";
        let config = config(true, &[("AMAZONPAY2_DATABASE_URL", url)]).unwrap();
        assert_eq!(config.database_url.as_ref().map(DatabaseUrl::as_str), Some(url));
        assert!(!format!("{config:?}").contains("s3cret"));
        for bad in ["mysql://db/shop", "postgres://db", "/var/lib/shop.sqlite3"] {
            let err = super::tests::config(true, &[("AMAZONPAY2_DATABASE_URL", bad)]).unwrap_err();
            assert!(err.to_string().starts_with("AMAZONPAY2_DATABASE_URL"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_demo_runs_only_when_asked_for_and_then_on_the_simulator() {
        let config = config(true, &[]).unwrap();
        assert!(config.demo.is_some());
        assert!(config.amazon.sandbox);
        assert_eq!(config.key, KeySource::Generated);
        assert_eq!(config.shop_origin.as_str(), "http://127.0.0.1:8080");
        assert_eq!(config.checkout_js.as_str(), "http://127.0.0.1:8081/checkout.js");
    }

    #[test]
    fn amazons_quotas_are_paced_to_unless_the_demo_lifts_them_for_a_benchmark() {
        assert!(config(true, &[]).unwrap().core_settings().paced, "kept by default");
        assert!(config(false, PRODUCTION).unwrap().core_settings().paced);
        let lifted = config(true, &[("AMAZONPAY2_SIMULATOR_QUOTAS", "off")]).unwrap();
        assert!(!lifted.core_settings().paced && lifted.demo.is_some_and(|demo| demo.quotas_lifted));
        let mut production = PRODUCTION.to_vec();
        production.push(("AMAZONPAY2_SIMULATOR_QUOTAS", "off"));
        let err = config(false, &production).unwrap_err().to_string();
        assert!(err.contains("only to the demo"), "a shop at Amazon cannot stop pacing: {err}");
        let err = config(true, &[("AMAZONPAY2_SIMULATOR_QUOTAS", "none")]).unwrap_err().to_string();
        assert!(err.starts_with("AMAZONPAY2_SIMULATOR_QUOTAS") && err.contains("not on or off"), "{err}");
    }

    #[test]
    fn production_settings_are_read_and_point_at_amazon() {
        let config = config(false, PRODUCTION).unwrap();
        assert!(config.demo.is_none());
        assert!(!config.amazon.sandbox, "LIVE- key means production");
        assert_eq!(config.api_base.as_str(), "https://pay-api.amazon.jp/");
        assert_eq!(config.key, KeySource::File("/etc/shop/key.pem".into()));
    }

    #[test]
    fn without_its_settings_a_shop_does_not_start_and_every_missing_one_is_named() {
        let err = config(false, &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing settings: AMAZONPAY2_MERCHANT_ID, AMAZONPAY2_STORE_ID, AMAZONPAY2_PUBLIC_KEY_ID, \
             AMAZONPAY2_PRIVATE_KEY, AMAZONPAY2_SHOP_ORIGIN (set them in the environment, or start with --demo \
             for the offline demo)"
        );
        // A database alone is no shop: no demo on it either.
        let err = config(false, &[("AMAZONPAY2_DATABASE_URL", "postgres://shop@db.internal/amazonpay2")]).unwrap_err();
        assert!(matches!(&err, ConfigError::Incomplete(missing) if missing.len() == 5), "{err}");
    }

    #[test]
    fn half_configured_shops_do_not_start() {
        let err = config(false, &PRODUCTION[..2]).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "missing settings: AMAZONPAY2_PUBLIC_KEY_ID, AMAZONPAY2_PRIVATE_KEY, AMAZONPAY2_SHOP_ORIGIN ("
            ),
            "{err}"
        );
        let mut unprefixed = PRODUCTION.to_vec();
        unprefixed[2] = ("AMAZONPAY2_PUBLIC_KEY_ID", "AAAAAAAA");
        let err = config(false, &unprefixed).unwrap_err();
        assert!(err.to_string().starts_with("missing settings: AMAZONPAY2_SANDBOX ("), "{err}");
    }

    #[test]
    fn sandbox_must_agree_with_the_key_prefix_and_unprefixed_keys_need_it() {
        let mut vars = PRODUCTION.to_vec();
        vars.push(("AMAZONPAY2_SANDBOX", "true"));
        assert!(config(false, &vars).unwrap_err().to_string().contains("contradicts"));
        vars[2] = ("AMAZONPAY2_PUBLIC_KEY_ID", "AAAAAAAA");
        assert!(config(false, &vars).unwrap().amazon.sandbox);
        vars.pop();
        assert!(config(false, &vars).unwrap_err().to_string().contains("AMAZONPAY2_SANDBOX"));
        vars.push(("AMAZONPAY2_SANDBOX", "yes"));
        assert!(config(false, &vars).is_err());
    }

    #[test]
    fn shop_origins_are_origins_only_and_https_in_production() {
        for bad in [
            "shop.example",
            "ftp://shop.example",
            "https://shop.example/shop",
            "https://u:p@shop.example",
            "https://shop.example/?a=1",
        ] {
            assert!(ShopOrigin::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(ShopOrigin::parse("https://shop.example/").unwrap().url("/x"), "https://shop.example/x");
        let mut vars = PRODUCTION.to_vec();
        vars[4] = ("AMAZONPAY2_SHOP_ORIGIN", "http://shop.example");
        assert!(config(false, &vars).unwrap_err().to_string().contains("https"));
    }

    #[test]
    fn the_key_and_the_data_never_lie_in_a_served_folder() {
        let mut vars = PRODUCTION.to_vec();
        vars.push(("AMAZONPAY2_WWW", "/srv/shop/www"));
        vars[3] = ("AMAZONPAY2_PRIVATE_KEY", "/srv/shop/www/keys/key.pem");
        assert!(config(false, &vars).unwrap_err().to_string().starts_with("AMAZONPAY2_PRIVATE_KEY"));
        let err = config(true, &[("AMAZONPAY2_WIDGET", "target/widget"), ("AMAZONPAY2_DATA", "target/widget/data")])
            .unwrap_err();
        assert!(err.to_string().starts_with("AMAZONPAY2_DATA"), "{err}");
        assert!(config(true, &[("AMAZONPAY2_DATA", "www-data")]).is_ok(), "a prefix of the name is not inside");
    }

    #[test]
    fn identifiers_with_markup_are_refused() {
        let mut vars = PRODUCTION.to_vec();
        vars[0] = ("AMAZONPAY2_MERCHANT_ID", "A1\"><script>");
        assert!(config(false, &vars).is_err());
        vars[0] = ("AMAZONPAY2_MERCHANT_ID", "A1XXXXXXXXXXXX");
        vars[1] = ("AMAZONPAY2_STORE_ID", "some-other-id");
        assert!(config(false, &vars).is_err());
    }

    #[test]
    fn notification_certificates_come_from_sns_alone_in_production_and_from_the_simulator_in_the_demo() {
        let production = config(false, PRODUCTION).unwrap();
        assert!(production.ipn_cert_origins.is_empty());
        let demo = config(true, &[("AMAZONPAY2_SIMULATOR_LISTEN", "127.0.0.1:9191")]).unwrap();
        assert_eq!(demo.ipn_cert_origins, ["http://127.0.0.1:9191"]);

        let mut vars = PRODUCTION.to_vec();
        vars.push(("AMAZONPAY2_IPN_CERT_HOSTS", "certs.example, http://127.0.0.1:8081"));
        assert_eq!(config(false, &vars).unwrap().ipn_cert_origins, ["https://certs.example", "http://127.0.0.1:8081"]);
        for refused in
            ["http://certs.example", "https://certs.example/path", "ftp://localhost", "https://u@certs.example"]
        {
            vars.pop();
            vars.push(("AMAZONPAY2_IPN_CERT_HOSTS", refused));
            let err = config(false, &vars).unwrap_err().to_string();
            assert!(err.starts_with("AMAZONPAY2_IPN_CERT_HOSTS"), "{refused}: {err}");
        }
    }

    #[test]
    fn notification_topics_are_sns_topic_arns() {
        assert!(config(false, PRODUCTION).unwrap().ipn_topic_arns.is_empty());
        let mut vars = PRODUCTION.to_vec();
        vars.push((
            "AMAZONPAY2_IPN_TOPIC_ARNS",
            " arn:aws:sns:us-east-1:291180941288:A, arn:aws:sns:eu-west-1:291180941288:B ",
        ));
        let topics = config(false, &vars).unwrap().ipn_topic_arns;
        assert_eq!(topics, ["arn:aws:sns:us-east-1:291180941288:A", "arn:aws:sns:eu-west-1:291180941288:B"]);
        vars.pop();
        vars.push(("AMAZONPAY2_IPN_TOPIC_ARNS", "arn:aws:sns:us-east-1:291180941288:A,sns.amazonaws.com"));
        let err = config(false, &vars).unwrap_err().to_string();
        assert!(err.starts_with("AMAZONPAY2_IPN_TOPIC_ARNS") && err.contains("sns.amazonaws.com"), "{err}");
    }
}
