//! The S3 blobstore against a real S3-compatible server: large blobs go up in parts and come back
//! whole, an upload that fails half-way is aborted and leaves nothing READY or STAGED, and
//! downloads may answer with a presigned URL that works without the token. The tests that need
//! S3 are ignored in the other passes; the test command's S3 pass runs them (and the rest of the
//! suite) against its loopback server, and they fail, never skip, without one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::blobs::require_s3;
use crate::packages::{upload, zip_bytes, AppFixture, Entry};
use crate::staging_support::droplet_files;
use crate::support::{ladle_bin, TestServer};

const DEV: &str = "s3-dev";

/// A zip of one incompressible file of `size` bytes.
fn large_zip(size: usize) -> Vec<u8> {
    let mut contents = vec![0u8; size];
    rand::thread_rng().fill_bytes(&mut contents);
    zip_bytes(&[Entry::File("data.bin", &contents)])
}

fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[tokio::test]
#[ignore = "needs an S3 server; the test command's S3 pass runs it"]
async fn large_packages_go_up_in_parts_and_come_back_whole() {
    require_s3();
    let server = TestServer::start().await;
    let fx = AppFixture::create(&server).await;
    let guid = fx.bits_package(&server).await;
    let part = ladle::blobstore::PART_SIZE;
    let bits = large_zip(2 * part + part / 2);

    let path = format!("/v3/packages/{guid}/upload");
    let uploaded = upload(&server, &path, &fx.developer, Some(bits.clone()), None).await;
    uploaded.assert_status(200);
    assert_eq!(uploaded.body["state"], "READY");
    let stored = server
        .blob_meta(&format!("packages/{guid}"))
        .await
        .expect("blob stored");
    assert_eq!(stored.size, bits.len());
    let etag = stored.e_tag.expect("S3 objects have an ETag");
    assert!(
        etag.trim_matches('"').ends_with("-3"),
        "ETag {etag}: S3 stored one object of three parts"
    );
    assert!(server.unfinished_uploads().await.is_empty());

    let download = server
        .client
        .get(format!("{}/v3/packages/{guid}/download", server.url))
        .header("Authorization", format!("bearer {}", fx.developer))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    let downloaded = download.bytes().await.unwrap();
    assert_eq!(
        digest(&downloaded),
        digest(&bits),
        "the same bytes came back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs an S3 server; the test command's S3 pass runs it"]
async fn a_package_upload_that_fails_half_way_is_aborted_and_never_ready() {
    require_s3();
    let proxy = S3Proxy::start(|method, target| {
        let second_part = method == Method::PUT && target.contains("partNumber=2");
        if second_part {
            Fault::Refuse
        } else {
            Fault::None
        }
    })
    .await;
    let server = TestServer::start_with(&[("AWS_ENDPOINT_URL", &proxy.url)]).await;
    let fx = AppFixture::create(&server).await;
    let guid = fx.bits_package(&server).await;
    let part = ladle::blobstore::PART_SIZE;

    let path = format!("/v3/packages/{guid}/upload");
    let failed = upload(
        &server,
        &path,
        &fx.developer,
        Some(large_zip(3 * part)),
        None,
    )
    .await;
    failed.assert_status(500);
    assert_eq!(failed.body["errors"][0]["title"], "UnknownError");
    let seen = proxy.requests();
    assert!(
        seen.iter()
            .any(|r| r.method == "POST" && r.target.contains("?uploads")),
        "a multipart upload was begun: {seen:?}"
    );
    assert!(
        seen.iter().any(|r| r.refused),
        "the second part was refused"
    );
    assert!(
        seen.iter()
            .any(|r| r.method == "DELETE" && r.target.contains("uploadId=")),
        "the upload was aborted: {seen:?}"
    );

    let package = server
        .get(&format!("/v3/packages/{guid}"), &fx.developer)
        .await;
    assert_eq!(package.body["state"], "FAILED", "{}", package.text);
    assert!(!server.has_blob(&format!("packages/{guid}")).await);
    assert_eq!(
        server.unfinished_uploads().await,
        Vec::<String>::new(),
        "no parts left on the server"
    );
    server
        .get(&format!("/v3/packages/{guid}/download"), &fx.developer)
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Package has no bits to download.",
        );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs an S3 server; the test command's S3 pass runs it"]
async fn a_client_hanging_up_during_the_s3_upload_leaves_a_ready_package_and_no_parts() {
    require_s3();
    let proxy = S3Proxy::start(|method, target| {
        let second_part = method == Method::PUT && target.contains("partNumber=2");
        if second_part {
            Fault::Delay(Duration::from_secs(5))
        } else {
            Fault::None
        }
    })
    .await;
    let server = TestServer::start_with(&[("AWS_ENDPOINT_URL", &proxy.url)]).await;
    let fx = AppFixture::create(&server).await;
    let guid = fx.bits_package(&server).await;
    let part = ladle::blobstore::PART_SIZE;
    let bits = large_zip(3 * part);

    let form = reqwest::multipart::Form::new().part(
        "bits",
        reqwest::multipart::Part::bytes(bits).file_name("app.zip"),
    );
    let uploading = tokio::spawn(
        server
            .client
            .post(format!("{}/v3/packages/{guid}/upload", server.url))
            .header("Authorization", format!("bearer {}", fx.developer))
            .multipart(form)
            .send(),
    );
    // The client hangs up while the second part is held up on its way to S3.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !proxy
        .requests()
        .iter()
        .any(|r| r.target.contains("partNumber=2"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the upload never reached its second part"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    uploading.abort();
    assert!(uploading.await.unwrap_err().is_cancelled());

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let package = loop {
        let package = server
            .get(&format!("/v3/packages/{guid}"), &fx.developer)
            .await;
        if package.body["state"] != "PROCESSING_UPLOAD" {
            break package;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still PROCESSING_UPLOAD after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(package.body["state"], "READY", "{}", package.text);
    assert_eq!(
        server.unfinished_uploads().await,
        Vec::<String>::new(),
        "no parts left on the server"
    );
    let stored = server.blob_meta(&format!("packages/{guid}")).await;
    assert!(stored.is_some(), "the READY package has its blob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs an S3 server; the test command's S3 pass runs it"]
async fn a_droplet_that_cannot_be_stored_fails_and_is_never_staged() {
    require_s3();
    let proxy = S3Proxy::start(|method, target| {
        if method == Method::PUT && target.contains("/droplets/") {
            Fault::Refuse
        } else {
            Fault::None
        }
    })
    .await;
    let server = TestServer::start_with(&[("AWS_ENDPOINT_URL", &proxy.url)]).await;
    let noop = server.admin_buildpack("noop", "noop").await;
    let (_, package) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);

    let created = server
        .post(
            &format!("/v3/packages/{package}/droplets"),
            &token,
            json!({"buildpack_guid": noop}),
        )
        .await;
    created.assert_status(201);
    let guid = created.body["guid"].as_str().unwrap().to_string();
    let droplet = server
        .wait_final(&format!("/v3/droplets/{guid}"), &token)
        .await;
    assert_eq!(droplet["state"], "FAILED", "{droplet}");
    let error = droplet["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("StagerError") && error.contains("cannot store the droplet"),
        "{error}"
    );
    assert!(proxy.requests().iter().any(|r| r.refused));
    assert!(!server.has_blob(&format!("droplets/{guid}")).await);
    assert!(server.unfinished_uploads().await.is_empty());
    server
        .get(&format!("/v3/droplets/{guid}/download"), &token)
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Only staged droplets can be downloaded.",
        );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs an S3 server; the test command's S3 pass runs it"]
async fn downloads_redirect_to_presigned_urls_that_need_no_token() {
    require_s3();
    // Every request passes; the proxy only shows what reached the S3 server.
    let proxy = S3Proxy::start(|_, _| Fault::None).await;
    let server = TestServer::start_with(&[
        ("AWS_ENDPOINT_URL", &proxy.url),
        ("LADLE_BLOBSTORE_REDIRECTS", "true"),
    ])
    .await;
    let noop = server.admin_buildpack("noop", "noop").await;
    let (_, package) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let staged = server
        .post(
            &format!("/v3/packages/{package}/droplets"),
            &token,
            json!({"buildpack_guid": noop}),
        )
        .await;
    let droplet = staged.body["guid"].as_str().unwrap().to_string();
    let staged = server
        .wait_final(&format!("/v3/droplets/{droplet}"), &token)
        .await;
    assert_eq!(staged["state"], "STAGED", "{staged}");

    let package_blob = format!("packages/{package}");
    let droplet_blob = format!("droplets/{droplet}");
    for (download, key) in [
        (format!("/v3/packages/{package}/download"), &package_blob),
        (format!("/v3/droplets/{droplet}/download"), &droplet_blob),
    ] {
        let location = redirect_of(&server, &download, &token).await;
        assert_presigned(&location, &proxy.url, &server.blobstore, key);

        // A client that follows redirects, as the cf CLI does, gets the bytes; the token stays
        // with ladle.
        let followed = server
            .client
            .get(format!("{}{download}", server.url))
            .header("Authorization", format!("bearer {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(followed.status(), 200, "{download}");
        assert_eq!(followed.url().as_str(), location.as_str());
        let bytes = followed.bytes().await.unwrap();
        let stored = server.blob(key).await.expect("blob stored");
        assert_eq!(digest(&bytes), digest(&stored), "{download}");
        let requests = proxy.requests();
        let fetched: Vec<&Seen> = requests
            .iter()
            .filter(|r| r.method == "GET" && r.target.contains(key.as_str()))
            .filter(|r| r.target.contains("X-Amz-Signature="))
            .collect();
        assert!(!fetched.is_empty(), "the blob was fetched from S3");
        assert!(
            fetched.iter().all(|r| !r.had_authorization),
            "the bearer token was sent to S3"
        );
    }
    let files = droplet_files(&server.blob(&droplet_blob).await.unwrap());
    assert!(!files.is_empty(), "the droplet is a tgz");

    // A STAGED droplet whose blob is lost is still a gateway error, not a link to nothing.
    server.remove_blob(&droplet_blob).await;
    let no_redirects = no_redirect_client();
    let lost = no_redirects
        .get(format!("{}/v3/droplets/{droplet}/download", server.url))
        .header("Authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    let lost = crate::support::Response::read(lost).await;
    lost.assert_error(
        502,
        150006,
        "BlobstoreUnavailable",
        "blobstore unavailability",
    );
}

#[test]
fn redirects_need_an_s3_blobstore() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(ladle_bin())
        .args(["serve", "--listen=127.0.0.1:0"])
        .arg(format!("--data-dir={}", data_dir.path().display()))
        .env("LADLE_TOKEN_SECRET", "s3-test")
        .env("LADLE_STAGING_SLOTS", "0")
        .env("LADLE_BLOBSTORE_REDIRECTS", "true")
        .env_remove("LADLE_BLOBSTORE")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn ladle serve");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            crate::support::stop(&mut child);
            panic!("ladle serve started with redirects on a local blobstore");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(
        stderr.contains("download redirects need an s3:// blobstore"),
        "{stderr}"
    );
}

fn no_redirect_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Where `path` redirects to; it must answer 302, as Cloud Controller's `BlobDispatcher` does.
async fn redirect_of(server: &TestServer, path: &str, token: &str) -> reqwest::Url {
    let answer = no_redirect_client()
        .get(format!("{}{path}", server.url))
        .header("Authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 302, "{path}");
    let location = answer.headers()[header::LOCATION].to_str().unwrap();
    reqwest::Url::parse(location).expect("absolute Location")
}

/// `location` is a SigV4 presigned GET of `key` in the server's folder of the bucket, made just
/// now and valid for an hour.
fn assert_presigned(location: &reqwest::Url, endpoint: &str, blobstore: &str, key: &str) {
    let folder = blobstore.strip_prefix("s3://").expect("an S3 blobstore");
    assert_eq!(
        format!(
            "{}{}",
            location.origin().ascii_serialization(),
            location.path()
        ),
        format!("{endpoint}/{folder}/{key}"),
    );
    let query: std::collections::HashMap<String, String> =
        location.query_pairs().into_owned().collect();
    let param = |name: &str| {
        query
            .get(name)
            .unwrap_or_else(|| panic!("{location} has no {name}"))
            .as_str()
    };
    assert_eq!(param("X-Amz-Algorithm"), "AWS4-HMAC-SHA256");
    let key_id = std::env::var("AWS_ACCESS_KEY_ID").unwrap();
    let credential = param("X-Amz-Credential");
    assert!(
        credential.starts_with(&format!("{key_id}/")) && credential.ends_with("/s3/aws4_request"),
        "{credential}"
    );
    assert_eq!(param("X-Amz-Expires"), "3600", "valid for an hour");
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let signed_at = time::PrimitiveDateTime::parse(param("X-Amz-Date"), &format)
        .expect("X-Amz-Date")
        .assume_utc();
    let age = time::OffsetDateTime::now_utc() - signed_at;
    assert!(age.abs() < time::Duration::minutes(5), "signed {age} ago");
    assert_eq!(param("X-Amz-SignedHeaders"), "host");
    let signature = param("X-Amz-Signature");
    assert!(
        signature.len() == 64 && signature.bytes().all(|b| b.is_ascii_hexdigit()),
        "{signature}"
    );
    assert!(!query.contains_key("Authorization"));
}

/// A loopback proxy in front of the suite's S3 server: the server under test is pointed at it
/// (`AWS_ENDPOINT_URL`), it refuses or holds up the requests a test picks, forwards the rest,
/// and remembers every request. Stops on drop.
struct S3Proxy {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Path and query.
    target: String,
    had_authorization: bool,
    refused: bool,
}

/// What the proxy does to one request, given its method and path and query.
enum Fault {
    None,
    /// 403 AccessDenied, which S3 clients do not retry.
    Refuse,
    /// Forwarded after a pause.
    Delay(Duration),
}

struct ProxyState {
    target: String,
    fault: fn(&Method, &str) -> Fault,
    seen: Arc<Mutex<Vec<Seen>>>,
    client: reqwest::Client,
}

const ACCESS_DENIED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
    <Error><Code>AccessDenied</Code><Message>refused by the test's proxy</Message></Error>";

impl S3Proxy {
    async fn start(fault: fn(&Method, &str) -> Fault) -> S3Proxy {
        let target = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL of the S3 server");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(ProxyState {
            target: target.trim_end_matches('/').to_string(),
            fault,
            seen: seen.clone(),
            client: reqwest::Client::new(),
        });
        let app = axum::Router::new().fallback(forward).with_state(state);
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("S3 proxy");
        });
        S3Proxy { url, seen, task }
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for S3Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(proxy): State<Arc<ProxyState>>, request: Request) -> HttpResponse {
    let (parts, body) = request.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |target| target.as_str())
        .to_string();
    // The whole body first, even of a refused request: a client still sending when the answer
    // comes sees a broken connection (and retries) rather than the refusal.
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("request body");
    let fault = (proxy.fault)(&parts.method, &target);
    let refused = matches!(fault, Fault::Refuse);
    proxy.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        target: target.clone(),
        had_authorization: parts.headers.contains_key(header::AUTHORIZATION),
        refused,
    });
    if let Fault::Delay(pause) = fault {
        tokio::time::sleep(pause).await;
    }
    if refused {
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "application/xml")],
            ACCESS_DENIED,
        )
            .into_response();
    }
    let mut forwarded = proxy
        .client
        .request(parts.method, format!("{}{target}", proxy.target))
        .body(body);
    for (name, value) in &parts.headers {
        if name != header::CONTENT_LENGTH && name != header::TRANSFER_ENCODING {
            forwarded = forwarded.header(name, value);
        }
    }
    let answer = forwarded.send().await.expect("S3 server behind the proxy");
    let mut response = HttpResponse::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != header::CONTENT_LENGTH && name != header::TRANSFER_ENCODING {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.expect("S3 answer");
    response.body(Body::from(bytes)).unwrap()
}
