//! Blobs (package zips, droplets, buildpacks, build caches) in a local directory or an
//! S3-compatible bucket, always moved as streams so memory stays flat whatever the size.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
// The `http` crate's method, which object_store's signer takes (axum re-exports the crate).
use axum::http::Method;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::signer::Signer;
use object_store::{BackoffConfig, MultipartUpload, ObjectStore, PutPayload, RetryConfig};
use tokio::io::AsyncReadExt;
use tokio::task::JoinSet;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {0} not found")]
    NotFound(String),
    #[error("blobstore: {0}")]
    Store(#[from] object_store::Error),
    #[error("blobstore i/o: {0}")]
    Io(#[from] std::io::Error),
}

#[derive(Clone)]
pub struct Blobstore {
    store: Arc<dyn ObjectStore>,
    /// The same store when it is a local directory: staging links blobs out of it and moves
    /// droplets into it instead of copying them through the store's streams.
    local: Option<Arc<LocalFileSystem>>,
    /// Set when downloads are answered with a presigned URL instead of the bytes.
    redirects: Option<Presigner>,
}

/// What a download hands the client: the bytes, or where to fetch them without a token.
pub enum BlobDownload {
    Stream(BoxStream<'static, Result<Bytes, BlobError>>),
    Redirect(url::Url),
}

/// Blobs larger than one part go up in parts of this size. S3 wants at least 5 MiB in every part
/// but the last, and at most 10,000 parts: 8 MiB parts hold blobs of up to 78 GiB.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// Parts of one upload sent at once (each is held in memory while it is sent).
const PARTS_IN_FLIGHT: usize = 2;

/// How long a presigned download URL works: an hour, as Cloud Controller's blobstore signs them.
pub const REDIRECT_EXPIRY: Duration = Duration::from_secs(3600);

impl Blobstore {
    /// `spec` is a directory path or `s3://bucket[/prefix]` (credentials, region and endpoint
    /// from the usual AWS_* variables). With `redirects`, downloads answer with presigned URLs,
    /// which only an S3 blobstore can make.
    pub fn open(spec: &str, redirects: bool) -> anyhow::Result<Self> {
        let mut presigner = None;
        let mut local = None;
        let store: Arc<dyn ObjectStore> = if let Some(rest) = spec.strip_prefix("s3://") {
            let (s3, prefix) = open_s3(rest)?;
            presigner = redirects.then(|| Presigner {
                s3: s3.clone(),
                prefix: prefix.clone(),
            });
            if prefix.as_ref().is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(PrefixStore::new(s3, prefix))
            }
        } else {
            std::fs::create_dir_all(spec)?;
            let directory = Arc::new(LocalFileSystem::new_with_prefix(spec)?);
            local = Some(directory.clone());
            directory
        };
        if redirects && presigner.is_none() {
            bail!("download redirects need an s3:// blobstore, not the directory {spec}");
        }
        Ok(Blobstore {
            store,
            local,
            redirects: presigner,
        })
    }

    /// Streams a local file into the blobstore under `key`. The blob appears whole or not at
    /// all: a small file goes up in one request, a larger one in parts that become the blob only
    /// when the last has arrived, and a failed upload is aborted so that no parts stay behind,
    /// even when the caller stops waiting half-way.
    pub async fn put_file(&self, key: &str, file: &Path) -> Result<(), BlobError> {
        let source = tokio::fs::File::open(file).await?;
        let store = self.store.clone();
        let key = key.to_string();
        crate::detached::run_to_end(async move { upload_whole(&*store, &key, source).await }).await
    }

    /// The blob as a stream of chunks.
    pub async fn get_stream(
        &self,
        key: &str,
    ) -> Result<BoxStream<'static, Result<Bytes, BlobError>>, BlobError> {
        match self.store.get(&ObjectPath::from(key)).await {
            Ok(result) => Ok(result.into_stream().map_err(BlobError::from).boxed()),
            Err(object_store::Error::NotFound { .. }) => Err(BlobError::NotFound(key.to_string())),
            Err(err) => Err(err.into()),
        }
    }

    /// A blob for a client: a presigned URL when this blobstore redirects downloads, else the
    /// bytes. Either way a missing blob is `NotFound`, not a link to nothing.
    pub async fn download(&self, key: &str) -> Result<BlobDownload, BlobError> {
        let Some(presigner) = &self.redirects else {
            return Ok(BlobDownload::Stream(self.get_stream(key).await?));
        };
        if !self.exists(key).await? {
            return Err(BlobError::NotFound(key.to_string()));
        }
        Ok(BlobDownload::Redirect(presigner.get_url(key).await?))
    }
    /// Puts the blob in a new local file `dest` (for staging). From a local directory it is a
    /// hard link when both are on one filesystem: blobs there are never written in place (a
    /// put renames a new file over the old, a delete unlinks), so the link keeps the bytes it
    /// was made with. Otherwise the bytes are streamed into a copy.
    pub async fn get_to_file(&self, key: &str, dest: &Path) -> Result<(), BlobError> {
        if let Some(local) = &self.local {
            let source = local.path_to_filesystem(&ObjectPath::from(key))?;
            let link = dest.to_path_buf();
            let linked = tokio::task::spawn_blocking(move || std::fs::hard_link(source, link))
                .await
                .map_err(std::io::Error::other)?;
            match linked {
                Ok(()) => return Ok(()),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    return Err(BlobError::NotFound(key.to_string()))
                }
                // Another filesystem, or one without hard links: copy instead.
                Err(_) => {}
            }
        }
        self.copy_to_file(key, dest).await
    }

    async fn copy_to_file(&self, key: &str, dest: &Path) -> Result<(), BlobError> {
        use tokio::io::AsyncWriteExt;
        let mut stream = self.get_stream(key).await?;
        let mut file = tokio::fs::File::create(dest).await?;
        while let Some(chunk) = stream.next().await {
            file.write_all(&chunk?).await?;
        }
        file.flush().await?;
        Ok(())
    }

    /// Stores the local file `file` under `key` and leaves `file` gone or unchanged: into a
    /// local directory on the same filesystem it is renamed into place (whole at once, no
    /// copy); anywhere else it is uploaded as `put_file` does.
    pub async fn put_file_by_moving(&self, key: &str, file: &Path) -> Result<(), BlobError> {
        if let Some(local) = &self.local {
            let dest = local.path_to_filesystem(&ObjectPath::from(key))?;
            let source = file.to_path_buf();
            let moved = tokio::task::spawn_blocking(move || {
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::rename(source, dest)
            })
            .await
            .map_err(std::io::Error::other)?;
            match moved {
                Ok(()) => return Ok(()),
                Err(err) if err.kind() == std::io::ErrorKind::CrossesDevices => {}
                Err(err) => return Err(err.into()),
            }
        }
        self.put_file(key, file).await
    }

    /// Deletes a blob; a missing blob is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// Whether the store answers: a HEAD of a key nobody writes, which a store that can be
    /// reached answers with "not found".
    pub async fn check(&self) -> Result<(), BlobError> {
        self.exists(".ladle-readiness-probe").await.map(drop)
    }

    /// Copies a blob to another key inside the store (S3 copies it server-side; a local
    /// blobstore copies the file off the async workers). A missing source is `NotFound`.
    pub async fn copy(&self, from: &str, to: &str) -> Result<(), BlobError> {
        match self
            .store
            .copy(&ObjectPath::from(from), &ObjectPath::from(to))
            .await
        {
            Ok(()) => Ok(()),
            Err(object_store::Error::NotFound { .. }) => Err(BlobError::NotFound(from.to_string())),
            Err(err) => Err(err.into()),
        }
    }

    pub async fn exists(&self, key: &str) -> Result<bool, BlobError> {
        match self.store.head(&ObjectPath::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }
}

/// Retries of a failed S3 request: a few, within seconds. object_store's default (10 retries
/// within 3 minutes) would hold a client's request for minutes while S3 is away; with these, the
/// client hears ServiceUnavailable soon and retries itself.
const S3_RETRIES: RetryConfig = RetryConfig {
    backoff: BackoffConfig {
        init_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(2),
        base: 2.0,
    },
    max_retries: 3,
    retry_timeout: Duration::from_secs(10),
};

/// `bucket[/prefix]` of an `s3://` spec: the bucket, and the folder in it that holds the blobs.
fn open_s3(location: &str) -> anyhow::Result<(AmazonS3, ObjectPath)> {
    let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
    if bucket.is_empty() {
        bail!("s3://bucket[/prefix] names no bucket");
    }
    let prefix = ObjectPath::parse(prefix)
        .with_context(|| format!("{prefix:?} is not a valid prefix of S3 object keys"))?;
    let s3 = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(S3_RETRIES)
        .build()
        .with_context(|| format!("cannot set up the S3 bucket {bucket}"))?;
    Ok((s3, prefix))
}

/// `Blobstore::put_file`'s work, on its own task.
async fn upload_whole(
    store: &dyn ObjectStore,
    key: &str,
    mut source: tokio::fs::File,
) -> Result<(), BlobError> {
    let location = ObjectPath::from(key);
    let first = read_part(&mut source).await?;
    if first.len() < PART_SIZE {
        store.put(&location, first.into()).await?;
        return Ok(());
    }
    let mut upload = store.put_multipart(&location).await?;
    // Not object_store's WriteMultipart: when a part fails, its `finish` returns the error
    // without aborting the upload, and the parts already sent would stay (and be billed).
    let mut in_flight = JoinSet::new();
    let sent = send_parts(upload.as_mut(), &mut in_flight, first, &mut source).await;
    // After a failed part, the others still in flight settle before the abort: a part that
    // reached S3 after it would be kept.
    while in_flight.join_next().await.is_some() {}
    let completed = match sent {
        Ok(()) => upload.complete().await.map(drop).map_err(BlobError::from),
        Err(err) => Err(err),
    };
    if let Err(err) = &completed {
        tracing::warn!(key, error = %err, "blob upload failed; aborting it");
        if let Err(abort) = upload.abort().await {
            tracing::error!(key, error = %abort, "cannot abort the failed blob upload");
        }
    }
    completed
}

/// Reads up to one part of `source`; shorter only at the end of the file.
async fn read_part(source: &mut tokio::fs::File) -> std::io::Result<Vec<u8>> {
    let mut part = Vec::new();
    source.take(PART_SIZE as u64).read_to_end(&mut part).await?;
    Ok(part)
}

/// Sends `first` and the rest of `source` as parts, `PARTS_IN_FLIGHT` at a time.
async fn send_parts(
    upload: &mut dyn MultipartUpload,
    in_flight: &mut JoinSet<object_store::Result<()>>,
    first: Vec<u8>,
    source: &mut tokio::fs::File,
) -> Result<(), BlobError> {
    let mut part = first;
    while !part.is_empty() {
        while in_flight.len() >= PARTS_IN_FLIGHT {
            if let Some(sent) = in_flight.join_next().await {
                part_sent(sent)?;
            }
        }
        in_flight.spawn(upload.put_part(PutPayload::from(part)));
        part = read_part(source).await?;
    }
    while let Some(sent) = in_flight.join_next().await {
        part_sent(sent)?;
    }
    Ok(())
}

fn part_sent(
    joined: Result<object_store::Result<()>, tokio::task::JoinError>,
) -> Result<(), BlobError> {
    match joined {
        Ok(sent) => Ok(sent?),
        Err(join) => Err(std::io::Error::other(join).into()),
    }
}

/// Signs GET URLs for blobs of an S3 bucket, under the blobstore's prefix.
#[derive(Clone)]
struct Presigner {
    s3: AmazonS3,
    prefix: ObjectPath,
}

impl Presigner {
    async fn get_url(&self, key: &str) -> Result<url::Url, BlobError> {
        let key = ObjectPath::from(key);
        let location: ObjectPath = self.prefix.parts().chain(key.parts()).collect();
        Ok(self
            .s3
            .signed_url(Method::GET, &location, REDIRECT_EXPIRY)
            .await?)
    }
}

/// Blob keys, in one place.
pub mod keys {
    pub fn package(guid: &str) -> String {
        format!("packages/{guid}")
    }
    pub fn droplet(guid: &str) -> String {
        format!("droplets/{guid}")
    }
    pub fn buildpack(guid: &str) -> String {
        format!("buildpacks/{guid}")
    }
    pub fn build_cache(app_guid: &str) -> String {
        format!("build-caches/{app_guid}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    fn local_store() -> (tempfile::TempDir, Blobstore) {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobstore::open(dir.path().join("blobs").to_str().unwrap(), false).unwrap();
        (dir, blobs)
    }

    #[tokio::test]
    async fn blobs_of_any_size_come_back_whole() {
        let (dir, blobs) = local_store();
        let sizes = [0, 1, PART_SIZE - 1, PART_SIZE, 2 * PART_SIZE + 123];
        for size in sizes {
            let mut bytes = vec![0u8; size];
            rand::thread_rng().fill_bytes(&mut bytes);
            let source = dir.path().join(format!("source-{size}"));
            std::fs::write(&source, &bytes).unwrap();
            let key = keys::package(&format!("size-{size}"));
            blobs.put_file(&key, &source).await.unwrap();

            let copy = dir.path().join(format!("copy-{size}"));
            blobs.get_to_file(&key, &copy).await.unwrap();
            assert!(std::fs::read(&copy).unwrap() == bytes, "{size} bytes");
            let BlobDownload::Stream(stream) = blobs.download(&key).await.unwrap() else {
                panic!("a local blobstore never redirects");
            };
            let streamed: Vec<Bytes> = stream.try_collect().await.unwrap();
            assert!(streamed.concat() == bytes, "{size} bytes streamed");
        }
        let stored = dir.path().join("blobs/packages");
        assert_eq!(
            std::fs::read_dir(stored).unwrap().count(),
            sizes.len(),
            "one file per blob, no parts left beside them"
        );
    }

    async fn blob_bytes(blobs: &Blobstore, key: &str) -> Vec<u8> {
        let stream = blobs.get_stream(key).await.unwrap();
        let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
        chunks.concat()
    }

    /// Staging's inputs are hard links into a local blobstore: neither side may see the other
    /// change.
    #[tokio::test]
    async fn a_fetched_blob_keeps_its_bytes_whatever_happens_to_the_blob() {
        let (dir, blobs) = local_store();
        let key = keys::package("linked");
        let source = dir.path().join("source");
        std::fs::write(&source, b"first bits").unwrap();
        blobs.put_file(&key, &source).await.unwrap();
        let first = dir.path().join("first");
        blobs.get_to_file(&key, &first).await.unwrap();

        std::fs::write(&source, b"second bits, longer").unwrap();
        blobs.put_file(&key, &source).await.unwrap();
        assert_eq!(std::fs::read(&first).unwrap(), b"first bits");
        let second = dir.path().join("second");
        blobs.get_to_file(&key, &second).await.unwrap();
        assert_eq!(std::fs::read(&second).unwrap(), b"second bits, longer");

        std::fs::remove_file(&second).unwrap();
        assert_eq!(blob_bytes(&blobs, &key).await, b"second bits, longer");
        blobs.delete(&key).await.unwrap();
        assert_eq!(std::fs::read(&first).unwrap(), b"first bits");
        assert!(matches!(
            blobs.get_to_file(&key, &dir.path().join("third")).await,
            Err(BlobError::NotFound(_))
        ));
        assert!(!dir.path().join("third").exists());
    }

    #[tokio::test]
    async fn a_file_moved_in_becomes_the_blob_whole() {
        let (dir, blobs) = local_store();
        let key = keys::droplet("moved");
        for contents in [&b"a droplet"[..], &b"another droplet"[..]] {
            let file = dir.path().join("droplet.tgz");
            std::fs::write(&file, contents).unwrap();
            blobs.put_file_by_moving(&key, &file).await.unwrap();
            assert!(!file.exists(), "moved, not copied");
            assert_eq!(blob_bytes(&blobs, &key).await, contents);
        }
    }

    #[tokio::test]
    async fn missing_blobs_are_not_found() {
        let (_dir, blobs) = local_store();
        assert!(matches!(
            blobs.download("droplets/none").await,
            Err(BlobError::NotFound(key)) if key == "droplets/none"
        ));
        assert!(!blobs.exists("droplets/none").await.unwrap());
    }

    #[test]
    fn s3_specs_name_a_bucket_and_a_valid_prefix() {
        assert!(Blobstore::open("s3://bucket", false).is_ok());
        assert!(Blobstore::open("s3://bucket/a/prefix/", false).is_ok());
        let no_bucket = Blobstore::open("s3:///prefix", false).err().unwrap();
        assert!(
            no_bucket.to_string().contains("names no bucket"),
            "{no_bucket}"
        );
        let empty_segment = Blobstore::open("s3://bucket/a//b", false).err().unwrap();
        assert!(
            empty_segment.to_string().contains("not a valid prefix"),
            "{empty_segment}"
        );
    }

    #[test]
    fn only_s3_blobstores_redirect() {
        let dir = tempfile::tempdir().unwrap();
        let refused = Blobstore::open(dir.path().to_str().unwrap(), true)
            .err()
            .unwrap();
        assert!(
            refused.to_string().contains("need an s3:// blobstore"),
            "{refused}"
        );
        assert!(Blobstore::open("s3://bucket/prefix", true).is_ok());
    }
}
