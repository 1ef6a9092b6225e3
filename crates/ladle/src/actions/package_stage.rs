//! Our spec page's verb: stage a package into a new droplet (`POST /v3/packages/:guid/droplets`).
//! Checks run in Cloud Controller's order; nothing is written unless all pass; the droplet and
//! its staging job are written in one transaction, then a staging slot is woken.

use crate::actions::staging_request::{self, AppPlace, LimitError};
use crate::auth::{permissions, User};
use crate::db::droplets::DropletRecord;
use crate::db::job_queue::StagingJobPayload;
use crate::db::{self, apps, buildpacks, organizations, packages, spaces, stacks, JsonText};
use crate::domain::{DropletState, PackageState, PackageType};
use crate::messages::droplet_create::DropletCreate;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum PackageStageError {
    #[error("package not found")]
    PackageNotFound,
    #[error("buildpack not found")]
    BuildpackNotFound,
    #[error("not authorized")]
    NotAuthorized,
    /// CC's InvalidRequest: the package is not READY, or not of type bits.
    #[error("Cannot stage package whose state is not ready or whose type is not bits.")]
    PackageNotStageable,
    #[error("The requested app stack {0} is not available on this system.")]
    StackNotFound(String),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

#[tracing::instrument(skip_all, fields(package_guid = %package_guid))]
pub async fn run(
    state: &AppState,
    user: &User,
    package_guid: &str,
    input: DropletCreate,
) -> Result<DropletRecord, PackageStageError> {
    let db = &state.db;
    let package = packages::find(db, package_guid)
        .await?
        .ok_or(PackageStageError::PackageNotFound)?;
    let app = apps::find(db, &package.app_guid)
        .await?
        .ok_or(PackageStageError::PackageNotFound)?;
    let space = spaces::find(db, &app.space_guid)
        .await?
        .ok_or(PackageStageError::PackageNotFound)?;
    let access = permissions::space_access(db, user, &space.guid).await?;
    if !access.read {
        return Err(PackageStageError::PackageNotFound);
    }
    let buildpack = match &input.buildpack_guid {
        Some(guid) => Some(
            buildpacks::find(db, guid)
                .await?
                .ok_or(PackageStageError::BuildpackNotFound)?,
        ),
        None => None,
    };
    if !access.write {
        return Err(PackageStageError::NotAuthorized);
    }
    if !package.is(PackageState::Ready) || package.package_type != PackageType::Bits {
        return Err(PackageStageError::PackageNotStageable);
    }
    let stack = input
        .stack
        .clone()
        .or_else(|| app.lifecycle_stack.clone())
        .unwrap_or_else(|| state.config.default_stack.clone());
    if stacks::find_by_name(db, &stack).await?.is_none() {
        return Err(PackageStageError::StackNotFound(stack));
    }
    let (memory_mb, disk_mb) =
        staging_request::clamp_limits(&state.config.staging, input.memory_limit, input.disk_limit)?;
    let org = organizations::find(db, &space.organization_guid)
        .await?
        .ok_or(PackageStageError::PackageNotFound)?;
    let place = AppPlace {
        app: &app,
        space: &space,
        org: &org,
    };
    let environment = staging_request::staging_environment(
        &place,
        &input.staging_environment_variables,
        &stack,
        memory_mb,
        disk_mb,
        &state.config.external_url,
    );
    let requested: Vec<String> = match (&buildpack, &input.buildpack_git_url) {
        (Some(bp), _) => vec![bp.name.clone()],
        (None, Some(url)) => vec![url.as_str().to_string()],
        (None, None) => vec![],
    };
    let droplet = DropletRecord {
        guid: db::new_guid(),
        app_guid: app.guid.clone(),
        package_guid: Some(package.guid.clone()),
        build_guid: None,
        state: DropletState::Pending,
        error_id: None,
        error_message: None,
        buildpack_guid: buildpack.as_ref().map(|b| b.guid.clone()),
        buildpack_git_url: input
            .buildpack_git_url
            .as_ref()
            .map(|u| u.as_str().to_string()),
        requested_buildpacks: JsonText(requested),
        stack: Some(stack),
        memory_limit_mb: memory_mb as i64,
        disk_limit_mb: disk_mb as i64,
        environment_variables: JsonText(environment),
        sha1: None,
        sha256: None,
        detected_start_command: None,
        process_types: None,
        buildpacks_metadata: None,
        execution_metadata: None,
        created_at: db::now(),
        updated_at: None,
    };
    let mut tx = db.begin().await?;
    staging_request::insert_droplet_and_job(&mut tx, &droplet, &StagingJobPayload::default())
        .await?;
    tx.commit().await?;
    state.staging_wakeup.notify_one();
    Ok(droplet)
}
