//! The files the server serves: the shop's pages (`www/`) at the site root and the built widget
//! at `/amazonpay2/`.

use axum::Router;
use tower::ServiceBuilder;
use tower_http::cors::CorsLayer;
use tower_http::services::ServeDir;

use super::config::Config;

/// The widget under `/amazonpay2/` and the shop pages as the fallback. `cors` is the API's grant
/// to the shop origin: the wasm is fetched relative to widget.js, so a widget served from another
/// origin than the shop pages needs it too.
pub fn routes<S: Clone + Send + Sync + 'static>(config: &Config, cors: CorsLayer) -> Router<S> {
    let www = ServeDir::new(&config.www_dir).append_index_html_on_directories(true);
    let widget = ServiceBuilder::new().layer(cors).service(ServeDir::new(&config.widget_dir));
    Router::new().nest_service("/amazonpay2", widget).fallback_service(www)
}
