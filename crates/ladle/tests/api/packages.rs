//! Packages: both creation dialects, bits upload (streamed, checked, hashed), download, the
//! zips we refuse, and delete.

use std::io::Write;
use std::path::Path;

use ladle_archive::cases;
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

use crate::support::{Response, TestServer};

/// A space with an app in it, and a developer and an auditor of that space.
pub struct AppFixture {
    pub space_guid: String,
    pub app_guid: String,
    pub developer: String,
    pub auditor: String,
    pub stranger: String,
}

impl AppFixture {
    pub async fn create(server: &TestServer) -> AppFixture {
        let (org_guid, space_guid) = server.org_and_space().await;
        let suffix = crate::support::uuid();
        let (dev_id, auditor_id) = (format!("dev-{suffix}"), format!("aud-{suffix}"));
        for user in [&dev_id, &auditor_id] {
            server
                .grant(user, "organization_user", "organization", &org_guid)
                .await;
        }
        server
            .grant(&dev_id, "space_developer", "space", &space_guid)
            .await;
        server
            .grant(&auditor_id, "space_auditor", "space", &space_guid)
            .await;
        let app = server
            .post(
                "/v3/apps",
                &server.admin_token(),
                json!({"name": "web", "relationships": {"space": {"data": {"guid": space_guid}}}}),
            )
            .await;
        app.assert_status(201);
        AppFixture {
            app_guid: guid_of(&app),
            space_guid,
            developer: server.user_token(&dev_id),
            auditor: server.user_token(&auditor_id),
            stranger: server.user_token(&format!("stranger-{suffix}")),
        }
    }

    pub async fn bits_package(&self, server: &TestServer) -> String {
        let created = server
            .post(
                "/v3/packages",
                &self.developer,
                json!({"type": "bits", "relationships": {"app": {"data": {"guid": self.app_guid}}}}),
            )
            .await;
        created.assert_status(201);
        guid_of(&created)
    }
}

pub fn guid_of(response: &Response) -> String {
    response.body["guid"]
        .as_str()
        .unwrap_or_else(|| panic!("no guid in {}", response.text))
        .to_string()
}

/// An entry of a zip built for a test.
pub enum Entry<'a> {
    File(&'a str, &'a [u8]),
    Executable(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
}

pub fn zip_bytes(entries: &[Entry]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default();
    for entry in entries {
        match entry {
            Entry::File(name, contents) => {
                writer.start_file(*name, options).unwrap();
                writer.write_all(contents).unwrap();
            }
            Entry::Executable(name, contents) => {
                writer
                    .start_file(*name, options.unix_permissions(0o755))
                    .unwrap();
                writer.write_all(contents).unwrap();
            }
            Entry::Dir(name) => writer.add_directory(*name, options).unwrap(),
            Entry::Symlink(name, target) => writer.add_symlink(*name, *target, options).unwrap(),
        }
    }
    writer.finish().unwrap().into_inner()
}

/// POSTs a multipart form with `bits` (when given) and `resources` (when given).
pub async fn upload(
    server: &TestServer,
    path: &str,
    token: &str,
    bits: Option<Vec<u8>>,
    resources: Option<&str>,
) -> Response {
    let mut form = Form::new();
    if let Some(resources) = resources {
        form = form.text("resources", resources.to_string());
    }
    if let Some(bits) = bits {
        let part = Part::bytes(bits)
            .file_name("app.zip")
            .mime_str("application/zip")
            .unwrap();
        form = form.part("bits", part);
    }
    let response = server
        .client
        .post(format!("{}{path}", server.url))
        .header("Authorization", format!("bearer {token}"))
        .multipart(form)
        .send()
        .await
        .expect("upload request");
    Response::read(response).await
}

/// Regular files under `dir`, recursively (blobs and temporary uploads left behind).
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let path = e.path();
            if path.is_dir() {
                files_under(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

fn app_zip() -> Vec<u8> {
    zip_bytes(&[
        Entry::File("index.html", b"<h1>hello</h1>"),
        Entry::Dir("lib/"),
        Entry::File("lib/nested/util.txt", b"nested"),
        Entry::Executable("bin/run", b"#!/bin/sh\necho hi\n"),
        Entry::Symlink("lib/home", "../index.html"),
    ])
}

#[tokio::test]
async fn packages_are_created_in_both_dialects() {
    let server = TestServer::start().await;
    let fx = AppFixture::create(&server).await;
    let app = json!({"app": {"data": {"guid": fx.app_guid}}});
    let bits = server
        .post(
            "/v3/packages",
            &fx.developer,
            json!({"type": "bits", "relationships": app, "data": {},
                   "metadata": {"labels": {"tier": "web"}}}),
        )
        .await;
    bits.assert_status(201);
    let bits_guid = guid_of(&bits);
    assert_eq!(bits.body["state"], "AWAITING_UPLOAD");
    assert_eq!(bits.body["type"], "bits");
    assert_eq!(bits.body["data"], json!({"checksum": null, "error": null}));
    assert_eq!(
        bits.body["relationships"]["app"]["data"]["guid"],
        fx.app_guid.as_str()
    );
    assert_eq!(bits.body["metadata"]["labels"]["tier"], "web");
    assert_eq!(bits.body["hash"], Value::Null);
    assert_eq!(
        bits.body["links"]["upload"],
        json!({"href": format!("{}/v3/packages/{bits_guid}/upload", server.url), "method": "POST"})
    );
    assert_eq!(
        bits.body["_links"]["stage"],
        json!({"href": format!("/v3/packages/{bits_guid}/droplets"), "method": "POST"})
    );
    let docker = server
        .post(
            "/v3/packages",
            &fx.developer,
            json!({"type": "docker", "relationships": app,
                   "data": {"image": "registry/app:1", "username": "me", "password": "s3cret"}}),
        )
        .await;
    docker.assert_status(201);
    assert_eq!(docker.body["state"], "READY");
    assert_eq!(
        docker.body["data"],
        json!({"image": "registry/app:1", "username": "me", "password": "***"})
    );
    assert_eq!(docker.body["url"], "registry/app:1");
    assert!(!docker.text.contains("s3cret"));
    assert!(docker.body["links"].get("upload").is_none());

    let old = server
        .post(
            &format!("/v3/apps/{}/packages", fx.app_guid),
            &fx.developer,
            json!({"type": "bits"}),
        )
        .await;
    old.assert_status(201);
    assert_eq!(old.body["state"], "AWAITING_UPLOAD");
    let old_docker = server
        .post(
            &format!("/v3/apps/{}/packages", fx.app_guid),
            &fx.developer,
            json!({"type": "docker", "url": "docker:///nginx"}),
        )
        .await;
    old_docker.assert_status(201);
    assert_eq!(old_docker.body["url"], "docker:///nginx");

    let shown = server
        .get(&format!("/v3/packages/{bits_guid}"), &fx.auditor)
        .await;
    shown.assert_status(200);
    assert_eq!(shown.body["guid"], bits_guid.as_str());
    let dockers = server.get("/v3/packages?types=docker", &fx.developer).await;
    assert_eq!(dockers.body["pagination"]["total_results"], 2);
    let in_space = server
        .get(
            &format!(
                "/v3/packages?space_guids={}&states=AWAITING_UPLOAD",
                fx.space_guid
            ),
            &fx.developer,
        )
        .await;
    assert_eq!(in_space.body["pagination"]["total_results"], 2);
    let of_app = server
        .get(
            &format!("/v3/apps/{}/packages?guids={bits_guid}", fx.app_guid),
            &fx.auditor,
        )
        .await;
    assert_eq!(of_app.body["pagination"]["total_results"], 1);
    server
        .get(
            &format!("/v3/apps/{}/packages?space_guids=x", fx.app_guid),
            &fx.auditor,
        )
        .await
        .assert_error(400, 10005, "BadQueryParameter", "space_guids");
    assert_eq!(
        server.get("/v3/packages", &fx.stranger).await.body["pagination"]["total_results"],
        0,
        "a user without a role sees no packages"
    );
    server
        .get(&format!("/v3/packages/{bits_guid}"), &fx.stranger)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Package not found");
}

#[tokio::test]
async fn creation_refuses_bad_bodies_and_apps_out_of_reach() {
    let server = TestServer::start().await;
    let fx = AppFixture::create(&server).await;
    let app = json!({"app": {"data": {"guid": fx.app_guid}}});
    server
        .post(
            "/v3/packages",
            &fx.developer,
            json!({"type": "bits", "relationships": app, "data": {"image": "x"}}),
        )
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "Data must be empty if provided for bits packages",
        );
    server
        .post(
            "/v3/packages",
            &fx.developer,
            json!({"type": "docker", "relationships": app}),
        )
        .await
        .assert_error(422, 10008, "UnprocessableEntity", "image");
    let missing = json!({"app": {"data": {"guid": "no-such-app"}}});
    for (token, relationships) in [(&fx.developer, &missing), (&fx.stranger, &app)] {
        server
            .post(
                "/v3/packages",
                token,
                json!({"type": "bits", "relationships": relationships}),
            )
            .await
            .assert_error(
                422,
                10008,
                "UnprocessableEntity",
                "App is invalid. Ensure it exists and you have access to it.",
            );
    }
    server
        .post(
            "/v3/packages",
            &fx.auditor,
            json!({"type": "bits", "relationships": app}),
        )
        .await
        .assert_error(403, 10003, "NotAuthorized", "");

    let old_path = format!("/v3/apps/{}/packages", fx.app_guid);
    server
        .post(&old_path, &fx.developer, json!({"type": "tarball"}))
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "must be one of 'bits, docker'",
        );
    server
        .post(&old_path, &fx.stranger, json!({"type": "bits"}))
        .await
        .assert_error(404, 10010, "ResourceNotFound", "App not found");
    server
        .post(
            "/v3/apps/no-such-app/packages",
            &fx.developer,
            json!({"type": "bits"}),
        )
        .await
        .assert_error(404, 10010, "ResourceNotFound", "App not found");
    server
        .post(&old_path, &fx.auditor, json!({"type": "bits"}))
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    let list = server.get("/v3/packages", &fx.developer).await;
    assert_eq!(
        list.body["pagination"]["total_results"], 0,
        "nothing was created"
    );
}

#[tokio::test]
async fn uploaded_bits_are_hashed_kept_and_downloaded_unchanged() {
    let server = TestServer::start().await;
    let fx = AppFixture::create(&server).await;
    let guid = fx.bits_package(&server).await;
    let bytes = app_zip();
    let uploaded = upload(
        &server,
        &format!("/v3/packages/{guid}/upload"),
        &fx.developer,
        Some(bytes.clone()),
        Some("[]"),
    )
    .await;
    uploaded.assert_status(200);
    assert_eq!(uploaded.body["state"], "READY");
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let sha1 = hex::encode(Sha1::digest(&bytes));
    assert_eq!(
        uploaded.body["data"]["checksum"],
        json!({"type": "sha256", "value": sha256})
    );
    assert_eq!(uploaded.body["hash"], sha1.as_str());
    let blob = server.blob(&format!("packages/{guid}")).await;
    assert_eq!(blob.expect("blob kept"), bytes);
    assert!(files_under(&server.data_dir.path().join("tmp")).is_empty());

    let download = server
        .client
        .get(format!("{}/v3/packages/{guid}/download", server.url))
        .header("Authorization", format!("bearer {}", fx.developer))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.headers()["content-type"], "application/zip");
    assert_eq!(download.bytes().await.unwrap().to_vec(), bytes);

    server
        .get(&format!("/v3/packages/{guid}/download"), &fx.auditor)
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    upload(
        &server,
        &format!("/v3/packages/{guid}/upload"),
        &fx.developer,
        Some(bytes),
        None,
    )
    .await
    .assert_error(
        400,
        150004,
        "PackageBitsAlreadyUploaded",
        "Bits may be uploaded only once. Create a new package to upload different bits.",
    );
}

#[tokio::test]
async fn hostile_zips_are_refused_and_leave_the_package_awaiting_bits() {
    let server = TestServer::start_with(&[("LADLE_MAX_PACKAGE_SIZE_MB", "1")]).await;
    let fx = AppFixture::create(&server).await;
    let guid = fx.bits_package(&server).await;
    let path = format!("/v3/packages/{guid}/upload");
    let mut corrupt = app_zip();
    corrupt.truncate(corrupt.len() / 2);
    let bomb = {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        writer.start_file("zeros.bin", options).unwrap();
        writer.write_all(&vec![0u8; 3 * 1024 * 1024]).unwrap();
        writer.finish().unwrap().into_inner()
    };
    assert!(bomb.len() < 64 * 1024, "the bomb is small on the wire");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "dot-dot",
            zip_bytes(&[Entry::File("../evil", b"x")]),
            "The app upload is invalid: zip entry '../evil' has '..' in its path",
        ),
        (
            "absolute",
            zip_bytes(&[Entry::File("/abs", b"x")]),
            "The app upload is invalid: zip entry '/abs' has an absolute path, outside of root folder",
        ),
        (
            "symlink out",
            zip_bytes(&[Entry::Symlink("config/passwd", "../../etc/passwd")]),
            "zip entry 'config/passwd' is a symlink to '../../etc/passwd', outside of root folder",
        ),
        ("corrupt", corrupt, "not a valid zip file"),
        (
            "bomb",
            bomb,
            "The app upload is invalid: zip expands to more than the limit of 1 MB",
        ),
    ];
    for (case, bytes, problem) in cases {
        let refused = upload(&server, &path, &fx.developer, Some(bytes), None).await;
        assert_eq!(refused.status, 422, "{case}: {}", refused.text);
        refused.assert_error(422, 10008, "UnprocessableEntity", problem);
        let package = server
            .get(&format!("/v3/packages/{guid}"), &fx.developer)
            .await;
        assert_eq!(package.body["state"], "AWAITING_UPLOAD", "{case}");
        assert!(
            server.blob_keys("packages").await.is_empty(),
            "{case}: no blob kept"
        );
        assert!(
            files_under(&server.data_dir.path().join("tmp")).is_empty(),
            "{case}: temporary upload removed"
        );
    }
    let fixed = upload(&server, &path, &fx.developer, Some(app_zip()), None).await;
    fixed.assert_status(200);
    assert_eq!(fixed.body["state"], "READY", "a corrected upload follows");
}

/// `a/b -> ..` and `c -> a/b/../..` each look harmless; together `c` leads out of the app.
/// Staging refuses such a zip, so the upload does first.
#[tokio::test]
async fn symlinks_escaping_through_a_chain_are_refused_at_upload() {
    let server = TestServer::start().await;
    let fx = AppFixture::create(&server).await;
    let guid = fx.bits_package(&server).await;
    let chain = cases::named("symlink chain escaping (a/b -> .., c -> a/b/../..)");
    let path = format!("/v3/packages/{guid}/upload");
    upload(&server, &path, &fx.developer, chain.zip(), None)
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "The app upload is invalid: zip entry 'c' is a symlink to 'a/b/../..', outside of root folder",
        );
    let package = server
        .get(&format!("/v3/packages/{guid}"), &fx.developer)
        .await;
    assert_eq!(package.body["state"], "AWAITING_UPLOAD");
}

/// The shared table of hostile and benign archives (`ladle_archive::cases`, which the stager's
/// and the builder's tests run too) through the real upload: what they would refuse is refused
/// here in the same words, what they unpack is kept.
#[tokio::test]
async fn uploads_get_the_archive_policy_verdicts() {
    let server = TestServer::start().await;
    let fx = AppFixture::create(&server).await;
    let mut runs = 0;
    for case in cases::table() {
        let Some(bits) = case.zip() else {
            continue;
        };
        runs += 1;
        let guid = fx.bits_package(&server).await;
        let path = format!("/v3/packages/{guid}/upload");
        let response = upload(&server, &path, &fx.developer, Some(bits), None).await;
        let state = match case.refusal() {
            Some(words) => {
                assert_eq!(response.status, 422, "{}: {}", case.name, response.text);
                response.assert_error(422, 10008, "UnprocessableEntity", words);
                "AWAITING_UPLOAD"
            }
            None => {
                assert_eq!(response.status, 200, "{}: {}", case.name, response.text);
                "READY"
            }
        };
        let package = server
            .get(&format!("/v3/packages/{guid}"), &fx.developer)
            .await;
        assert_eq!(package.body["state"], state, "{}", case.name);
    }
    assert!(runs >= 18, "only {runs} zips ran");
}

#[tokio::test]
async fn upload_and_download_check_before_reading_bits() {
    let server = TestServer::start().await;
    let fx = AppFixture::create(&server).await;
    let guid = fx.bits_package(&server).await;
    let path = format!("/v3/packages/{guid}/upload");
    upload(
        &server,
        "/v3/packages/nope/upload",
        &fx.developer,
        Some(app_zip()),
        None,
    )
    .await
    .assert_error(404, 10010, "ResourceNotFound", "Package not found");
    upload(&server, &path, &fx.stranger, Some(app_zip()), None)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Package not found");
    upload(&server, &path, &fx.auditor, Some(app_zip()), None)
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    let docker = server
        .post(
            "/v3/packages",
            &fx.developer,
            json!({"type": "docker", "relationships": {"app": {"data": {"guid": fx.app_guid}}},
                   "data": {"image": "nginx"}}),
        )
        .await;
    upload(
        &server,
        &format!("/v3/packages/{}/upload", guid_of(&docker)),
        &fx.developer,
        Some(app_zip()),
        None,
    )
    .await
    .assert_error(
        422,
        10008,
        "UnprocessableEntity",
        "Package type must be bits.",
    );
    upload(&server, &path, &fx.developer, None, Some("[]"))
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "An application zip file must be uploaded",
        );
    server
        .post(&path, &fx.developer, json!({"bits": "not multipart"}))
        .await
        .assert_error(
            422,
            10008,
            "UnprocessableEntity",
            "An application zip file must be uploaded",
        );
    let resources = r#"[{"path":"a.txt","size_in_bytes":1,"checksum":{"value":"abc"}}]"#;
    upload(
        &server,
        &path,
        &fx.developer,
        Some(app_zip()),
        Some(resources),
    )
    .await
    .assert_error(
        422,
        10008,
        "UnprocessableEntity",
        "Resource matching is not supported",
    );
    upload(
        &server,
        &path,
        &fx.developer,
        Some(app_zip()),
        Some("{oops"),
    )
    .await
    .assert_error(
        422,
        10008,
        "UnprocessableEntity",
        "Resources must be valid JSON.",
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
    let package = server
        .get(&format!("/v3/packages/{guid}"), &fx.developer)
        .await;
    assert_eq!(package.body["state"], "AWAITING_UPLOAD");
}

#[tokio::test]
async fn delete_removes_the_row_then_the_blob() {
    let server = TestServer::start().await;
    let fx = AppFixture::create(&server).await;
    let guid = fx.bits_package(&server).await;
    upload(
        &server,
        &format!("/v3/packages/{guid}/upload"),
        &fx.developer,
        Some(app_zip()),
        None,
    )
    .await
    .assert_status(200);
    let blob = format!("packages/{guid}");
    assert!(server.has_blob(&blob).await);
    server
        .delete(&format!("/v3/packages/{guid}"), &fx.auditor)
        .await
        .assert_error(403, 10003, "NotAuthorized", "");
    let deleted = server
        .delete(&format!("/v3/packages/{guid}"), &fx.developer)
        .await;
    deleted.assert_status(202);
    let location = deleted
        .header("location")
        .expect("Location header")
        .to_string();
    let job_path = location
        .strip_prefix(&server.url)
        .expect("absolute job link");
    assert!(job_path.starts_with("/v3/jobs/"));
    let job = server.get(job_path, &fx.developer).await;
    job.assert_status(200);
    assert_eq!(job.body["state"], "COMPLETE");
    assert!(!server.has_blob(&blob).await, "the blob is gone");
    server
        .get(&format!("/v3/packages/{guid}"), &fx.developer)
        .await
        .assert_error(404, 10010, "ResourceNotFound", "Package not found");
}

/// `POST /v3/packages?source_guid=`: the copy is a READY package of the other app with the same
/// bits, and the checks come in CC's order.
#[tokio::test]
async fn a_package_is_copied_to_another_app_with_its_bits() {
    let server = TestServer::start().await;
    let fx = AppFixture::create(&server).await;
    let source = fx.bits_package(&server).await;
    let bytes = app_zip();
    upload(
        &server,
        &format!("/v3/packages/{source}/upload"),
        &fx.developer,
        Some(bytes.clone()),
        None,
    )
    .await
    .assert_status(200);
    let other_app = server
        .post(
            "/v3/apps",
            &fx.developer,
            json!({"name": "copy-target", "relationships": {"space": {"data": {"guid": fx.space_guid}}}}),
        )
        .await;
    other_app.assert_status(201);
    let target = guid_of(&other_app);
    let to_target = json!({"relationships": {"app": {"data": {"guid": target}}}});

    let copied = server
        .post(
            &format!("/v3/packages?source_guid={source}"),
            &fx.developer,
            to_target.clone(),
        )
        .await;
    copied.assert_status(201);
    let copy = guid_of(&copied);
    assert_ne!(copy, source);
    assert_eq!(copied.body["state"], "READY");
    assert_eq!(copied.body["type"], "bits");
    assert_eq!(
        copied.body["relationships"]["app"]["data"]["guid"],
        target.as_str()
    );
    assert_eq!(
        copied.body["data"]["checksum"]["value"],
        hex::encode(Sha256::digest(&bytes)).as_str()
    );
    let download = server
        .client
        .get(format!("{}/v3/packages/{copy}/download", server.url))
        .header("Authorization", format!("bearer {}", fx.developer))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap().to_vec(), bytes);
    // The copy has bits of its own; the source keeps its.
    assert_eq!(
        server.blob(&format!("packages/{copy}")).await.unwrap(),
        bytes
    );
    assert_eq!(
        server.blob(&format!("packages/{source}")).await.unwrap(),
        bytes
    );

    // Docker packages are copied with their image.
    let docker = server
        .post(
            "/v3/packages",
            &fx.developer,
            json!({"type": "docker", "relationships": {"app": {"data": {"guid": fx.app_guid}}},
                   "data": {"image": "registry/image:1"}}),
        )
        .await;
    docker.assert_status(201);
    let docker_copy = server
        .post(
            &format!("/v3/packages?source_guid={}", guid_of(&docker)),
            &fx.developer,
            to_target.clone(),
        )
        .await;
    docker_copy.assert_status(201);
    assert_eq!(docker_copy.body["state"], "READY");
    assert_eq!(docker_copy.body["data"]["image"], "registry/image:1");

    let count_path = format!("/v3/packages?app_guids={target}");
    let before =
        server.get(&count_path, &fx.developer).await.body["pagination"]["total_results"].clone();
    let awaiting = fx.bits_package(&server).await;
    let refusals: [(String, &str, Value, u16, &str); 6] = [
        (
            format!("/v3/packages?source_guid={awaiting}"),
            fx.developer.as_str(),
            to_target.clone(),
            422,
            "Source package has no bits to copy: its state is AWAITING_UPLOAD.",
        ),
        (
            "/v3/packages?source_guid=no-such-package".into(),
            fx.developer.as_str(),
            to_target.clone(),
            404,
            "Package not found",
        ),
        (
            format!("/v3/packages?source_guid={source}"),
            fx.developer.as_str(),
            json!({"relationships": {"app": {"data": {"guid": "no-such-app"}}}}),
            404,
            "App not found",
        ),
        (
            format!("/v3/packages?source_guid={source}"),
            fx.auditor.as_str(),
            to_target.clone(),
            403,
            "",
        ),
        (
            format!("/v3/packages?source_guid={source}"),
            fx.stranger.as_str(),
            to_target.clone(),
            404,
            "App not found",
        ),
        (
            format!("/v3/packages?source_guid={source}"),
            fx.developer.as_str(),
            json!({"relationships": {"app": {"data": {"guid": target}}}, "type": "bits"}),
            422,
            "Unknown field(s): 'type'",
        ),
    ];
    for (path, token, body, status, detail) in refusals {
        let response = server.post(&path, token, body).await;
        assert_eq!(
            response.status.as_u16(),
            status,
            "{path}: {}",
            response.text
        );
        assert!(
            response.text.contains(detail),
            "{path}: {detail:?} not in {}",
            response.text
        );
    }
    let after =
        server.get(&count_path, &fx.developer).await.body["pagination"]["total_results"].clone();
    assert_eq!(after, before, "no refused copy was kept");
}
