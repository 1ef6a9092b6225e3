//! `POST /v3/packages?source_guid=`: a package copied to another app, bits and all. Cloud
//! Controller answers COPYING and copies the bits in a job; the copy here is one blobstore
//! copy (server-side on S3), done before the row exists, so the new package is READY from its
//! first read and a crash half-way leaves at most an unreferenced blob, never a package
//! without its bits.

use crate::actions::access;
use crate::actions::packages::{self as package_actions, PackageError};
use crate::auth::User;
use crate::blobstore::{keys, Blobstore};
use crate::db::packages::{self, PackageRecord};
use crate::db::{self, DbPool};
use crate::domain::{PackageState, PackageType};
use crate::messages::copy::CopyRequest;

/// CC's order of checks: the destination app (404 when unreadable, 403 when not writable), then
/// the source package (404 when unreadable, 403 when its space is not writable).
#[tracing::instrument(skip_all, fields(source_guid = %request.source_guid, app_guid = %request.app_guid))]
pub async fn copy(
    db: &DbPool,
    blobs: &Blobstore,
    user: &User,
    request: CopyRequest,
) -> Result<PackageRecord, PackageError> {
    let app = access::readable_app(db, user, &request.app_guid)
        .await?
        .ok_or(PackageError::AppNotFound)?;
    if !app.access.write {
        return Err(PackageError::NotAuthorized);
    }
    let (source, source_access) =
        package_actions::find_readable(db, user, &request.source_guid).await?;
    if !source_access.write {
        return Err(PackageError::NotAuthorized);
    }
    let guid = db::new_guid();
    let has_bits = source.package_type == PackageType::Bits;
    if has_bits {
        if !source.is(PackageState::Ready) {
            return Err(PackageError::NoBitsToCopy(source.state));
        }
        blobs
            .copy(&keys::package(&source.guid), &keys::package(&guid))
            .await?;
    }
    if !packages::insert_copy(db, &source.guid, &guid, &app.app.guid, &db::now()).await? {
        // The source went away while its bits were copied.
        if has_bits {
            blobs.delete(&keys::package(&guid)).await?;
        }
        return Err(PackageError::NotFound);
    }
    packages::find(db, &guid)
        .await?
        .ok_or(PackageError::NotFound)
}
