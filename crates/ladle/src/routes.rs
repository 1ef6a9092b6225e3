//! The one route table: one line per endpoint, in Cloud Controller's path spelling.

use axum::routing::get;
use axum::Router;

use crate::api::{organizations, root};
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let routes = Router::new()
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
        .route(
            "/v3/spaces",
            get(crate::api::spaces::list).post(crate::api::spaces::create),
        )
        .route(
            "/v3/spaces/{guid}",
            get(crate::api::spaces::show).delete(crate::api::spaces::delete),
        )
        .route(
            "/v3/users",
            get(crate::api::users::list).post(crate::api::users::create),
        )
        .route(
            "/v3/users/{guid}",
            get(crate::api::users::show).delete(crate::api::users::delete),
        )
        .route(
            "/v3/roles",
            get(crate::api::roles::list).post(crate::api::roles::create),
        )
        .route(
            "/v3/roles/{guid}",
            get(crate::api::roles::show).delete(crate::api::roles::delete),
        )
        .route(
            "/v3/stacks",
            get(crate::api::stacks::list).post(crate::api::stacks::create),
        )
        .route(
            "/v3/stacks/{guid}",
            get(crate::api::stacks::show).delete(crate::api::stacks::delete),
        )
        .route(
            "/v3/apps",
            get(crate::api::apps::list).post(crate::api::apps::create),
        )
        .route(
            "/v3/apps/{guid}",
            get(crate::api::apps::show)
                .patch(crate::api::apps::update)
                .delete(crate::api::apps::delete),
        )
        .route(
            "/v3/apps/{guid}/environment_variables",
            get(crate::api::apps::show_env_vars).patch(crate::api::apps::update_env_vars),
        )
        .route("/v3/apps/{guid}/env", get(crate::api::apps::env))
        .route(
            "/v3/apps/{guid}/processes",
            get(crate::api::processes::list_for_app),
        )
        .route(
            "/v3/apps/{guid}/processes/{type}",
            get(crate::api::processes::show_for_app),
        )
        .route("/v3/processes", get(crate::api::processes::list))
        .route("/v3/processes/{guid}", get(crate::api::processes::show))
        .route("/v3/jobs/{guid}", get(crate::api::jobs::show))
        .route(
            "/v3/packages",
            get(crate::api::packages::list).post(crate::api::packages::create),
        )
        .route(
            "/v3/packages/{guid}",
            get(crate::api::packages::show).delete(crate::api::packages::delete),
        )
        .route(
            "/v3/packages/{guid}/upload",
            axum::routing::post(crate::api::packages::upload)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/v3/packages/{guid}/download",
            get(crate::api::packages::download),
        )
        .route(
            "/v3/apps/{guid}/packages",
            get(crate::api::packages::list_for_app).post(crate::api::packages::create_for_app),
        )
        .route(
            "/v3/buildpacks",
            get(crate::api::buildpacks::list).post(crate::api::buildpacks::create),
        )
        .route(
            "/v3/buildpacks/{guid}",
            get(crate::api::buildpacks::show)
                .patch(crate::api::buildpacks::update)
                .delete(crate::api::buildpacks::delete),
        )
        .route(
            "/v3/buildpacks/{guid}/upload",
            axum::routing::post(crate::api::buildpacks::upload)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/v3/packages/{guid}/droplets",
            get(crate::api::droplets::list_for_package).post(crate::api::droplets::stage_package),
        )
        .route(
            "/v3/droplets/{guid}",
            get(crate::api::droplets::show).delete(crate::api::droplets::delete),
        )
        .route(
            "/v3/builds",
            get(crate::api::builds::list).post(crate::api::builds::create),
        )
        .route(
            "/v3/builds/{guid}",
            get(crate::api::builds::show).patch(crate::api::builds::update),
        )
        .route(
            "/v3/apps/{guid}/builds",
            get(crate::api::builds::list_for_app),
        )
        .route(
            "/v3/droplets/{guid}/download",
            get(crate::api::droplets::download),
        )
        .route(
            "/v3/droplets",
            get(crate::api::droplets::list).post(crate::api::droplets::copy),
        )
        .route("/v3/droplets/{guid}/logs", get(crate::api::droplets::logs))
        .route(
            "/v3/apps/{guid}/droplets",
            get(crate::api::droplets::list_for_app),
        )
        .route(
            "/v3/apps/{guid}/droplets/current",
            get(crate::api::droplets::show_current),
        )
        .route(
            "/v3/apps/{guid}/relationships/current_droplet",
            get(crate::api::droplets::show_current_relationship)
                .patch(crate::api::droplets::assign_current),
        )
        .route(
            "/v3/apps/{guid}/current_droplet",
            axum::routing::put(crate::api::droplets::assign_current_2015),
        )
        .route(
            "/v3/apps/{guid}/actions/clear_buildpack_cache",
            axum::routing::post(crate::api::droplets::clear_buildpack_cache),
        )
        .fallback(root::not_found)
        .method_not_allowed_fallback(root::not_found);
    crate::api::edge::wrap(routes).with_state(state)
}
