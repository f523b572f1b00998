//! `GET /`: the dashboard, one self-contained page (no CDN, no build step).

use axum::http::header;
use axum::response::IntoResponse;

/// The page, compiled in.
pub(crate) const PAGE: &str = include_str!("dashboard.html");

pub(crate) async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
}
