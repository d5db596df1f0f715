//! `/_emulator/ui/`: the web console, plain HTML, JavaScript and CSS embedded in the binary
//! (no build step). It reads the console's JSON endpoints and the services' own APIs (SQS,
//! Glue, Athena JSON protocols, which need no signature here) and follows `/_emulator/events`.

use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::server::Services;

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

pub fn routes() -> Router<Services> {
    Router::new()
        .route(
            "/_emulator/ui",
            get(|| async { Redirect::permanent("/_emulator/ui/") }),
        )
        .route(
            "/_emulator/ui/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/_emulator/ui/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/_emulator/ui/app.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
