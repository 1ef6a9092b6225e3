//! `POST /v3/apps/:guid/actions/clear_buildpack_cache`: forget the app's build cache so that
//! its next staging starts without one.

use crate::actions::access;
use crate::actions::jobs::{self, JobFailure};
use crate::auth::User;
use crate::blobstore::{keys, Blobstore};
use crate::cause_chain::CauseChain;
use crate::db::{build_caches, DbPool};

#[derive(Debug, thiserror::Error)]
pub enum BuildCacheError {
    #[error("App not found")]
    AppNotFound,
    #[error("not authorized")]
    NotAuthorized,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// SpaceDeveloper only. The row goes first (staging reads the cache only when the row says it
/// exists), then the blob; recorded as a user job whose guid is returned, already finished.
#[tracing::instrument(skip_all, fields(app_guid = %app_guid))]
pub async fn clear(
    db: &DbPool,
    blobs: &Blobstore,
    user: &User,
    app_guid: &str,
) -> Result<String, BuildCacheError> {
    let access::ReadableApp { app, access, .. } = access::readable_app(db, user, app_guid)
        .await?
        .ok_or(BuildCacheError::AppNotFound)?;
    if !access.write {
        return Err(BuildCacheError::NotAuthorized);
    }
    let job = jobs::start(db, user, "app.buildpack_cache_delete", &app.guid).await?;
    let outcome = match build_caches::delete(db, &app.guid).await {
        Ok(_) => blobs
            .delete(&keys::build_cache(&app.guid))
            .await
            .map_err(|err| {
                vec![JobFailure::unknown(format_args!(
                    "deleting build cache blob: {}",
                    CauseChain(&err)
                ))]
            }),
        Err(err) => Err(vec![JobFailure::unknown(format_args!(
            "deleting build cache row: {}",
            CauseChain(&err)
        ))]),
    };
    jobs::finish(db, &job.guid, outcome).await?;
    Ok(job.guid.into())
}
