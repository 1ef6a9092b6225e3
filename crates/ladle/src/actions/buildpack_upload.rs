//! Uploading a buildpack's bits: a zip holding `bin/` (at its root or in its single top-level
//! folder), checked like package zips. The blob is written before the row says READY.

use ladle_archive::Limits;

use crate::auth::User;
use crate::blobstore::{keys, Blobstore};
use crate::db::buildpacks::{self, BuildpackRecord};
use crate::db::DbPool;
use crate::upload_check::{self, ReceivedFile, ZipLimits};

use super::buildpacks::{find, require_admin, BuildpackError};

/// The limits the stager and the builder unpack buildpacks with.
pub const ZIP_LIMITS: ZipLimits = ZipLimits {
    limits: Limits::BUILDPACK,
    contents: "buildpack",
};

/// The buildpack, if the caller may replace its bits now; runs before the body is read.
pub async fn check_uploadable(
    db: &DbPool,
    user: &User,
    guid: &str,
) -> Result<BuildpackRecord, BuildpackError> {
    let buildpack = find(db, guid).await?;
    require_admin(user)?;
    if buildpack.is_locked() {
        return Err(BuildpackError::Locked);
    }
    Ok(buildpack)
}

#[tracing::instrument(skip_all, fields(buildpack_guid = %buildpack.guid, bytes = bits.size))]
pub async fn store(
    db: &DbPool,
    blobs: &Blobstore,
    buildpack: &BuildpackRecord,
    bits: ReceivedFile,
    filename: Option<&str>,
) -> Result<BuildpackRecord, BuildpackError> {
    let summary = upload_check::inspect_in_background(bits.path(), ZIP_LIMITS).await?;
    if !summary.has_bin_dir() {
        return Err(BuildpackError::NoBinDir);
    }
    let filename = clean_filename(filename, &buildpack.name);
    // Stored and recorded even if the client hangs up meanwhile: cut off in between, the row
    // would not describe the bits its blob holds.
    let (db, blobs, guid) = (db.clone(), blobs.clone(), buildpack.guid.clone());
    crate::detached::run_to_end(
        async move { keep_bits(&db, &blobs, &guid, &bits, &filename).await },
    )
    .await
}

/// Stores the bits, then records them on the row, which says READY.
async fn keep_bits(
    db: &DbPool,
    blobs: &Blobstore,
    guid: &str,
    bits: &ReceivedFile,
    filename: &str,
) -> Result<BuildpackRecord, BuildpackError> {
    let key = keys::buildpack(guid);
    blobs.put_file(&key, bits.path()).await?;
    if !buildpacks::finish_upload(db, guid, filename, &bits.sha256).await? {
        // Deleted while its bits were being stored: the blob belongs to nobody.
        blobs.delete(&key).await?;
        return Err(BuildpackError::NotFound);
    }
    find(db, guid).await
}

/// The client's file name without any folder part or control characters, as it is shown
/// back; `<name>.zip` when none was sent.
fn clean_filename(sent: Option<&str>, buildpack_name: &str) -> String {
    let base = sent
        .and_then(|name| name.rsplit(['/', '\\']).next())
        .map(|name| {
            name.chars()
                .filter(|c| !c.is_control())
                .take(255)
                .collect::<String>()
        })
        .unwrap_or_default();
    if base.is_empty() || base == "." || base == ".." {
        format!("{buildpack_name}.zip")
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_lose_folders_and_control_characters() {
        assert_eq!(clean_filename(Some("../../x/bp.zip"), "bp"), "bp.zip");
        assert_eq!(clean_filename(Some("C:\\a\\go\nbp.zip"), "bp"), "gobp.zip");
        assert_eq!(clean_filename(None, "ruby"), "ruby.zip");
        assert_eq!(clean_filename(Some(".."), "ruby"), "ruby.zip");
    }
}
