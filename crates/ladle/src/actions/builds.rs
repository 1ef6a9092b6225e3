//! Build verbs, today's way to stage a package: create (the build, its droplet and the staging
//! job in one transaction), read, list, and update (metadata, or a failure reported by the
//! build-state updater). Checks run in Cloud Controller's order; bad input writes nothing.

use ladle_stager::FailureKind;

use crate::actions::access;
use crate::actions::staging_complete::describe;
use crate::actions::staging_request::{self, AppPlace, LimitError};
use crate::auth::permissions::Access;
use crate::auth::permissions::{self, Visible};
use crate::auth::User;
use crate::db::apps::AppRecord;
use crate::db::builds::{self, BuildRecord, CreatedBy, Lifecycle};
use crate::db::droplets::{self, DropletRecord};
use crate::db::job_queue::StagingJobPayload;
use crate::db::packages::PackageRecord;
use crate::db::spaces::SpaceRecord;
use crate::db::{
    self, apps, buildpacks, organizations, packages, spaces, stacks, DbPool, JsonText,
};
use crate::domain::{BuildState, BuildpackUrl, DropletState, PackageState, PackageType, Page};
use crate::fetchers;
use crate::messages::build_create::{BuildCreate, BuildUpdate};
use crate::messages::filters::BuildFilter;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("Build not found")]
    NotFound,
    #[error("App not found")]
    AppNotFound,
    #[error("Unable to use package. Ensure that the package exists and you have access to it.")]
    PackageUnusable,
    #[error("not authorized")]
    NotAuthorized,
    /// The lifecycle names a stack or buildpacks that do not exist (every problem, joined).
    #[error("{0}")]
    InvalidLifecycle(String),
    #[error("Only one build can be STAGING at a time per application.")]
    StagingInProgress,
    #[error("Cannot stage package whose state is not ready.")]
    PackageNotReady,
    /// An admin buildpack asked for by name is disabled.
    #[error("{0} is disabled")]
    BuildpackDisabled(String),
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// A failure can only be recorded while the build is STAGING.
    #[error("Build is {0} and its state can no longer change")]
    AlreadyFinal(BuildState),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The package a build stages, with where it lives.
struct Target {
    package: PackageRecord,
    app: AppRecord,
    space: SpaceRecord,
}

#[tracing::instrument(skip_all, fields(package_guid = %input.package_guid))]
pub async fn create(
    state: &AppState,
    user: &User,
    input: BuildCreate,
) -> Result<BuildRecord, BuildError> {
    let db = &state.db;
    let target = usable_package(db, user, &input.package_guid).await?;
    let stack = input
        .stack
        .clone()
        .or_else(|| target.app.lifecycle_stack.clone())
        .unwrap_or_else(|| state.config.default_stack.clone());
    let requested = input
        .buildpacks
        .clone()
        .unwrap_or_else(|| target.app.buildpacks());
    let disabled = check_lifecycle(state, &target.package, &stack, &requested).await?;
    // Checked now, reported after the STAGING check below, which needs the transaction.
    let prepared = match later_checks(state, &target.package, &disabled, &input) {
        Ok((memory_mb, disk_mb)) => {
            let limits = Limits { memory_mb, disk_mb };
            Ok(new_records(state, user, &target, &input, &stack, requested, limits).await?)
        }
        Err(err) => Err(err),
    };
    let mut tx = db.begin().await?;
    apps::lock(&mut tx, &target.app.guid).await?;
    if builds::app_has_staging_build(&mut tx, &target.app.guid).await? {
        return Err(BuildError::StagingInProgress);
    }
    let (build, droplet) = prepared?;
    let job = StagingJobPayload {
        staging_log_rate_limit_bytes_per_second: input.staging_log_rate_limit_bytes_per_second,
    };
    staging_request::insert_droplet_and_job(&mut tx, &droplet, &job).await?;
    builds::insert(&mut tx, &build).await?;
    tx.commit().await?;
    state.staging_wakeup.notify_one();
    Ok(build)
}

/// The package, if it exists and the caller may manage apps in its space (CC answers 422 for
/// every other case, readers included, so nobody learns which packages exist).
async fn usable_package(db: &DbPool, user: &User, guid: &str) -> Result<Target, BuildError> {
    let package = packages::find(db, guid)
        .await?
        .ok_or(BuildError::PackageUnusable)?;
    let app = apps::find(db, &package.app_guid)
        .await?
        .ok_or(BuildError::PackageUnusable)?;
    let space = spaces::find(db, &app.space_guid)
        .await?
        .ok_or(BuildError::PackageUnusable)?;
    if !permissions::space_access(db, user, &space.guid)
        .await?
        .manage_apps
    {
        return Err(BuildError::PackageUnusable);
    }
    Ok(Target {
        package,
        app,
        space,
    })
}

/// The stack must exist; each buildpack must be an admin buildpack for the stack or a git
/// URL we accept. Returns the named admin buildpacks that are disabled (a later check).
async fn check_lifecycle(
    state: &AppState,
    package: &PackageRecord,
    stack: &str,
    requested: &[String],
) -> Result<Vec<String>, BuildError> {
    let db = &state.db;
    let mut problems = Vec::new();
    if package.package_type == PackageType::Docker {
        problems.push(
            "Lifecycle type 'docker' is not supported: only buildpack builds are staged"
                .to_string(),
        );
    }
    if stacks::find_by_name(db, stack).await?.is_none() {
        problems.push("Stack must be an existing stack".to_string());
    }
    let mut disabled = Vec::new();
    for name in requested {
        if BuildpackUrl::parse(name, state.config.staging.allow_file_git_urls).is_ok() {
            continue;
        }
        match buildpacks::find_by_name(db, name, Some(stack)).await? {
            Some(record) if !record.is_enabled() => disabled.push(name.clone()),
            Some(_) => {}
            None => problems.push(format!(
                "Buildpack \"{name}\" must be an existing admin buildpack or a valid git URI"
            )),
        }
    }
    if problems.is_empty() {
        Ok(disabled)
    } else {
        Err(BuildError::InvalidLifecycle(problems.join(", ")))
    }
}

/// CC's checks after "one build at a time": the package is READY, no named buildpack is
/// disabled, the limits fit. Returns `(memory_mb, disk_mb)`.
fn later_checks(
    state: &AppState,
    package: &PackageRecord,
    disabled: &[String],
    input: &BuildCreate,
) -> Result<(u64, u64), BuildError> {
    if !package.is(PackageState::Ready) {
        return Err(BuildError::PackageNotReady);
    }
    if let Some(name) = disabled.first() {
        return Err(BuildError::BuildpackDisabled(name.clone()));
    }
    Ok(staging_request::clamp_limits(
        &state.config.staging,
        input.staging_memory_in_mb,
        input.staging_disk_in_mb,
    )?)
}

#[derive(Clone, Copy)]
struct Limits {
    memory_mb: u64,
    disk_mb: u64,
}

/// The STAGING build and its STAGING droplet, pointing at each other.
async fn new_records(
    state: &AppState,
    user: &User,
    target: &Target,
    input: &BuildCreate,
    stack: &str,
    requested: Vec<String>,
    limits: Limits,
) -> Result<(BuildRecord, DropletRecord), BuildError> {
    let org = organizations::find(&state.db, &target.space.organization_guid)
        .await?
        .ok_or(BuildError::PackageUnusable)?;
    let place = AppPlace {
        app: &target.app,
        space: &target.space,
        org: &org,
    };
    let environment = staging_request::staging_environment(
        &place,
        &input.environment_variables,
        stack,
        limits.memory_mb,
        limits.disk_mb,
        &state.config.external_url,
    );
    let now = db::now();
    let build_guid = db::new_guid();
    let droplet = DropletRecord {
        guid: db::new_guid(),
        app_guid: target.app.guid.clone(),
        package_guid: Some(target.package.guid.clone()),
        build_guid: Some(build_guid.clone()),
        state: DropletState::Staging,
        error_id: None,
        error_message: None,
        buildpack_guid: None,
        buildpack_git_url: None,
        requested_buildpacks: JsonText(requested.clone()),
        stack: Some(stack.to_string()),
        memory_limit_mb: limits.memory_mb as i64,
        disk_limit_mb: limits.disk_mb as i64,
        environment_variables: JsonText(environment),
        sha1: None,
        sha256: None,
        detected_start_command: None,
        process_types: None,
        buildpacks_metadata: None,
        execution_metadata: None,
        created_at: now.clone(),
        updated_at: None,
    };
    let build = BuildRecord {
        guid: build_guid,
        app_guid: target.app.guid.clone(),
        package_guid: target.package.guid.clone(),
        droplet_guid: Some(droplet.guid.clone()),
        state: BuildState::Staging,
        error: None,
        lifecycle: db::json_text(&Lifecycle::Buildpack {
            buildpacks: requested,
            stack: stack.to_string(),
        }),
        staging_memory_in_mb: limits.memory_mb as i64,
        staging_disk_in_mb: limits.disk_mb as i64,
        created_by: db::json_text(&CreatedBy {
            guid: user.guid.clone(),
            name: user.username.clone(),
            email: user.email.clone(),
        }),
        metadata: input.metadata.apply("{}"),
        created_at: now,
        updated_at: None,
    };
    Ok((build, droplet))
}

/// The build and the caller's access to its space; `NotFound` when missing or unreadable.
pub async fn find_readable(
    db: &DbPool,
    user: &User,
    guid: &str,
) -> Result<(BuildRecord, Access), BuildError> {
    let build = builds::find(db, guid).await?.ok_or(BuildError::NotFound)?;
    let access = access::app_access(db, user, &build.app_guid)
        .await?
        .ok_or(BuildError::NotFound)?;
    Ok((build, access))
}

/// A page of builds and the total.
pub type BuildPage = (Vec<BuildRecord>, u64);

/// One page of the builds the caller can see; `app_guid` scopes it to one readable app.
pub async fn list(
    db: &DbPool,
    user: &User,
    filter: &BuildFilter,
    page: &Page,
    app_guid: Option<&str>,
) -> Result<BuildPage, BuildError> {
    let Some(app_guid) = app_guid else {
        let spaces = permissions::readable_spaces(db, user).await?;
        return Ok(fetchers::builds::list(db, &spaces, filter, page).await?);
    };
    let app = access::readable_app(db, user, app_guid)
        .await?
        .ok_or(BuildError::AppNotFound)?;
    let filter = BuildFilter {
        app_guids: Some(vec![app.app.guid.into()]),
        ..filter.clone()
    };
    let spaces = Visible::Only(vec![app.space.guid.into()]);
    Ok(fetchers::builds::list(db, &spaces, &filter, page).await?)
}

/// `PATCH /v3/builds/:guid`. A state change needs the build-state updater's scope
/// (`may_update_state`) and no role; metadata needs SpaceDeveloper.
#[tracing::instrument(skip_all, fields(build_guid = %guid))]
pub async fn update(
    db: &DbPool,
    user: &User,
    may_update_state: bool,
    guid: &str,
    input: BuildUpdate,
) -> Result<BuildRecord, BuildError> {
    let build = if input.changes_state {
        let build = builds::find(db, guid).await?.ok_or(BuildError::NotFound)?;
        if !may_update_state {
            return Err(BuildError::NotAuthorized);
        }
        build
    } else {
        let (build, access) = find_readable(db, user, guid).await?;
        if !access.write {
            return Err(BuildError::NotAuthorized);
        }
        build
    };
    if let Some(error) = &input.failure {
        record_failure(db, &build, error).await?;
    }
    if let Some(metadata) = &input.metadata {
        builds::store_metadata(db, &build.guid, &metadata.apply(&build.metadata)).await?;
    }
    builds::find(db, guid).await?.ok_or(BuildError::NotFound)
}

/// FAILED with `StagerError - Stager error: <error>`, on the build and its droplet together;
/// a staging still running for it finds its droplet final and records nothing.
async fn record_failure(db: &DbPool, build: &BuildRecord, error: &str) -> Result<(), BuildError> {
    let already_final = || BuildError::AlreadyFinal(build.state);
    if build.state != BuildState::Staging {
        return Err(already_final());
    }
    let droplet_guid = build.droplet_guid.as_deref().ok_or_else(already_final)?;
    let kind = FailureKind::StagerError;
    let message = describe(kind, error);
    let mut tx = db.begin().await?;
    if !droplets::mark_failed(&mut tx, droplet_guid, kind.cc_name(), &message).await? {
        return Err(already_final());
    }
    let build_error = format!("{} - {message}", kind.cc_name());
    builds::complete(
        &mut tx,
        droplet_guid,
        BuildState::Failed,
        Some(&build_error),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
