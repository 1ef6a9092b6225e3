//! The test servers' blobstore. By default a server keeps its blobs in `<data-dir>/blobs`. With
//! `LADLE_TEST_BLOBSTORE=s3://bucket[/prefix]` (and the AWS_* variables that reach that bucket,
//! which the servers inherit) every server gets a folder of its own in the bucket, so tests stay
//! independent; `scripts/test.sh` runs the suite that way against a loopback S3 server.
//!
//! Tests look at blobs through `TestServer::blob` and its neighbours, which read the bucket or
//! the folder directly (with object_store, not through ladle), whichever the server uses.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AwsAuthorizer, AwsCredential};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, RetryConfig};

use crate::support::{uuid, TestServer};

/// The suite's S3 location, when it runs against S3.
pub fn s3_base() -> Option<String> {
    std::env::var("LADLE_TEST_BLOBSTORE")
        .ok()
        .filter(|spec| !spec.is_empty())
}

/// For tests that only make sense on S3 (they are `#[ignore]`d, and the test command's S3 pass
/// runs them): fails, never skips, when the suite has no S3 server.
pub fn require_s3() -> String {
    s3_base().expect(
        "this test needs an S3 server: set LADLE_TEST_BLOBSTORE=s3://bucket and the AWS_* \
         variables (scripts/test.sh starts one)",
    )
}

/// Chooses a new server's blobstore and tells `command` about it: the test's own
/// `LADLE_BLOBSTORE` if it sets one, else a fresh folder of the suite's bucket (which must
/// answer, or the test fails), else the server's default under its data dir.
pub async fn choose(data_dir: &Path, env: &[(&str, &str)], command: &mut Command) -> String {
    if let Some((_, spec)) = env.iter().find(|(key, _)| *key == "LADLE_BLOBSTORE") {
        return spec.to_string();
    }
    let Some(base) = s3_base() else {
        return data_dir.join("blobs").display().to_string();
    };
    let spec = format!("{}/{}", base.trim_end_matches('/'), uuid());
    let (store, prefix) = open(&base);
    if let Err(err) = store.list_with_delimiter(Some(&prefix)).await {
        panic!("LADLE_TEST_BLOBSTORE={base} does not answer: {err}");
    }
    command.env("LADLE_BLOBSTORE", &spec);
    spec
}

impl TestServer {
    /// The blob stored under `key` (as `packages/<guid>`), if there is one.
    pub async fn blob(&self, key: &str) -> Option<Vec<u8>> {
        let (store, location) = self.blob_location(key);
        match store.get(&location).await {
            Ok(found) => Some(found.bytes().await.expect("read blob").to_vec()),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(err) => panic!("cannot read blob {key}: {err}"),
        }
    }

    /// The blob's size and ETag, if there is one.
    pub async fn blob_meta(&self, key: &str) -> Option<ObjectMeta> {
        let (store, location) = self.blob_location(key);
        match store.head(&location).await {
            Ok(meta) => Some(meta),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(err) => panic!("cannot look at blob {key}: {err}"),
        }
    }

    pub async fn has_blob(&self, key: &str) -> bool {
        self.blob_meta(key).await.is_some()
    }

    /// Removes a blob behind the server's back (storage lost).
    pub async fn remove_blob(&self, key: &str) {
        assert!(self.has_blob(key).await, "no blob {key} to remove");
        let (store, location) = self.blob_location(key);
        store.delete(&location).await.expect("remove blob");
    }

    /// Keys of the blobs under `folder` (as `packages`).
    pub async fn blob_keys(&self, folder: &str) -> Vec<String> {
        use futures::TryStreamExt;
        let (store, prefix) = open(&self.blobstore);
        let under = join(&prefix, folder);
        let listed: Vec<ObjectMeta> = match store.list(Some(&under)).try_collect().await {
            Ok(listed) => listed,
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(err) => panic!("cannot list blobs under {folder}: {err}"),
        };
        let skip = prefix.parts().count();
        listed
            .iter()
            .map(|meta| {
                let parts: Vec<_> = meta.location.parts().skip(skip).collect();
                ObjectPath::from_iter(parts).to_string()
            })
            .collect()
    }

    /// Keys of the multipart uploads begun under this server's folder of the bucket and neither
    /// completed nor aborted (S3 only).
    pub async fn unfinished_uploads(&self) -> Vec<String> {
        let rest = self
            .blobstore
            .strip_prefix("s3://")
            .expect("multipart uploads are an S3 matter");
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_string());
        let credential = AwsCredential {
            key_id: std::env::var("AWS_ACCESS_KEY_ID").expect("AWS_ACCESS_KEY_ID"),
            secret_key: std::env::var("AWS_SECRET_ACCESS_KEY").expect("AWS_SECRET_ACCESS_KEY"),
            token: std::env::var("AWS_SESSION_TOKEN").ok(),
        };
        let mut url = reqwest::Url::parse(&format!("{}/{bucket}", endpoint.trim_end_matches('/')))
            .expect("endpoint URL");
        url.query_pairs_mut()
            .append_pair("uploads", "")
            .append_pair("prefix", &format!("{prefix}/"));
        let client = reqwest::Client::new();
        let mut request = client.get(url).build().unwrap();
        AwsAuthorizer::new(&credential, "s3", &region).authorize(&mut request, None);
        let response = client
            .execute(request)
            .await
            .expect("list multipart uploads");
        let status = response.status();
        let listing = response.text().await.unwrap();
        assert!(
            status.is_success(),
            "list multipart uploads: {status} {listing}"
        );
        listing
            .split("<Upload>")
            .skip(1)
            .filter_map(|upload| {
                let (_, rest) = upload.split_once("<Key>")?;
                let (key, _) = rest.split_once("</Key>")?;
                Some(key.to_string())
            })
            .collect()
    }

    fn blob_location(&self, key: &str) -> (Box<dyn ObjectStore>, ObjectPath) {
        let (store, prefix) = open(&self.blobstore);
        (store, join(&prefix, key))
    }
}

/// The store a spec names and the folder of it that holds the blobs.
fn open(spec: &str) -> (Box<dyn ObjectStore>, ObjectPath) {
    let Some(rest) = spec.strip_prefix("s3://") else {
        let local = LocalFileSystem::new_with_prefix(spec).expect("local blobstore");
        return (Box::new(local), ObjectPath::default());
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    // A server that is down fails the test within seconds rather than after minutes of retries.
    let retry = RetryConfig {
        max_retries: 2,
        retry_timeout: Duration::from_secs(10),
        ..RetryConfig::default()
    };
    let s3 = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(retry)
        .build()
        .expect("S3 bucket of LADLE_TEST_BLOBSTORE");
    (Box::new(s3), ObjectPath::from(prefix))
}

fn join(prefix: &ObjectPath, key: &str) -> ObjectPath {
    prefix
        .parts()
        .chain(ObjectPath::from(key).parts())
        .collect()
}
