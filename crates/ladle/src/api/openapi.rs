//! `GET /v3/openapi.json`: an OpenAPI 3.1 document of every route, made from the route table
//! (`routes::ENDPOINTS`) so it cannot drift from what is served. Bodies are shown as JSON
//! objects and errors as Cloud Controller's error envelope; the fields of each resource are in
//! the CC v3 API reference, which ladle follows.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::path::{Operation, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, Required,
    ResponseBuilder,
};

use crate::routes::{Body, Caller, Endpoint, ENDPOINTS};

/// The document, made once: it depends on nothing but the code.
pub async fn document() -> impl IntoResponse {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let json = DOCUMENT.get_or_init(|| {
        serde_json::to_string_pretty(&build()).expect("an OpenAPI document serializes")
    });
    ([(header::CONTENT_TYPE, "application/json")], json.as_str())
}

pub fn build() -> OpenApi {
    let mut paths = Paths::new();
    for endpoint in ENDPOINTS {
        let item = paths.paths.entry(endpoint.path.to_string()).or_default();
        let operation = Some(operation(endpoint));
        match endpoint.method {
            "GET" => item.get = operation,
            "POST" => item.post = operation,
            "PUT" => item.put = operation,
            "PATCH" => item.patch = operation,
            "DELETE" => item.delete = operation,
            other => unreachable!("the route table has no {other} routes"),
        }
    }
    let components = ComponentsBuilder::new()
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        )
        .schema("Error", error_schema())
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("ladle")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "A Cloud Foundry Cloud Controller v3-compatible API that stages apps with \
                     real buildpacks in real containers.",
                )),
        )
        .paths(paths)
        .components(Some(components))
        .build()
}

fn operation(endpoint: &Endpoint) -> Operation {
    let mut builder = OperationBuilder::new()
        .summary(Some(endpoint.summary))
        .tag(tag_of(endpoint.path))
        .operation_id(Some(operation_id(endpoint)));
    for name in path_parameters(endpoint.path) {
        builder = builder.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
        );
    }
    builder = match endpoint.body {
        Body::None => builder,
        Body::Json => builder.request_body(Some(
            RequestBodyBuilder::new()
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(ObjectBuilder::new()))
                        .build(),
                )
                .required(Some(Required::True))
                .build(),
        )),
        Body::Upload => builder.request_body(Some(
            RequestBodyBuilder::new()
                .content(
                    "multipart/form-data",
                    ContentBuilder::new()
                        .schema(Some(ObjectBuilder::new()))
                        .build(),
                )
                .required(Some(Required::True))
                .build(),
        )),
    };
    if endpoint.caller == Caller::Bearer {
        builder = builder.security(SecurityRequirement::new("bearer", Vec::<String>::new()));
    }
    builder
        .response(
            success_status(endpoint),
            ResponseBuilder::new().description("Success").build(),
        )
        .response(
            "default",
            ResponseBuilder::new()
                .description("A Cloud Controller error: {\"errors\": [{code, title, detail}]}")
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Error")))
                        .build(),
                )
                .build(),
        )
        .build()
}

/// `{"errors": [{"code": 10010, "title": "CF-ResourceNotFound", "detail": "App not found"}]}`
fn error_schema() -> utoipa::openapi::schema::Object {
    let entry = ObjectBuilder::new()
        .property("code", ObjectBuilder::new().schema_type(Type::Integer))
        .property("title", ObjectBuilder::new().schema_type(Type::String))
        .property("detail", ObjectBuilder::new().schema_type(Type::String))
        .required("code")
        .required("title")
        .required("detail");
    ObjectBuilder::new()
        .property("errors", ArrayBuilder::new().items(entry))
        .required("errors")
        .build()
}

/// CC's statuses: 201 for what a POST creates, 202 for what answers with a job, 204 for
/// synchronous deletes, 200 otherwise.
fn success_status(endpoint: &Endpoint) -> &'static str {
    let summary = endpoint.summary;
    if summary.contains("answers with a job") {
        "202"
    } else if endpoint.method == "DELETE" {
        "204"
    } else if endpoint.method == "POST"
        && (summary.starts_with("Create")
            || summary.starts_with("Copy")
            || summary.starts_with("Stage"))
    {
        "201"
    } else {
        "200"
    }
}

/// The resource a path is about: `/v3/apps/{guid}/droplets` → `droplets`, `/` → `root`.
fn tag_of(path: &str) -> String {
    let resource = path.split('/').rfind(|part| {
        !part.is_empty()
            && !part.starts_with('{')
            && !["v2", "v3", "actions", "relationships"].contains(part)
    });
    resource.unwrap_or("root").to_string()
}

fn operation_id(endpoint: &Endpoint) -> String {
    let words: Vec<&str> = endpoint
        .path
        .split('/')
        .filter(|part| !part.is_empty())
        .map(|part| part.trim_start_matches('{').trim_end_matches('}'))
        .collect();
    format!("{}_{}", endpoint.method.to_lowercase(), words.join("_")).replace(['.', '-'], "_")
}

fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|part| part.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
}
