//! Admin buildpack verbs: create, update, delete (admin only) and the read any caller may do.
//! Uploading bits lives in `buildpack_upload`.

use crate::actions::jobs::{self, JobFailure};
use crate::auth::User;
use crate::blobstore::{keys, BlobError, Blobstore};
use crate::cause_chain::CauseChain;
use crate::db::buildpacks::{self, BuildpackChanges, BuildpackRecord};
use crate::db::stacks;
use crate::db::{self, DbPool};
use crate::domain::BuildpackState;
use crate::messages::buildpack_create::BuildpackCreate;
use crate::messages::buildpack_update::BuildpackUpdate;
use crate::upload_check::ArchiveError;

#[derive(Debug, thiserror::Error)]
pub enum BuildpackError {
    #[error("Buildpack not found")]
    NotFound,
    #[error("not authorized")]
    NotAuthorized,
    #[error("Buildpack with name '{name}' and {} already exists", stack_phrase(.stack))]
    NameTaken { name: String, stack: Option<String> },
    #[error("Stack '{0}' does not exist")]
    UnknownStack(String),
    #[error("Buildpack stack cannot be changed")]
    StackChange,
    #[error("Buildpack is locked")]
    Locked,
    #[error("Buildpack zip must contain a bin/ directory")]
    NoBinDir,
    #[error(transparent)]
    InvalidZip(#[from] ArchiveError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn stack_phrase(stack: &Option<String>) -> String {
    match stack {
        Some(stack) => format!("stack '{stack}'"),
        None => "an unassigned stack".to_string(),
    }
}

#[tracing::instrument(skip_all, fields(name = %input.name))]
pub async fn create(
    db: &DbPool,
    user: &User,
    input: BuildpackCreate,
) -> Result<BuildpackRecord, BuildpackError> {
    require_admin(user)?;
    if let Some(stack) = &input.stack {
        require_stack(db, stack).await?;
    }
    let buildpack = BuildpackRecord {
        guid: db::new_guid(),
        name: input.name,
        stack: input.stack,
        position: 0,
        enabled: i64::from(input.enabled),
        locked: i64::from(input.locked),
        state: BuildpackState::AwaitingUpload,
        filename: None,
        sha256: None,
        created_at: db::now(),
        updated_at: None,
        metadata: input.metadata.apply("{}"),
    };
    let (name, stack) = (buildpack.name.clone(), buildpack.stack.clone());
    buildpacks::insert_at(db, buildpack, input.position)
        .await
        .map_err(|err| name_taken_or(err, name, stack))
}

/// Everyone with a read scope sees every buildpack.
pub async fn find(db: &DbPool, guid: &str) -> Result<BuildpackRecord, BuildpackError> {
    buildpacks::find(db, guid)
        .await?
        .ok_or(BuildpackError::NotFound)
}

#[tracing::instrument(skip_all, fields(buildpack_guid = %guid))]
pub async fn update(
    db: &DbPool,
    user: &User,
    guid: &str,
    input: BuildpackUpdate,
) -> Result<BuildpackRecord, BuildpackError> {
    let current = find(db, guid).await?;
    require_admin(user)?;
    let stack = match &input.stack {
        Some(wanted) if *wanted != current.stack => {
            // A buildpack's stack can be set once; after that, staging may rely on it.
            if current.stack.is_some() {
                return Err(BuildpackError::StackChange);
            }
            if let Some(stack) = wanted {
                require_stack(db, stack).await?;
            }
            Some(wanted.clone())
        }
        _ => None,
    };
    let changes = BuildpackChanges {
        name: input.name.clone(),
        stack,
        position: input.position,
        enabled: input.enabled,
        locked: input.locked,
        metadata: input.metadata.clone(),
    };
    let name = input.name.unwrap_or(current.name);
    let stack = changes.stack.clone().unwrap_or(current.stack);
    buildpacks::update(db, guid, &changes)
        .await
        .map_err(|err| name_taken_or(err, name, stack))?
        .ok_or(BuildpackError::NotFound)
}

/// Deletes the row (closing the gap in positions), then the blob, recorded as a user job whose
/// guid is returned; the job is finished before the caller is answered.
#[tracing::instrument(skip_all, fields(buildpack_guid = %guid))]
pub async fn delete(
    db: &DbPool,
    blobs: &Blobstore,
    user: &User,
    guid: &str,
) -> Result<String, BuildpackError> {
    find(db, guid).await?;
    require_admin(user)?;
    let job = jobs::start(db, user, "buildpack.delete", guid).await?;
    if !buildpacks::delete(db, guid).await? {
        jobs::finish(db, &job.guid, Ok(())).await?;
        return Err(BuildpackError::NotFound);
    }
    let outcome = blobs.delete(&keys::buildpack(guid)).await.map_err(|err| {
        vec![JobFailure::unknown(format_args!(
            "deleting buildpack blob: {}",
            CauseChain(&err)
        ))]
    });
    jobs::finish(db, &job.guid, outcome).await?;
    Ok(job.guid.into())
}

pub(super) fn require_admin(user: &User) -> Result<(), BuildpackError> {
    if user.is_admin() {
        Ok(())
    } else {
        Err(BuildpackError::NotAuthorized)
    }
}

async fn require_stack(db: &DbPool, stack: &str) -> Result<(), BuildpackError> {
    if stacks::find_by_name(db, stack).await?.is_some() {
        Ok(())
    } else {
        Err(BuildpackError::UnknownStack(stack.to_string()))
    }
}

fn name_taken_or(err: sqlx::Error, name: String, stack: Option<String>) -> BuildpackError {
    if db::is_unique_violation(&err) {
        BuildpackError::NameTaken { name, stack }
    } else {
        err.into()
    }
}
