//! Package verbs: create (both dialects), the read check, lists scoped to what the caller may
//! see, download and delete. Uploading lives in `package_upload`.

use crate::actions::access::{self, ReadableApp};
use crate::actions::jobs::{self, JobFailure};
use crate::auth::permissions::Access;
use crate::auth::permissions::{self, Visible};
use crate::auth::User;
use crate::blobstore::{keys, BlobDownload, BlobError, Blobstore};
use crate::cause_chain::CauseChain;
use crate::db::packages::{self, PackageRecord};
use crate::db::{self, DbPool};
use crate::domain::{PackageState, PackageType, Page};
use crate::fetchers;
use crate::messages::filters::PackageFilter;
use crate::messages::package_create::{PackageContent, PackageCreate};
use crate::upload_check::ArchiveError;

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("Package not found")]
    NotFound,
    /// The app named in the path (2015 dialect) is missing or unreadable.
    #[error("App not found")]
    AppNotFound,
    /// The app named in the body is missing or unreadable.
    #[error("App is invalid. Ensure it exists and you have access to it.")]
    AppInvalid,
    #[error("not authorized")]
    NotAuthorized,
    #[error("Package type must be bits.")]
    NotBits,
    #[error("Bits may be uploaded only once. Create a new package to upload different bits.")]
    AlreadyUploaded,
    /// The node storing the bits lost the upload (its heartbeat stopped for a lease, and the
    /// package went back to awaiting bits).
    #[error("the upload was interrupted before its bits were kept; upload them again")]
    UploadInterrupted,
    #[error("Package has no bits to download.")]
    NoBitsToDownload,
    /// A bits package can be copied once its bits are in (state READY).
    #[error("Source package has no bits to copy: its state is {0}.")]
    NoBitsToCopy(PackageState),
    #[error(transparent)]
    InvalidZip(#[from] ArchiveError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Today's `POST /v3/packages`: a missing or unreadable app is a 422.
#[tracing::instrument(skip_all, fields(app_guid = %input.app_guid))]
pub async fn create(
    db: &DbPool,
    user: &User,
    input: PackageCreate,
) -> Result<PackageRecord, PackageError> {
    let app = access::readable_app(db, user, &input.app_guid)
        .await?
        .ok_or(PackageError::AppInvalid)?;
    if !app.access.write {
        return Err(PackageError::NotAuthorized);
    }
    let package = new_record(input);
    packages::insert(db, &package).await?;
    Ok(package)
}

/// The 2015 `POST /v3/apps/:guid/packages`: a missing or unreadable app is a 404.
pub async fn create_for_app(
    db: &DbPool,
    user: &User,
    input: PackageCreate,
) -> Result<PackageRecord, PackageError> {
    match create(db, user, input).await {
        Err(PackageError::AppInvalid) => Err(PackageError::AppNotFound),
        other => other,
    }
}

fn new_record(input: PackageCreate) -> PackageRecord {
    let metadata = input.metadata.apply("{}");
    let (kind, state, image, username, password) = match input.content {
        PackageContent::Bits => (
            PackageType::Bits,
            PackageState::AwaitingUpload,
            None,
            None,
            None,
        ),
        PackageContent::Docker {
            image,
            username,
            password,
        } => (
            PackageType::Docker,
            PackageState::Ready,
            Some(image),
            username,
            password,
        ),
    };
    PackageRecord {
        guid: db::new_guid(),
        app_guid: input.app_guid,
        package_type: kind,
        state,
        sha1: None,
        sha256: None,
        error: None,
        docker_image: image,
        docker_username: username,
        docker_password: password,
        created_at: db::now(),
        updated_at: None,
        metadata,
    }
}

/// The package and what the caller may do with it, if it exists and the caller can see it.
pub async fn find_readable(
    db: &DbPool,
    user: &User,
    guid: &str,
) -> Result<(PackageRecord, Access), PackageError> {
    let (package, app) = find_readable_with_app(db, user, guid).await?;
    Ok((package, app.access))
}

/// `find_readable` with the package's app and space, for what is listed under a package.
pub async fn find_readable_with_app(
    db: &DbPool,
    user: &User,
    guid: &str,
) -> Result<(PackageRecord, ReadableApp), PackageError> {
    let package = packages::find(db, guid)
        .await?
        .ok_or(PackageError::NotFound)?;
    let app = access::readable_app(db, user, &package.app_guid)
        .await?
        .ok_or(PackageError::NotFound)?;
    Ok((package, app))
}

/// A page of packages and the total.
pub type PackagePage = (Vec<PackageRecord>, u64);

/// One page of the packages the caller can see; `app_guid` scopes it to one readable app.
pub async fn list(
    db: &DbPool,
    user: &User,
    filter: &PackageFilter,
    page: &Page,
    app_guid: Option<&str>,
) -> Result<PackagePage, PackageError> {
    let Some(app_guid) = app_guid else {
        let spaces = permissions::readable_spaces(db, user).await?;
        return Ok(fetchers::packages::list(db, &spaces, filter, page).await?);
    };
    let app = access::readable_app(db, user, app_guid)
        .await?
        .ok_or(PackageError::AppNotFound)?;
    let filter = PackageFilter {
        app_guids: Some(vec![app.app.guid.into()]),
        ..filter.clone()
    };
    let spaces = Visible::Only(vec![app.space.guid.into()]);
    Ok(fetchers::packages::list(db, &spaces, &filter, page).await?)
}

/// The package's zip (its bytes, or a presigned URL when the blobstore redirects), for callers
/// allowed to read the space's secrets.
#[tracing::instrument(skip_all, fields(package_guid = %guid))]
pub async fn download(
    db: &DbPool,
    blobs: &Blobstore,
    user: &User,
    guid: &str,
) -> Result<BlobDownload, PackageError> {
    let (package, access) = find_readable(db, user, guid).await?;
    if !access.read_secrets {
        return Err(PackageError::NotAuthorized);
    }
    if package.package_type != PackageType::Bits {
        return Err(PackageError::NotBits);
    }
    if !package.is(PackageState::Ready) {
        return Err(PackageError::NoBitsToDownload);
    }
    Ok(blobs.download(&keys::package(&package.guid)).await?)
}

/// Deletes the row, then the blob (a failure in between leaves an unreferenced blob, never a
/// row pointing at nothing), recorded as a user job whose guid is returned. The work is done
/// before the caller is answered, so the job is finished when first polled.
#[tracing::instrument(skip_all, fields(package_guid = %guid))]
pub async fn delete(
    db: &DbPool,
    blobs: &Blobstore,
    user: &User,
    guid: &str,
) -> Result<String, PackageError> {
    let (package, access) = find_readable(db, user, guid).await?;
    if !access.write {
        return Err(PackageError::NotAuthorized);
    }
    let job = jobs::start(db, user, "package.delete", &package.guid).await?;
    if !packages::delete(db, &package.guid).await? {
        jobs::finish(db, &job.guid, Ok(())).await?;
        return Err(PackageError::NotFound);
    }
    let outcome = blobs
        .delete(&keys::package(&package.guid))
        .await
        .map_err(|err| {
            vec![JobFailure::unknown(format_args!(
                "deleting package blob: {}",
                CauseChain(&err)
            ))]
        });
    jobs::finish(db, &job.guid, outcome).await?;
    Ok(job.guid.into())
}
