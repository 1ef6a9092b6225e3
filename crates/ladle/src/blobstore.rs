//! Blobs (package zips, droplets, buildpacks, build caches) in a local directory or an
//! S3-compatible bucket, always moved as streams so memory stays flat whatever the size.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, WriteMultipart};
use tokio::io::AsyncReadExt;

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
}

/// Chunk size for streaming uploads into the store.
const CHUNK: usize = 4 * 1024 * 1024;

impl Blobstore {
    /// `spec` is a directory path or `s3://bucket[/prefix]` (credentials and endpoint from the
    /// usual AWS_* variables).
    pub fn open(spec: &str) -> anyhow::Result<Self> {
        let store: Arc<dyn ObjectStore> = if let Some(rest) = spec.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let s3 = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()?;
            if prefix.is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
            }
        } else {
            std::fs::create_dir_all(spec)?;
            Arc::new(LocalFileSystem::new_with_prefix(spec)?)
        };
        Ok(Blobstore { store })
    }

    /// Streams a local file into the blobstore under `key`.
    pub async fn put_file(&self, key: &str, file: &Path) -> Result<(), BlobError> {
        let upload = self.store.put_multipart(&ObjectPath::from(key)).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, CHUNK);
        let mut source = tokio::fs::File::open(file).await?;
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            let n = source.read(&mut buffer).await?;
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(2).await?;
            writer.write(&buffer[..n]);
        }
        writer.finish().await?;
        Ok(())
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

    /// Copies the blob to a local file (for staging), streaming.
    pub async fn get_to_file(&self, key: &str, dest: &Path) -> Result<(), BlobError> {
        use tokio::io::AsyncWriteExt;
        let mut stream = self.get_stream(key).await?;
        let mut file = tokio::fs::File::create(dest).await?;
        while let Some(chunk) = stream.next().await {
            file.write_all(&chunk?).await?;
        }
        file.flush().await?;
        Ok(())
    }

    /// Deletes a blob; a missing blob is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
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
