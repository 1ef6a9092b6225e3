//! `POST /v3/droplets?source_guid=`: a STAGED droplet copied to another app, so it can run
//! there without staging again. As with packages, the blob is copied before the row exists:
//! the copy is STAGED from its first read (Cloud Controller shows COPYING until its job ends).

use crate::actions::access;
use crate::actions::droplets::{self as droplet_actions, DropletError};
use crate::auth::permissions::Access;
use crate::auth::User;
use crate::blobstore::{keys, BlobError, Blobstore};
use crate::db::droplets::{self, DropletRecord};
use crate::db::{self, DbPool};
use crate::domain::DropletState;
use crate::messages::copy::CopyRequest;

/// CC's order of checks: the source droplet (404 when unreadable), the destination app (404
/// when unreadable, 403 when the caller may not write to its space), then the source's state.
/// The copy comes back with the caller's access to its space, for how it is shown.
#[tracing::instrument(skip_all, fields(source_guid = %request.source_guid, app_guid = %request.app_guid))]
pub async fn copy(
    db: &DbPool,
    blobs: &Blobstore,
    user: &User,
    request: CopyRequest,
) -> Result<(DropletRecord, Access), DropletError> {
    let (source, _) = droplet_actions::find_readable(db, user, &request.source_guid).await?;
    let app = access::readable_app(db, user, &request.app_guid)
        .await?
        .ok_or(DropletError::AppNotFound)?;
    if !app.access.write {
        return Err(DropletError::NotAuthorized);
    }
    if source.state != DropletState::Staged {
        return Err(DropletError::SourceNotStaged);
    }
    let guid = db::new_guid();
    match blobs
        .copy(&keys::droplet(&source.guid), &keys::droplet(&guid))
        .await
    {
        Ok(()) => {}
        Err(BlobError::NotFound(key)) => return Err(DropletError::BlobMissing(key)),
        Err(err) => return Err(DropletError::Blob(err)),
    }
    if !droplets::insert_copy(db, &source.guid, &guid, &app.app.guid, &db::now()).await? {
        // The source was deleted (or failed) while its blob was copied.
        blobs
            .delete(&keys::droplet(&guid))
            .await
            .map_err(DropletError::Blob)?;
        return Err(DropletError::NotFound);
    }
    let copied = droplets::find(db, &guid)
        .await?
        .ok_or(DropletError::NotFound)?;
    Ok((copied, app.access))
}
