//! Discovery endpoints, served without a token: `GET /`, `GET /v3`, `GET /v3/info`, `GET /v2/info`.

use axum::extract::State;
use axum::Json;

use super::error::ApiError;
use crate::presenters::root as views;
use crate::state::AppState;

pub async fn root(State(state): State<AppState>) -> Json<views::RootView> {
    Json(views::root(&state.links))
}

pub async fn v3(State(state): State<AppState>) -> Json<views::V3View> {
    Json(views::v3(&state.links))
}

pub async fn v3_info(State(state): State<AppState>) -> Json<views::V3InfoView> {
    Json(views::v3_info(&state.links))
}

pub async fn v2_info(State(state): State<AppState>) -> Json<views::V2InfoView> {
    Json(views::v2_info(&state.links))
}

/// Unknown routes and unknown methods on known routes: CC's NotFound.
pub async fn not_found() -> ApiError {
    ApiError::unknown_route()
}
