//! Helpers for tests that stage: zipping fixtures, uploading bits, admin buildpacks, waiting.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{fixtures, Response, TestServer};

/// A zip of `dir` with modes and symlinks kept, paths relative to `dir`.
pub fn zip_dir(dir: &Path) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    add_dir(&mut writer, dir, dir);
    writer.finish().expect("finish zip").into_inner()
}

fn add_dir(writer: &mut zip::ZipWriter<std::io::Cursor<Vec<u8>>>, root: &Path, dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read fixture dir")
        .map(|e| e.unwrap())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .to_string();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let options = zip::write::SimpleFileOptions::default()
            .unix_permissions(meta.permissions().mode() & 0o7777);
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).unwrap();
            writer
                .add_symlink(name, target.to_string_lossy(), options)
                .unwrap();
        } else if meta.is_dir() {
            writer.add_directory(format!("{name}/"), options).unwrap();
            add_dir(writer, root, &path);
        } else {
            writer.start_file(name, options).unwrap();
            writer.write_all(&std::fs::read(&path).unwrap()).unwrap();
        }
    }
}

impl TestServer {
    /// POSTs a multipart upload with the file in field `bits`.
    pub async fn upload(&self, path: &str, token: &str, bytes: Vec<u8>) -> Response {
        let form = reqwest::multipart::Form::new().part(
            "bits",
            reqwest::multipart::Part::bytes(bytes).file_name("bits.zip"),
        );
        let response = self
            .client
            .post(format!("{}{}", self.url, path))
            .header("Authorization", format!("bearer {token}"))
            .multipart(form)
            .send()
            .await
            .expect("upload");
        Response::read(response).await
    }

    /// Creates and uploads an admin buildpack from `fixtures/buildpacks/<fixture>`.
    pub async fn admin_buildpack(&self, name: &str, fixture: &str) -> String {
        let admin = self.admin_token();
        let created = self
            .post("/v3/buildpacks", &admin, json!({"name": name}))
            .await;
        created.assert_status(201);
        let guid = created.body["guid"].as_str().unwrap().to_string();
        let bits = zip_dir(&fixtures().join("buildpacks").join(fixture));
        self.upload(&format!("/v3/buildpacks/{guid}/upload"), &admin, bits)
            .await
            .assert_status(200);
        guid
    }

    /// An app in a fresh org/space with a READY package of `fixtures/apps/<fixture>`, owned by
    /// `developer` (a space developer). Returns `(app_guid, package_guid)`.
    pub async fn app_with_package(&self, developer: &str, fixture: &str) -> (String, String) {
        let (_, space) = self.org_and_space().await;
        self.grant(
            developer,
            "organization_user",
            "organization",
            &self.org_of(&space).await,
        )
        .await;
        self.grant(developer, "space_developer", "space", &space)
            .await;
        let token = self.user_token(developer);
        let app = self
            .post(
                "/v3/apps",
                &token,
                json!({"name": format!("app-{}", crate::support::uuid()), "relationships": {"space": {"data": {"guid": space}}}}),
            )
            .await;
        app.assert_status(201);
        let app_guid = app.body["guid"].as_str().unwrap().to_string();
        let package_guid = self.ready_package(&token, &app_guid, fixture).await;
        (app_guid, package_guid)
    }

    /// A new READY bits package of `fixtures/apps/<fixture>` for `app_guid`.
    pub async fn ready_package(&self, token: &str, app_guid: &str, fixture: &str) -> String {
        let package = self
            .post(
                "/v3/packages",
                token,
                json!({"type": "bits", "relationships": {"app": {"data": {"guid": app_guid}}}}),
            )
            .await;
        package.assert_status(201);
        let package_guid = package.body["guid"].as_str().unwrap().to_string();
        let bits = zip_dir(&fixtures().join("apps").join(fixture));
        let uploaded = self
            .upload(&format!("/v3/packages/{package_guid}/upload"), token, bits)
            .await;
        uploaded.assert_status(200);
        package_guid
    }

    pub async fn org_of(&self, space_guid: &str) -> String {
        let space = self
            .get(&format!("/v3/spaces/{space_guid}"), &self.admin_token())
            .await;
        space.body["relationships"]["organization"]["data"]["guid"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Polls `path` until its `state` is final (not PENDING/STAGING/PROCESSING), up to 120 s.
    pub async fn wait_final(&self, path: &str, token: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let response = self.get(path, token).await;
            response.assert_status(200);
            let state = response.body["state"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if !matches!(state.as_str(), "PENDING" | "STAGING" | "PROCESSING_UPLOAD") {
                return response.body;
            }
            assert!(
                Instant::now() < deadline,
                "{path} still {state} after 120 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A `git daemon` serving one repository made from a fixture buildpack, with the buildpack
/// committed on branch `branch` only (so a clone without `#branch` fails to find it on the
/// default branch). It runs in a network namespace of its own, joined to this host by a veth
/// pair on a TEST-NET-3 address: a staging reaches outside hosts, never this host's loopback.
/// Killed, and its namespace removed, on drop.
pub struct GitServer {
    pub url: String,
    _dir: tempfile::TempDir,
    child: std::process::Child,
    netns: String,
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Removing the namespace removes both ends of its veth pair.
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .status()
        .expect("git");
    assert!(status.success(), "git {args:?} failed");
}

fn ip(args: &[&str]) {
    let output = std::process::Command::new("ip")
        .args(args)
        .output()
        .expect("ip (Debian package iproute2)");
    assert!(
        output.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A namespace named for this process and a counter, with `203.0.113.<4k+2>/30` inside and
/// `<4k+1>` on this host's end; returns its name and the address inside.
fn outside_host() -> (String, std::net::Ipv4Addr) {
    static NEXT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let k = (std::process::id() as u8).wrapping_add(n) % 63;
    let name = format!("lg{}-{n}", std::process::id() % 100_000);
    let (here, there) = (format!("h{name}"), format!("n{name}"));
    let host = std::net::Ipv4Addr::new(203, 0, 113, 4 * k + 1);
    let inside = std::net::Ipv4Addr::new(203, 0, 113, 4 * k + 2);
    add_netns(&name);
    ip(&["link", "add", &here, "type", "veth", "peer", "name", &there]);
    ip(&["link", "set", &there, "netns", &name]);
    ip(&["addr", "add", &format!("{host}/30"), "dev", &here]);
    ip(&["link", "set", &here, "up"]);
    ip(&[
        "-n",
        &name,
        "addr",
        "add",
        &format!("{inside}/30"),
        "dev",
        &there,
    ]);
    ip(&["-n", &name, "link", "set", &there, "up"]);
    ip(&["-n", &name, "link", "set", "lo", "up"]);
    (name, inside)
}

/// A bare repository `bp.git` in `dir` (a checkout beside it in `work`) with the fixture
/// buildpack committed on branch `branch` only.
fn bare_repo_of_fixture(dir: &Path, fixture: &str, branch: &str) -> std::path::PathBuf {
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("README"), "no buildpack on main\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "main"]);
    git(&work, &["checkout", "-qb", branch]);
    let copy = std::process::Command::new("cp")
        .arg("-a")
        .arg(fixtures().join("buildpacks").join(fixture).join("bin"))
        .arg(&work)
        .status()
        .unwrap();
    assert!(copy.success());
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "buildpack"]);
    git(dir, &["clone", "-q", "--bare", "work", "bp.git"]);
    dir.join("bp.git")
}

impl GitServer {
    pub fn serve_fixture(fixture: &str, branch: &str) -> GitServer {
        let dir = tempfile::tempdir().unwrap();
        bare_repo_of_fixture(dir.path(), fixture, branch);
        let (netns, address) = outside_host();
        let port = 9418;
        // Run `git-daemon` itself rather than `git daemon`: the `git` wrapper would leave the
        // daemon running as its child when killed. `ip netns exec` execs it in place.
        let exec_path = std::process::Command::new("git")
            .arg("--exec-path")
            .output()
            .expect("git --exec-path");
        let daemon =
            Path::new(String::from_utf8_lossy(&exec_path.stdout).trim()).join("git-daemon");
        let child = std::process::Command::new("ip")
            .args(["netns", "exec", &netns])
            .arg(daemon)
            .args(["--export-all", "--reuseaddr"])
            .arg(format!("--listen={address}"))
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", dir.path().display()))
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("git daemon");
        let server = GitServer {
            url: format!("git://{address}:{port}/bp.git"),
            _dir: dir,
            child,
            netns,
        };
        wait_listening(address, port, "git daemon");
        server
    }

    /// The same repository over git's HTTP transport, behind HTTP basic authentication: only
    /// a clone of `http://<user>:<password>@…` gets it. `url` names no credentials. Served by
    /// BusyBox's `httpd` (Debian package busybox-static), as plain files git reads with its
    /// "dumb" HTTP protocol.
    pub fn serve_fixture_with_password(
        fixture: &str,
        branch: &str,
        user: &str,
        password: &str,
    ) -> GitServer {
        let dir = tempfile::tempdir().unwrap();
        let served = dir.path().join("srv");
        std::fs::create_dir_all(&served).unwrap();
        let repo = bare_repo_of_fixture(&served, fixture, branch);
        // The index files the dumb protocol reads instead of asking a git process.
        git(&repo, &["update-server-info"]);
        let config = dir.path().join("httpd.conf");
        std::fs::write(&config, format!("/:{user}:{password}\n")).unwrap();
        let (netns, address) = outside_host();
        let port = 8080;
        let child = std::process::Command::new("ip")
            .args(["netns", "exec", &netns, "busybox", "httpd", "-f"])
            .arg(format!("-p{address}:{port}"))
            .arg(format!("-h{}", served.display()))
            .arg(format!("-c{}", config.display()))
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("busybox httpd (Debian package busybox-static)");
        let server = GitServer {
            url: format!("http://{address}:{port}/bp.git"),
            _dir: dir,
            child,
            netns,
        };
        wait_listening(address, port, "busybox httpd");
        server
    }
}

fn wait_listening(address: std::net::Ipv4Addr, port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect_timeout(&(address, port).into(), Duration::from_millis(500))
        .is_err()
    {
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads a droplet tgz into `path → contents` for regular files.
pub fn droplet_files(tgz: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    use std::io::Read;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tgz));
    let mut files = std::collections::BTreeMap::new();
    for entry in archive.entries().expect("droplet is a tar.gz") {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().to_string();
        let mut contents = Vec::new();
        if entry.header().entry_type().is_file() {
            entry.read_to_end(&mut contents).unwrap();
        }
        files.insert(path, contents);
    }
    files
}

/// `ip netns add`, one at a time: the first `ip netns add` on a machine bind-mounts `/run/netns`
/// onto itself, and two doing so at once stack two mounts, hiding the first namespace behind an
/// empty file (`ip -n` then fails with "Invalid argument").
fn add_netns(name: &str) {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // A run that was killed leaves its namespace and host-side link behind; one of the same
    // name would fail to be made.
    for stale in [["netns", "del", name], ["link", "del", &format!("h{name}")]] {
        let _ = std::process::Command::new("ip")
            .args(stale)
            .stderr(std::process::Stdio::null())
            .status();
    }
    ip(&["netns", "add", name]);
}
