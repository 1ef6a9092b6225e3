//! App verbs: create (with its `web` process), read, list, update, delete (recorded as a job),
//! and the environment-variable endpoints. Who may do what follows CC: reading needs a role
//! in the space (else "not found"), changing needs SpaceDeveloper (else "not authorized"),
//! variables are secrets.

use serde_json::{Map, Value};

use crate::actions::access::{self, ReadableApp};
use crate::actions::jobs::{self, JobFailure};
use crate::actions::processes as process_actions;
use crate::auth::permissions::{self, Access};
use crate::auth::User;
use crate::blobstore::{keys, Blobstore};
use crate::cause_chain::CauseChain;
use crate::db::apps::{self, AppRecord, OrphanedBlobs};
use crate::db::organizations::{self, OrganizationRecord};
use crate::db::processes::{self, ProcessRecord};
use crate::db::readers::Readers;
use crate::db::spaces::{self, SpaceRecord};
use crate::db::stacks;
use crate::db::{self, DbPool, JsonText};
use crate::domain::process::WEB;
use crate::domain::{BuildpackUrl, Dialect, Page, RoleType};
use crate::fetchers;
use crate::messages::app_create::{AppCreate, LifecycleInput};
use crate::messages::app_update::AppUpdate;
use crate::messages::env_vars::EnvVarsPatch;
use crate::messages::filters::AppFilter;

pub const STOPPED: &str = "STOPPED";

/// Attempts at a read-merge-write before giving up on an app that keeps changing underneath.
const UPDATE_ATTEMPTS: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("not authorized")]
    NotAuthorized,
    #[error("Invalid space. Ensure that the space exists and you have access to it.")]
    InvalidSpace,
    /// 2015's answer to a body naming a space the caller cannot use.
    #[error("Space not found")]
    SpaceNotFound,
    #[error("App with the name '{0}' already exists.")]
    NameTaken(String),
    /// Input that is well-formed but names things that do not exist (stack, buildpack).
    #[error("{0}")]
    Invalid(String),
    #[error("the app kept changing while being updated")]
    Contended,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// An app with what its views show beside the row.
#[derive(Debug, Clone)]
pub struct AppDetails {
    pub app: AppRecord,
    pub total_desired_instances: i64,
    /// The caller may see the app's environment variables.
    pub show_secrets: bool,
}

/// What `GET /v3/apps/:guid/env` is built from.
#[derive(Debug, Clone)]
pub struct AppEnv {
    pub app: AppRecord,
    pub space: SpaceRecord,
    pub organization: Option<OrganizationRecord>,
    pub web: Option<ProcessRecord>,
}

#[tracing::instrument(skip_all, fields(space_guid = %input.space_guid, name = %input.name))]
pub async fn create(
    db: &DbPool,
    user: &User,
    default_stack: &str,
    input: AppCreate,
) -> Result<AppDetails, AppError> {
    let unusable_space = match input.dialect {
        Dialect::Current => AppError::InvalidSpace,
        Dialect::Experimental2015 => AppError::SpaceNotFound,
    };
    let Some(space) = spaces::find(db, &input.space_guid).await? else {
        return Err(unusable_space);
    };
    let access = permissions::space_access(db, user, &space.guid).await?;
    if !access.read {
        return Err(unusable_space);
    }
    if !access.write {
        return Err(AppError::NotAuthorized);
    }
    check_lifecycle(db, &input.lifecycle).await?;
    let app = new_app_record(&input, &space.guid, default_stack);
    let web = process_actions::new_web_process(&app.guid, &app.created_at);
    apps::insert_with_process(db, &app, &web)
        .await
        .map_err(|err| name_taken_or(err, &app.name))?;
    Ok(AppDetails {
        app,
        total_desired_instances: web.instances,
        show_secrets: access.read_secrets,
    })
}

fn new_app_record(input: &AppCreate, space_guid: &str, default_stack: &str) -> AppRecord {
    let stack = input
        .lifecycle
        .stack
        .clone()
        .unwrap_or_else(|| default_stack.to_string());
    let buildpacks = input.lifecycle.buildpacks.clone().unwrap_or_default();
    AppRecord {
        guid: db::new_guid(),
        name: input.name.as_str().to_string(),
        space_guid: space_guid.into(),
        desired_state: STOPPED.to_string(),
        environment_variables: Value::Object(input.environment_variables.clone()).to_string(),
        lifecycle_buildpacks: JsonText(buildpacks),
        lifecycle_stack: Some(stack),
        current_droplet_guid: None,
        created_at: db::now(),
        updated_at: None,
        metadata: input.metadata.apply("{}"),
    }
}

fn name_taken_or(err: sqlx::Error, name: &str) -> AppError {
    if db::is_unique_violation(&err) {
        AppError::NameTaken(name.to_string())
    } else {
        err.into()
    }
}

/// Stacks must exist; buildpacks must be admin buildpacks (by name) or git/http URLs.
async fn check_lifecycle(db: &DbPool, lifecycle: &LifecycleInput) -> Result<(), AppError> {
    let mut problems = Vec::new();
    if let Some(stack) = &lifecycle.stack {
        if stacks::find_by_name(db, stack).await?.is_none() {
            problems.push("Stack must be an existing stack".to_string());
        }
    }
    for buildpack in lifecycle.buildpacks.iter().flatten() {
        // `file://` is accepted here because an app only records its buildpacks; whether
        // `file://` may be cloned is decided when staging.
        if !BuildpackUrl::is_url(buildpack) && !apps::buildpack_name_exists(db, buildpack).await? {
            problems.push(format!(
                "Buildpack \"{buildpack}\" must be an existing admin buildpack or a valid git URI"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(problems.join(", ")))
    }
}

/// The app with its space and the caller's access to it; "not found" when the caller cannot
/// read it.
async fn find_readable(db: &DbPool, user: &User, guid: &str) -> Result<ReadableApp, AppError> {
    access::readable_app(db, user, guid)
        .await?
        .ok_or(AppError::NotFound)
}

/// One query (see `db::apps::find_with_roles`): this is the endpoint clients poll.
pub async fn show(readers: &Readers, user: &User, guid: &str) -> Result<AppDetails, AppError> {
    let rows = apps::find_with_roles(readers, guid, &user.guid).await?;
    let first = rows.first().ok_or(AppError::NotFound)?;
    let roles: Vec<RoleType> = rows
        .iter()
        .filter_map(|r| r.role_type.as_deref()?.parse().ok())
        .collect();
    let access = permissions::access_with_roles(user, &roles);
    if !access.read {
        return Err(AppError::NotFound);
    }
    Ok(AppDetails {
        total_desired_instances: first.total_instances,
        show_secrets: access.read_secrets,
        app: first.app.clone(),
    })
}

async fn details(db: &DbPool, app: AppRecord, access: Access) -> Result<AppDetails, AppError> {
    let totals = processes::total_instances(db, &[app.guid.to_string()]).await?;
    Ok(AppDetails {
        total_desired_instances: totals.get(app.guid.as_str()).copied().unwrap_or(0),
        show_secrets: access.read_secrets,
        app,
    })
}

/// One page of the apps the caller can read.
pub async fn list(
    db: &DbPool,
    user: &User,
    filter: &AppFilter,
    page: &Page,
) -> Result<(Vec<AppDetails>, u64), AppError> {
    let spaces = permissions::readable_spaces(db, user).await?;
    let (records, total) = fetchers::apps::list(db, &spaces, filter, page).await?;
    let guids: Vec<String> = records.iter().map(|a| a.guid.to_string()).collect();
    let totals = processes::total_instances(db, &guids).await?;
    let spaces: Vec<String> = records.iter().map(|a| a.space_guid.to_string()).collect();
    let secret_spaces = access::spaces_with_secrets(db, user, &spaces).await?;
    let details = records
        .into_iter()
        .map(|app| AppDetails {
            total_desired_instances: totals.get(app.guid.as_str()).copied().unwrap_or(0),
            show_secrets: secret_spaces.contains(app.space_guid.as_str()),
            app,
        })
        .collect();
    Ok((details, total))
}

#[tracing::instrument(skip_all, fields(app_guid = %guid))]
pub async fn update(
    db: &DbPool,
    user: &User,
    guid: &str,
    input: AppUpdate,
) -> Result<AppDetails, AppError> {
    let access = writable_access(db, user, guid).await?;
    if let Some(lifecycle) = &input.lifecycle {
        check_lifecycle(db, lifecycle).await?;
    }
    let app = modify(db, guid, |app| apply_update(app, &input)).await?;
    details(db, app, access).await
}

fn apply_update(app: &mut AppRecord, input: &AppUpdate) {
    if let Some(name) = &input.name {
        app.name = name.as_str().to_string();
    }
    if let Some(lifecycle) = &input.lifecycle {
        if let Some(buildpacks) = &lifecycle.buildpacks {
            app.lifecycle_buildpacks = JsonText(buildpacks.clone());
        }
        if let Some(stack) = &lifecycle.stack {
            app.lifecycle_stack = Some(stack.clone());
        }
    }
    if let Some(metadata) = &input.metadata {
        app.metadata = metadata.apply(&app.metadata);
    }
    if let Some(vars) = &input.environment_variables {
        app.environment_variables = Value::Object(vars.clone()).to_string();
    }
}

/// Access of a caller who must be able to change the app (404 unreadable, 403 read-only).
async fn writable_access(db: &DbPool, user: &User, guid: &str) -> Result<Access, AppError> {
    let found = find_readable(db, user, guid).await?;
    if !found.access.write {
        return Err(AppError::NotAuthorized);
    }
    Ok(found.access)
}

/// Reads the app, applies `change`, and writes it back unless someone else wrote first (then
/// starts over), so concurrent merges of variables or labels all survive.
async fn modify(
    db: &DbPool,
    guid: &str,
    change: impl Fn(&mut AppRecord),
) -> Result<AppRecord, AppError> {
    for _ in 0..UPDATE_ATTEMPTS {
        let before = apps::find(db, guid).await?.ok_or(AppError::NotFound)?;
        let mut after = before.clone();
        change(&mut after);
        after.updated_at = Some(db::now());
        let written = apps::update_if_unchanged(db, &before, &after)
            .await
            .map_err(|err| name_taken_or(err, &after.name))?;
        if written {
            return Ok(after);
        }
    }
    Err(AppError::Contended)
}

/// The app's variables, for callers who may read secrets (403 for other readers).
pub async fn env_vars(db: &DbPool, user: &User, guid: &str) -> Result<AppRecord, AppError> {
    let found = find_readable(db, user, guid).await?;
    if !found.access.read_secrets {
        return Err(AppError::NotAuthorized);
    }
    Ok(found.app)
}

#[tracing::instrument(skip_all, fields(app_guid = %guid))]
pub async fn patch_env_vars(
    db: &DbPool,
    user: &User,
    guid: &str,
    patch: EnvVarsPatch,
) -> Result<AppRecord, AppError> {
    writable_access(db, user, guid).await?;
    modify(db, guid, |app| {
        let merged: Map<String, Value> = patch.apply(&app.env_vars());
        app.environment_variables = Value::Object(merged).to_string();
    })
    .await
}

pub async fn env(db: &DbPool, user: &User, guid: &str) -> Result<AppEnv, AppError> {
    let ReadableApp { app, space, access } = find_readable(db, user, guid).await?;
    if !access.read_secrets {
        return Err(AppError::NotAuthorized);
    }
    let organization = organizations::find(db, &space.organization_guid).await?;
    let web = processes::find_by_type(db, &app.guid, WEB).await?;
    Ok(AppEnv {
        app,
        space,
        organization,
        web,
    })
}

/// Deletes the app, everything it owns and their blobs, recorded as a user job whose guid is
/// returned. The work is done before the caller is answered (an app's rows go in one short
/// transaction; blob deletes are quick), so the job is already finished when first polled; it
/// stays readable at `/v3/jobs/:guid` like CC's asynchronous deletes.
#[tracing::instrument(skip_all, fields(app_guid = %guid))]
pub async fn delete(
    db: &DbPool,
    blobs: &Blobstore,
    user: &User,
    guid: &str,
) -> Result<String, AppError> {
    writable_access(db, user, guid).await?;
    let job = jobs::start(db, user, "app.delete", guid).await?;
    let outcome = match apps::delete_with_children(db, guid).await {
        Ok(orphans) => delete_blobs(blobs, guid, &orphans).await,
        Err(err) => Err(vec![JobFailure::unknown(format_args!(
            "deleting rows: {}",
            CauseChain(&err)
        ))]),
    };
    jobs::finish(db, &job.guid, outcome).await?;
    Ok(job.guid.into())
}

async fn delete_blobs(
    blobs: &Blobstore,
    app_guid: &str,
    orphans: &OrphanedBlobs,
) -> Result<(), Vec<JobFailure>> {
    // The build cache is deleted whether or not a row recorded it: a staging that died after
    // uploading but before writing its row would otherwise leave it behind forever.
    let keys_to_delete = orphans
        .package_guids
        .iter()
        .map(|g| keys::package(g))
        .chain(orphans.droplet_guids.iter().map(|g| keys::droplet(g)))
        .chain(std::iter::once(keys::build_cache(app_guid)));
    let mut failures = Vec::new();
    for key in keys_to_delete {
        if let Err(err) = blobs.delete(&key).await {
            failures.push(JobFailure::unknown(format_args!(
                "deleting blob {key}: {}",
                CauseChain(&err)
            )));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}
