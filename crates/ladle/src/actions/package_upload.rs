//! Uploading a bits package: the checks that come before reading the body, then keeping a
//! received zip. The zip is inspected before anything changes; then the row goes to
//! PROCESSING_UPLOAD, the blob is stored, and only then does the row say READY, so a crash at
//! any point never leaves a READY package without its blob.
//!
//! While PROCESSING_UPLOAD the package is one upload's (its `upload_owner`), whose node renews
//! a heartbeat on the row every third of the job lease. A node killed while storing stops
//! renewing; the periodic sweep (`jobs::sweep`) then puts the package back to AWAITING_UPLOAD,
//! and the client uploads again. Only the owning upload can mark the package READY or FAILED.

use std::time::Duration;

use ladle_archive::Limits;
use tokio_util::task::AbortOnDropHandle;

use crate::auth::User;
use crate::blobstore::{keys, Blobstore};
use crate::db::packages::{self, PackageRecord};
use crate::db::DbPool;
use crate::domain::{PackageState, PackageType};
use crate::upload_check::{self, ReceivedFile, ZipLimits};

use super::packages::{find_readable, PackageError};

pub fn zip_limits(max_package_size_bytes: u64) -> ZipLimits {
    ZipLimits {
        limits: Limits::with_max_bytes(max_package_size_bytes),
        contents: "app",
    }
}

/// The package, if the caller may upload bits to it now. Runs before the body is read, so a
/// refused upload costs nothing.
pub async fn check_uploadable(
    db: &DbPool,
    user: &User,
    guid: &str,
) -> Result<PackageRecord, PackageError> {
    let (package, access) = find_readable(db, user, guid).await?;
    if !access.write {
        return Err(PackageError::NotAuthorized);
    }
    if package.package_type != PackageType::Bits {
        return Err(PackageError::NotBits);
    }
    if !package.is(PackageState::AwaitingUpload) {
        return Err(PackageError::AlreadyUploaded);
    }
    Ok(package)
}

/// Keeps a received zip as the package's bits. A refused zip changes nothing: the package
/// still awaits an upload and the file is removed when `bits` drops.
#[tracing::instrument(skip_all, fields(package_guid = %package.guid, bytes = bits.size))]
pub async fn store(
    db: &DbPool,
    blobs: &Blobstore,
    limits: ZipLimits,
    package: &PackageRecord,
    bits: ReceivedFile,
    lease: Duration,
) -> Result<PackageRecord, PackageError> {
    upload_check::inspect_in_background(bits.path(), limits).await?;
    let owner = crate::db::new_guid().into_string();
    if !packages::start_processing_upload(db, &package.guid, &owner).await? {
        return Err(match packages::find(db, &package.guid).await? {
            Some(_) => PackageError::AlreadyUploaded,
            None => PackageError::NotFound,
        });
    }
    // From PROCESSING_UPLOAD on, the upload ends READY or FAILED even if the client hangs up
    // meanwhile; cut off here, the package would stay PROCESSING_UPLOAD for ever.
    let (db, blobs, guid) = (db.clone(), blobs.clone(), package.guid.clone());
    crate::detached::run_to_end(async move {
        // Dropped however the store ends (or panics), so no heartbeat outlives it.
        let _heartbeat = start_heartbeat(&db, &guid, &owner, lease);
        keep_bits(&db, &blobs, &guid, &owner, &bits).await
    })
    .await
}

/// Stores the bits, then marks the package READY (or FAILED when they cannot be stored).
async fn keep_bits(
    db: &DbPool,
    blobs: &Blobstore,
    guid: &str,
    owner: &str,
    bits: &ReceivedFile,
) -> Result<PackageRecord, PackageError> {
    let key = keys::package(guid);
    if let Err(err) = blobs.put_file(&key, bits.path()).await {
        packages::fail_upload(db, guid, owner, "The bits could not be stored").await?;
        return Err(err.into());
    }
    if !packages::finish_upload(db, guid, owner, &bits.sha1, &bits.sha256).await? {
        if packages::find(db, guid).await?.is_some() {
            // The sweep gave the package back (this node's heartbeat stopped for a lease): the
            // client uploads again, and the blob is left for that upload to overwrite.
            return Err(PackageError::UploadInterrupted);
        }
        // Deleted while its bits were being stored: the blob belongs to nobody.
        blobs.delete(&key).await?;
        return Err(PackageError::NotFound);
    }
    packages::find(db, guid)
        .await?
        .ok_or(PackageError::NotFound)
}

/// Renews `owner`'s upload heartbeat every third of `lease` until the handle is dropped, so
/// that the sweep leaves a package alone while its bits are being stored.
fn start_heartbeat(db: &DbPool, guid: &str, owner: &str, lease: Duration) -> AbortOnDropHandle<()> {
    let (db, guid, owner) = (db.clone(), guid.to_string(), owner.to_string());
    AbortOnDropHandle::new(tokio::spawn(async move {
        loop {
            tokio::time::sleep(lease / 3).await;
            match packages::renew_upload(&db, &guid, &owner).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(package_guid = %guid, "the upload is no longer this node's");
                    return;
                }
                Err(err) => {
                    tracing::warn!(package_guid = %guid, error = %err, "cannot renew the upload's heartbeat")
                }
            }
        }
    }))
}
