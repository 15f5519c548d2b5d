//! The button's artwork. Amazon's checkout.js draws its button from SVG images on Amazon's image
//! host (`m.media-amazon.com/images/G/…`), which the browser fetches and decodes on its own time;
//! the simulator's checkout.js asks for its stand-ins the same way, from the simulator's origin.
//! (Pictures inlined as `data:` URLs would be decoded at once, inside the script that draws the
//! button: a cost Amazon's button does not have.)

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Every picture, by file name.
const IMAGES: &[(&str, &str)] = &[
    ("chevrons-dark.svg", include_str!("images/chevrons-dark.svg")),
    ("chevrons-light.svg", include_str!("images/chevrons-light.svg")),
    ("logo-dark.svg", include_str!("images/logo-dark.svg")),
    ("logo-light.svg", include_str!("images/logo-light.svg")),
    ("microtext.svg", include_str!("images/microtext.svg")),
    ("sandbox.svg", include_str!("images/sandbox.svg")),
    ("signin-dark.svg", include_str!("images/signin-dark.svg")),
    ("signin-light.svg", include_str!("images/signin-light.svg")),
];

/// The picture named `name`, if there is one.
pub fn image(name: &str) -> Option<&'static str> {
    IMAGES.iter().find(|(file, _)| *file == name).map(|(_, svg)| *svg)
}

/// `GET /images/{name}`: kept for a year, as an image host's artwork is.
pub async fn serve(Path(name): Path<String>) -> Response {
    match image(&name) {
        Some(svg) => (
            [
                (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=31536000"),
            ],
            svg,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
