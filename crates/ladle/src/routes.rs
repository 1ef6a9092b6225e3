//! The one route table: one line per endpoint, in Cloud Controller's path spelling.

use axum::routing::get;
use axum::Router;

use crate::api::{organizations, request_id, root};
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(root::root))
        .route("/v3", get(root::v3))
        .route("/v3/info", get(root::v3_info))
        .route("/v2/info", get(root::v2_info))
        .route(
            "/v3/organizations",
            get(organizations::list).post(organizations::create),
        )
        .route(
            "/v3/organizations/{guid}",
            get(organizations::show).delete(organizations::delete),
        )
        .fallback(root::not_found)
        .method_not_allowed_fallback(root::not_found)
        .layer(axum::middleware::from_fn(request_id::layer))
        .with_state(state)
}
