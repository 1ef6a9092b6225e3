//! `/v3/apps`, `/v3/apps/:guid`, and the app's variables (`/environment_variables`, `/env`).

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::Json;

use super::error::{ApiError, ApiResult};
use super::extract::{CfJson, CurrentUser};
use crate::actions::apps::{self as actions, AppDetails, AppError};
use crate::fetchers::included;
use crate::messages::app_create::AppCreate;
use crate::messages::app_update::AppUpdate;
use crate::messages::env_vars::EnvVarsPatch;
use crate::messages::filters::AppFilter;
use crate::messages::include::{self, Include};
use crate::messages::list::ListParams;
use crate::presenters::app::{self, AppView, EnvVarsView, EnvView};
use crate::presenters::included::WithIncluded;
use crate::presenters::pagination::{self, ListView};
use crate::state::AppState;

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        match err {
            AppError::NotFound => ApiError::not_found("App"),
            AppError::NotAuthorized => ApiError::not_authorized(),
            AppError::SpaceNotFound => ApiError::not_found("Space"),
            AppError::InvalidSpace | AppError::Invalid(_) => {
                ApiError::unprocessable(err.to_string())
            }
            AppError::NameTaken(_) => ApiError::unprocessable(err.to_string()),
            AppError::Contended => ApiError::internal(&err),
            AppError::Db(err) => err.into(),
        }
    }
}

pub async fn create(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    CfJson(body): CfJson,
) -> ApiResult<(StatusCode, Json<AppView>)> {
    let input = AppCreate::parse(&body)?;
    let details = actions::create(&state.db, &user, &state.config.default_stack, input).await?;
    Ok((StatusCode::CREATED, Json(view(&state, &details))))
}

pub async fn show(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<WithIncluded<AppView>>> {
    let include = Include::from_show_query(query.as_deref(), include::APP)?;
    let details = actions::show(&state.readers, &user, &guid).await?;
    let included = included::for_apps(&state.db, &[&details.app], &include).await?;
    let view = view(&state, &details);
    Ok(Json(super::with_included(view, &included, &state.links)))
}

pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<WithIncluded<ListView<AppView>>>> {
    let params = ListParams::parse(query.as_deref(), AppFilter::NAMES)?;
    let include = Include::from_list(&params, include::APP)?;
    let filter = AppFilter::from_params(&params);
    let found = actions::list(&state.db, &user, &filter, &params.page()).await?;
    let records: Vec<_> = found.0.iter().map(|details| &details.app).collect();
    let included = included::for_apps(&state.db, &records, &include).await?;
    let page = pagination::present_page(found, &params, "/v3/apps", &state.links, |details| {
        view(&state, details)
    });
    Ok(Json(super::with_included(page, &included, &state.links)))
}

pub async fn update(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
    CfJson(body): CfJson,
) -> ApiResult<Json<AppView>> {
    let input = AppUpdate::parse(&body)?;
    let details = actions::update(&state.db, &user, &guid, input).await?;
    Ok(Json(view(&state, &details)))
}

/// The app's view, both dialects (also the answer to 2015's `PUT /current_droplet`).
pub(super) fn view(state: &AppState, details: &AppDetails) -> AppView {
    app::present(
        &details.app,
        details.total_desired_instances,
        details.show_secrets,
        &state.config.default_stack,
        &state.links,
    )
}

/// 202 with the job's address; the job is already finished (see `actions::apps::delete`).
pub async fn delete(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<(StatusCode, [(header::HeaderName, String); 1])> {
    let job_guid = actions::delete(&state.db, &state.blobs, &user, &guid).await?;
    let location = state.links.url(&format!("/v3/jobs/{job_guid}"));
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)]))
}

pub async fn show_env_vars(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<Json<EnvVarsView>> {
    let record = actions::env_vars(&state.db, &user, &guid).await?;
    Ok(Json(app::present_env_vars(&record, &state.links)))
}

pub async fn update_env_vars(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
    CfJson(body): CfJson,
) -> ApiResult<Json<EnvVarsView>> {
    let patch = EnvVarsPatch::parse(&body)?;
    let record = actions::patch_env_vars(&state.db, &user, &guid, patch).await?;
    Ok(Json(app::present_env_vars(&record, &state.links)))
}

pub async fn env(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(guid): Path<String>,
) -> ApiResult<Json<EnvView>> {
    let env = actions::env(&state.db, &user, &guid).await?;
    Ok(Json(app::present_env(
        &env.app,
        &env.space,
        env.organization.as_ref(),
        env.web.as_ref(),
        &state.links,
    )))
}
