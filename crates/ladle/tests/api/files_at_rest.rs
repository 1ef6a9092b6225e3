//! The data dir is the server's alone: the folder 0700, the database (with its -wal and -shm),
//! the blobs (when kept there, not in S3) and the token secret 0600, from the moment each is created; a data dir an earlier
//! version left open is narrowed at start.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::builds::{build_path, post_build};
use crate::support::{ServerOptions, TestServer};

const DEV: &str = "files-dev";

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Every folder and file under `dir` (not following symlinks), `dir` itself first.
fn entries_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < found.len() {
        let path = found[i].clone();
        i += 1;
        if std::fs::symlink_metadata(&path).unwrap().is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                found.push(entry.unwrap().path());
            }
        }
    }
    found
}

fn uses_sqlite(server: &TestServer) -> bool {
    server.database_url.starts_with("sqlite:")
}

#[tokio::test]
async fn nothing_in_a_fresh_data_dir_is_open_to_others() {
    let server = TestServer::start().await;
    let detect_pass = server.admin_buildpack("detect-pass", "detect-pass").await;
    let (_, package_guid) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);
    let build = post_build(&server, &token, &package_guid, Some(&["detect-pass"])).await;
    build.assert_status(201);
    let staged = server.wait_final(&build_path(&build.body), &token).await;
    assert_eq!(staged["state"], "STAGED", "{staged}");

    let data = server.data_dir.path();
    assert_eq!(mode(data), 0o700);
    if uses_sqlite(&server) {
        // WAL mode: the -wal and -shm files exist while the server runs.
        for name in ["ladle.db", "ladle.db-wal", "ladle.db-shm"] {
            assert_eq!(mode(&data.join(name)), 0o600, "{name}");
        }
    }
    // In the S3 pass the blobs live in the bucket; the data dir must still be closed.
    if crate::blobs::s3_base().is_none() {
        let blobs = data.join("blobs");
        let package_blob = blobs.join("packages").join(&package_guid);
        let buildpack_blob = blobs.join("buildpacks").join(&detect_pass);
        let droplet_blob = blobs
            .join("droplets")
            .join(staged["droplet"]["guid"].as_str().unwrap());
        for blob in [&package_blob, &buildpack_blob, &droplet_blob] {
            assert_eq!(mode(blob), 0o600, "{}", blob.display());
        }
        assert_eq!(mode(&blobs), 0o700);
        assert_eq!(mode(&blobs.join("droplets")), 0o700);
    }
    let open: Vec<String> = entries_under(data)
        .into_iter()
        .filter(|path| mode(path) & 0o077 != 0)
        .map(|path| format!("{} {:04o}", path.display(), mode(&path)))
        .collect();
    assert!(open.is_empty(), "open to group or others: {open:#?}");
}

#[tokio::test]
async fn a_data_dir_left_open_is_narrowed_at_start_and_the_log_says_so() {
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path().to_path_buf();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    // As an earlier version left them: an (empty, valid) database and a blob folder others
    // could read.
    let database = data.join("ladle.db");
    std::fs::write(&database, b"").unwrap();
    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::create_dir(data.join("blobs")).unwrap();
    std::fs::set_permissions(data.join("blobs"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let log_path = tempfile::NamedTempFile::new().unwrap();
    let server = TestServer::start_with_options(ServerOptions {
        data_dir: Some(data_dir),
        stderr: Some(log_path.reopen().unwrap()),
        ..ServerOptions::default()
    })
    .await;
    server
        .post(
            "/v3/organizations",
            &server.admin_token(),
            json!({"name": "still-works"}),
        )
        .await
        .assert_status(201);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&database), 0o600);
    assert_eq!(mode(&data.join("blobs")), 0o700);
    let log = std::fs::read_to_string(log_path.path()).unwrap();
    for narrowed in [&data, &database, &data.join("blobs")] {
        let line = log
            .lines()
            .find(|line| {
                line.contains("narrowed the mode") && line.contains(&*narrowed.to_string_lossy())
            })
            .unwrap_or_else(|| panic!("no log line for {}: {log}", narrowed.display()));
        assert!(line.contains("was=") && line.contains("now="), "{line}");
    }
}
