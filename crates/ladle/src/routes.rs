//! The one route table: one line per endpoint (method, path in Cloud Controller's spelling,
//! handler, what it does). The router and the OpenAPI document (`api::openapi`) are both made
//! from it, so a route cannot be served without being documented, or documented without being
//! served.

use axum::extract::DefaultBodyLimit;
use axum::routing::{on, MethodFilter};
use axum::Router;

use crate::api::{
    apps, buildpacks, builds, droplets, jobs, log_cache, openapi, organizations, packages,
    processes, roles, root, spaces, stacks, users,
};
use crate::state::AppState;

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// No token needed (discovery, the document itself).
    Anyone,
    /// A bearer token (CC's UAA JWT).
    Bearer,
}

/// What a request to an endpoint carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    None,
    Json,
    /// A multipart form with a file (bits uploads); no size limit of the JSON kind.
    Upload,
}

/// One line of the route table, as the OpenAPI document shows it.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub caller: Caller,
    pub body: Body,
}

macro_rules! route_table {
    ($($method:ident $path:literal => $handler:path, $caller:ident, $body:ident, $summary:literal;)*) => {
        /// Every endpoint, in the table's order.
        pub const ENDPOINTS: &[Endpoint] = &[
            $(Endpoint {
                method: stringify!($method),
                path: $path,
                summary: $summary,
                caller: Caller::$caller,
                body: Body::$body,
            },)*
        ];

        fn add_routes(mut routes: Router<AppState>) -> Router<AppState> {
            $(
                let method_router = on(MethodFilter::$method, $handler);
                let method_router = if matches!(Body::$body, Body::Upload) {
                    method_router.layer(DefaultBodyLimit::disable())
                } else {
                    method_router
                };
                routes = routes.route($path, method_router);
            )*
            routes
        }
    };
}

route_table! {
    GET "/" => root::root, Anyone, None, "Global API root: links to the APIs this server offers";
    GET "/v3" => root::v3, Anyone, None, "V3 API root: links to every resource";
    GET "/v3/info" => root::v3_info, Anyone, None, "Platform information";
    GET "/v2/info" => root::v2_info, Anyone, None, "V2 info, as the cf CLI reads it before logging in";
    GET "/v3/openapi.json" => openapi::document, Anyone, None, "This OpenAPI document";

    GET "/v3/organizations" => organizations::list, Bearer, None, "List organizations";
    POST "/v3/organizations" => organizations::create, Bearer, Json, "Create an organization";
    GET "/v3/organizations/{guid}" => organizations::show, Bearer, None, "Get an organization";
    DELETE "/v3/organizations/{guid}" => organizations::delete, Bearer, None, "Delete an organization";

    GET "/v3/spaces" => spaces::list, Bearer, None, "List spaces (include=organization)";
    POST "/v3/spaces" => spaces::create, Bearer, Json, "Create a space";
    GET "/v3/spaces/{guid}" => spaces::show, Bearer, None, "Get a space (include=organization)";
    DELETE "/v3/spaces/{guid}" => spaces::delete, Bearer, None, "Delete a space";

    GET "/v3/users" => users::list, Bearer, None, "List users";
    POST "/v3/users" => users::create, Bearer, Json, "Create a user";
    GET "/v3/users/{guid}" => users::show, Bearer, None, "Get a user";
    DELETE "/v3/users/{guid}" => users::delete, Bearer, None, "Delete a user";

    GET "/v3/roles" => roles::list, Bearer, None, "List roles (include=user,space,organization)";
    POST "/v3/roles" => roles::create, Bearer, Json, "Create a role";
    GET "/v3/roles/{guid}" => roles::show, Bearer, None, "Get a role (include=user,space,organization)";
    DELETE "/v3/roles/{guid}" => roles::delete, Bearer, None, "Delete a role";

    GET "/v3/stacks" => stacks::list, Bearer, None, "List stacks";
    POST "/v3/stacks" => stacks::create, Bearer, Json, "Create a stack";
    GET "/v3/stacks/{guid}" => stacks::show, Bearer, None, "Get a stack";
    DELETE "/v3/stacks/{guid}" => stacks::delete, Bearer, None, "Delete a stack";

    GET "/v3/apps" => apps::list, Bearer, None, "List apps (include=space,space.organization)";
    POST "/v3/apps" => apps::create, Bearer, Json, "Create an app";
    GET "/v3/apps/{guid}" => apps::show, Bearer, None, "Get an app (include=space,space.organization)";
    PATCH "/v3/apps/{guid}" => apps::update, Bearer, Json, "Update an app";
    DELETE "/v3/apps/{guid}" => apps::delete, Bearer, None, "Delete an app (answers with a job)";
    GET "/v3/apps/{guid}/environment_variables" => apps::show_env_vars, Bearer, None, "Get an app's environment variables";
    PATCH "/v3/apps/{guid}/environment_variables" => apps::update_env_vars, Bearer, Json, "Update an app's environment variables";
    GET "/v3/apps/{guid}/env" => apps::env, Bearer, None, "Get the environment an app runs with";

    GET "/v3/apps/{guid}/processes" => processes::list_for_app, Bearer, None, "List an app's processes";
    GET "/v3/apps/{guid}/processes/{type}" => processes::show_for_app, Bearer, None, "Get an app's process of a type";
    GET "/v3/processes" => processes::list, Bearer, None, "List processes";
    GET "/v3/processes/{guid}" => processes::show, Bearer, None, "Get a process";

    GET "/v3/jobs/{guid}" => jobs::show, Bearer, None, "Get a job";

    GET "/v3/packages" => packages::list, Bearer, None, "List packages";
    POST "/v3/packages" => packages::create, Bearer, Json, "Create a package, or copy one (source_guid=)";
    GET "/v3/packages/{guid}" => packages::show, Bearer, None, "Get a package";
    DELETE "/v3/packages/{guid}" => packages::delete, Bearer, None, "Delete a package (answers with a job)";
    POST "/v3/packages/{guid}/upload" => packages::upload, Bearer, Upload, "Upload a package's bits (multipart: bits, resources)";
    GET "/v3/packages/{guid}/download" => packages::download, Bearer, None, "Download a package's bits";
    GET "/v3/apps/{guid}/packages" => packages::list_for_app, Bearer, None, "List an app's packages";
    POST "/v3/apps/{guid}/packages" => packages::create_for_app, Bearer, Json, "Create a package for an app (2015 dialect)";

    GET "/v3/buildpacks" => buildpacks::list, Bearer, None, "List admin buildpacks";
    POST "/v3/buildpacks" => buildpacks::create, Bearer, Json, "Create an admin buildpack";
    GET "/v3/buildpacks/{guid}" => buildpacks::show, Bearer, None, "Get an admin buildpack";
    PATCH "/v3/buildpacks/{guid}" => buildpacks::update, Bearer, Json, "Update an admin buildpack";
    DELETE "/v3/buildpacks/{guid}" => buildpacks::delete, Bearer, None, "Delete an admin buildpack (answers with a job)";
    POST "/v3/buildpacks/{guid}/upload" => buildpacks::upload, Bearer, Upload, "Upload an admin buildpack's zip (multipart: bits)";

    GET "/v3/packages/{guid}/droplets" => droplets::list_for_package, Bearer, None, "List the droplets staged from a package";
    POST "/v3/packages/{guid}/droplets" => droplets::stage_package, Bearer, Json, "Stage a package (answers with a PENDING droplet)";
    GET "/v3/droplets" => droplets::list, Bearer, None, "List droplets";
    POST "/v3/droplets" => droplets::copy, Bearer, Json, "Copy a staged droplet to an app (source_guid=)";
    GET "/v3/droplets/{guid}" => droplets::show, Bearer, None, "Get a droplet";
    DELETE "/v3/droplets/{guid}" => droplets::delete, Bearer, None, "Delete a droplet (answers with a job)";
    GET "/v3/droplets/{guid}/download" => droplets::download, Bearer, None, "Download a staged droplet's tgz";
    GET "/v3/droplets/{guid}/logs" => droplets::logs, Bearer, None, "A droplet's staging log (text, or server-sent events with Accept: text/event-stream)";
    GET "/v3/apps/{guid}/droplets" => droplets::list_for_app, Bearer, None, "List an app's droplets";
    GET "/v3/apps/{guid}/droplets/current" => droplets::show_current, Bearer, None, "Get an app's current droplet";
    GET "/v3/apps/{guid}/relationships/current_droplet" => droplets::show_current_relationship, Bearer, None, "Get an app's current droplet relationship";
    PATCH "/v3/apps/{guid}/relationships/current_droplet" => droplets::assign_current, Bearer, Json, "Set an app's current droplet";
    PUT "/v3/apps/{guid}/current_droplet" => droplets::assign_current_2015, Bearer, Json, "Set an app's current droplet (2015 dialect)";
    POST "/v3/apps/{guid}/actions/clear_buildpack_cache" => droplets::clear_buildpack_cache, Bearer, None, "Clear an app's buildpack cache";

    GET "/v3/builds" => builds::list, Bearer, None, "List builds";
    POST "/v3/builds" => builds::create, Bearer, Json, "Create a build: stage a package";
    GET "/v3/builds/{guid}" => builds::show, Bearer, None, "Get a build";
    PATCH "/v3/builds/{guid}" => builds::update, Bearer, Json, "Update a build's metadata";
    GET "/v3/apps/{guid}/builds" => builds::list_for_app, Bearer, None, "List an app's builds";
    GET "/v3/builds/{guid}/logs" => builds::logs, Bearer, None, "A build's staging log (text, or server-sent events with Accept: text/event-stream)";

    GET "/api/v1/read/{source_id}" => log_cache::read, Bearer, None, "Log-cache read: an app's staging log lines as envelopes";
}

pub fn router(state: AppState) -> Router {
    let routes = add_routes(Router::new())
        .fallback(root::not_found)
        .method_not_allowed_fallback(root::not_found);
    crate::api::edge::wrap(routes).with_state(state)
}
