//! `/v3/spaces`

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::extract::{CfJson, CurrentUser};
use crate::actions::spaces::{self as actions, SpaceError};
use crate::auth::permissions;
use crate::fetchers::{included, spaces};
use crate::messages::filters::SpaceFilter;
use crate::messages::include::{self, Include};
use crate::messages::list::ListParams;
use crate::messages::space_create::SpaceCreate;
use crate::presenters::{pagination, space};
use crate::state::AppState;

impl From<SpaceError> for ApiError {
    fn from(err: SpaceError) -> Self {
        match err {
            SpaceError::NotFound => ApiError::not_found("Space"),
            SpaceError::NotAuthorized => ApiError::not_authorized(),
            SpaceError::InvalidOrganization | SpaceError::NameTaken | SpaceError::HasApps => {
                ApiError::unprocessable(err.to_string())
            }
            SpaceError::Db(err) => err.into(),
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    CfJson(body): CfJson,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let input = SpaceCreate::parse(&body)?;
    let created = actions::create(&state.db, &user, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(space::present(&created, &state.links)),
    ))
}

pub async fn show(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let include = Include::from_show_query(query.as_deref(), include::SPACE)?;
    let found = actions::find_readable(&state.db, &user, &guid).await?;
    let included = included::for_spaces(&state.db, &[&found], &include).await?;
    let mut body = space::present(&found, &state.links);
    super::add_included(&mut body, &included, &state.links);
    Ok(Json(body))
}

pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = ListParams::parse(query.as_deref(), SpaceFilter::NAMES)?;
    let include = Include::from_list(&params, include::SPACE)?;
    let filter = SpaceFilter::from_params(&params);
    let visible = permissions::readable_spaces(&state.db, &user).await?;
    let (found, total) = spaces::list(&state.db, &visible, &filter, &params.page()).await?;
    let records: Vec<_> = found.iter().collect();
    let included = included::for_spaces(&state.db, &records, &include).await?;
    let resources = found
        .iter()
        .map(|s| space::present(s, &state.links))
        .collect();
    let mut body = pagination::present(resources, total, &params, "/v3/spaces", &state.links);
    super::add_included(&mut body, &included, &state.links);
    Ok(Json(body))
}

/// CC deletes spaces in a background job and answers 202 with the job's location; ours is
/// synchronous (a space without apps holds only role rows), so the deletion is done on 204.
pub async fn delete(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<StatusCode> {
    actions::delete(&state.db, &user, &guid).await?;
    Ok(StatusCode::NO_CONTENT)
}
