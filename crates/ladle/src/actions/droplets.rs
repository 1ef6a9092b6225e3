//! Droplet verbs: the read check, the three lists (scope and secrets; the rows come from
//! `fetchers::droplets`), download and delete.

use crate::actions::access;
use crate::actions::jobs::{self, JobFailure};
use crate::actions::packages::{self as package_actions, PackageError};
use crate::auth::permissions::Access;
use crate::auth::permissions::{self, Visible};
use crate::auth::User;
use crate::blobstore::{keys, BlobDownload, BlobError, Blobstore};
use crate::cause_chain::CauseChain;
use crate::db::droplets::{self, DropletRecord};
use crate::db::{apps, DbPool};
use crate::domain::{DropletState, Page};
use crate::fetchers;
use crate::messages::filters::DropletFilter;

/// A page of droplets, each with whether the caller may see its secrets.
pub type DropletPage = (Vec<(DropletRecord, bool)>, u64);

#[derive(Debug, thiserror::Error)]
pub enum DropletError {
    #[error("not found")]
    NotFound,
    #[error("App not found")]
    AppNotFound,
    #[error("Package not found")]
    PackageNotFound,
    #[error("The droplet is currently used by app with guid \"{0}\".")]
    CurrentlyUsed(String),
    #[error("not authorized")]
    NotAuthorized,
    #[error("Only staged droplets can be downloaded.")]
    NotStaged,
    /// CC's DropletCopy::InvalidCopyError.
    #[error("source droplet is not staged")]
    SourceNotStaged,
    /// The row says STAGED but the blobstore has no such droplet.
    #[error("droplet blob missing: {0}")]
    BlobMissing(String),
    #[error(transparent)]
    Blob(BlobError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The droplet and the caller's access to its space; `NotFound` when missing or unreadable.
pub async fn find_readable(
    db: &DbPool,
    user: &User,
    guid: &str,
) -> Result<(DropletRecord, Access), DropletError> {
    let droplet = droplets::find(db, guid)
        .await?
        .ok_or(DropletError::NotFound)?;
    let access = access::app_access(db, user, &droplet.app_guid)
        .await?
        .ok_or(DropletError::NotFound)?;
    Ok((droplet, access))
}

/// The droplet's tgz (its bytes, or a presigned URL when the blobstore redirects), for callers
/// allowed to read the space's secrets.
#[tracing::instrument(skip_all, fields(droplet_guid = %guid))]
pub async fn download(
    db: &DbPool,
    blobs: &Blobstore,
    user: &User,
    guid: &str,
) -> Result<BlobDownload, DropletError> {
    let (droplet, access) = find_readable(db, user, guid).await?;
    if !access.read_secrets {
        return Err(DropletError::NotAuthorized);
    }
    if droplet.state != DropletState::Staged {
        return Err(DropletError::NotStaged);
    }
    match blobs.download(&keys::droplet(&droplet.guid)).await {
        Ok(download) => Ok(download),
        Err(BlobError::NotFound(key)) => Err(DropletError::BlobMissing(key)),
        Err(err) => Err(DropletError::Blob(err)),
    }
}

/// `GET /v3/droplets`: droplets of apps in spaces the caller can read.
pub async fn list(
    db: &DbPool,
    user: &User,
    filter: &DropletFilter,
    page: &Page,
) -> Result<DropletPage, DropletError> {
    let spaces = permissions::readable_spaces(db, user).await?;
    let (rows, total) = fetchers::droplets::list(db, &spaces, filter, page).await?;
    let app_guids: Vec<String> = rows.iter().map(|d| d.app_guid.to_string()).collect();
    let space_of = apps::space_guids_of(db, &app_guids).await?;
    let spaces: Vec<String> = space_of.values().cloned().collect();
    let secret_spaces = access::spaces_with_secrets(db, user, &spaces).await?;
    let shown = rows
        .into_iter()
        .map(|d| {
            let secrets = space_of
                .get(d.app_guid.as_str())
                .is_some_and(|space| secret_spaces.contains(space));
            (d, secrets)
        })
        .collect();
    Ok((shown, total))
}

/// `GET /v3/apps/:guid/droplets`; `current=true` keeps only the app's current droplet.
pub async fn list_for_app(
    db: &DbPool,
    user: &User,
    app_guid: &str,
    filter: &DropletFilter,
    page: &Page,
) -> Result<DropletPage, DropletError> {
    let access::ReadableApp { app, space, access } = access::readable_app(db, user, app_guid)
        .await?
        .ok_or(DropletError::AppNotFound)?;
    let filter = DropletFilter {
        // No current droplet: an empty list, not every droplet.
        guids: filter.current.then(|| {
            app.current_droplet_guid
                .iter()
                .map(|g| g.to_string())
                .collect()
        }),
        app_guids: Some(vec![app.guid.into()]),
        ..filter.clone()
    };
    let spaces = Visible::Only(vec![space.guid.into()]);
    let (rows, total) = fetchers::droplets::list(db, &spaces, &filter, page).await?;
    Ok((
        rows.into_iter().map(|d| (d, access.read_secrets)).collect(),
        total,
    ))
}

/// `GET /v3/packages/:guid/droplets`.
pub async fn list_for_package(
    db: &DbPool,
    user: &User,
    package_guid: &str,
    filter: &DropletFilter,
    page: &Page,
) -> Result<DropletPage, DropletError> {
    let found = package_actions::find_readable_with_app(db, user, package_guid).await;
    let (package, app) = match found {
        Ok(found) => found,
        Err(PackageError::Db(err)) => return Err(err.into()),
        Err(_) => return Err(DropletError::PackageNotFound),
    };
    let filter = DropletFilter {
        package_guids: Some(vec![package.guid.into()]),
        ..filter.clone()
    };
    let spaces = Visible::Only(vec![app.space.guid.into()]);
    let (rows, total) = fetchers::droplets::list(db, &spaces, &filter, page).await?;
    Ok((
        rows.into_iter()
            .map(|d| (d, app.access.read_secrets))
            .collect(),
        total,
    ))
}

/// `DELETE /v3/droplets/:guid`: SpaceDeveloper only; never an app's current droplet. The row
/// goes first, then the blob (a failure in between leaves an unreferenced blob, never a row
/// pointing at nothing), recorded as a user job whose guid is returned.
#[tracing::instrument(skip_all, fields(droplet_guid = %guid))]
pub async fn delete(
    db: &DbPool,
    blobs: &Blobstore,
    user: &User,
    guid: &str,
) -> Result<String, DropletError> {
    let (droplet, access) = find_readable(db, user, guid).await?;
    if !access.write {
        return Err(DropletError::NotAuthorized);
    }
    let mut tx = db.begin().await?;
    if !droplets::delete_unless_current(&mut tx, &droplet.guid).await? {
        tx.rollback().await?;
        return Err(why_not_deleted(db, &droplet.guid).await?);
    }
    tx.commit().await?;
    let job = jobs::start(db, user, "droplet.delete", &droplet.guid).await?;
    let outcome = blobs
        .delete(&keys::droplet(&droplet.guid))
        .await
        .map_err(|err| {
            vec![JobFailure::unknown(format_args!(
                "deleting droplet blob: {}",
                CauseChain(&err)
            ))]
        });
    jobs::finish(db, &job.guid, outcome).await?;
    Ok(job.guid.into())
}

/// After a guarded delete removed nothing: the app using it, or the droplet is already gone.
async fn why_not_deleted(db: &DbPool, guid: &str) -> Result<DropletError, sqlx::Error> {
    let user: Option<(String,)> =
        sqlx::query_as("SELECT guid FROM apps WHERE current_droplet_guid = $1")
            .bind(guid)
            .fetch_optional(db)
            .await?;
    Ok(match user {
        Some((app_guid,)) => DropletError::CurrentlyUsed(app_guid),
        None => DropletError::NotFound,
    })
}
