//! The `ladle` client against a real server: `push` from a directory (with `.cfignore`), a
//! failing staging, `droplets`, `download-droplet`, `target`, `logout`, and `login` with the
//! token refreshed by itself. Each run has a HOME of its own holding `~/.ladle/config.json`,
//! written by `ladle login` or here with a token from `ladle token`.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::staging_support::droplet_files;
use crate::support::{fixtures, ladle_bin, output_within, TestServer};

/// A staging with runc may take a while on a busy machine.
const PUSH_DEADLINE: Duration = Duration::from_secs(180);

struct Client {
    home: tempfile::TempDir,
}

impl Client {
    /// A HOME whose config targets a new org and its space `dev` on `server` as an admin.
    async fn targeting(server: &TestServer) -> (Client, String) {
        let (org, space) = server.org_and_space().await;
        let admin = server.admin_token();
        let org_name = server
            .get(&format!("/v3/organizations/{org}"), &admin)
            .await
            .body["name"]
            .as_str()
            .unwrap()
            .to_string();
        let client = Client::with_config(json!({
            "api": server.url,
            "access_token": admin,
            "refresh_token": null,
            "organization": {"guid": org, "name": org_name},
            "space": {"guid": space, "name": "dev"},
        }));
        (client, space)
    }

    fn with_config(config: Value) -> Client {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".ladle")).unwrap();
        std::fs::write(
            home.path().join(".ladle/config.json"),
            serde_json::to_vec(&config).unwrap(),
        )
        .unwrap();
        Client { home }
    }

    fn config(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.home.path().join(".ladle/config.json")).unwrap())
            .unwrap()
    }

    fn run(&self, args: &[&str]) -> Output {
        output_within(
            Command::new(ladle_bin())
                .args(args)
                .env("HOME", self.home.path())
                .current_dir(self.home.path())
                .stdin(Stdio::null()),
            PUSH_DEADLINE,
        )
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

/// A copy of `fixtures/apps/plain` plus a file `.cfignore` leaves out and a `.git` directory.
fn app_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let copied = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", fixtures().join("apps/plain").display()))
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(copied.success());
    std::fs::write(dir.path().join("secret.txt"), "not for the server\n").unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    std::fs::write(dir.path().join("logs/today.log"), "noise\n").unwrap();
    std::fs::create_dir_all(dir.path().join(".git")).unwrap();
    std::fs::write(dir.path().join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(
        dir.path().join(".cfignore"),
        "# local only\nsecret.txt\nlogs/\n",
    )
    .unwrap();
    dir
}

fn zip_names(bytes: &[u8]) -> Vec<String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    (0..archive.len())
        .map(|i| archive.by_index(i).unwrap().name().to_string())
        .collect()
}

async fn app_guid(server: &TestServer, space: &str, name: &str) -> String {
    let apps = server
        .get(
            &format!("/v3/apps?names={name}&space_guids={space}"),
            &server.admin_token(),
        )
        .await;
    apps.body["resources"][0]["guid"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn push_stages_a_directory_without_what_cfignore_leaves_out() {
    let server = TestServer::start().await;
    server.admin_buildpack("noop-bp", "noop").await;
    let (client, space) = Client::targeting(&server).await;
    let dir = app_dir();
    let out = client.run(&[
        "push",
        dir.path().to_str().unwrap(),
        "--name",
        "hello",
        "-b",
        "noop-bp",
        "-m",
        "1536M",
        "-k",
        "5G",
        "-e",
        "GREETING=hi there",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let admin = server.admin_token();
    let app = app_guid(&server, &space, "hello").await;

    let current = server
        .get(
            &format!("/v3/apps/{app}/relationships/current_droplet"),
            &admin,
        )
        .await;
    current.assert_status(200);
    let droplet = current.body["data"]["guid"].as_str().unwrap().to_string();
    for expected in [
        "app:".to_string(),
        format!("droplet:       {droplet}"),
        "buildpacks:    noop-bp".to_string(),
        "start command: ./noop".to_string(),
        "droplet size:".to_string(),
        "time taken:".to_string(),
    ] {
        assert!(stdout.contains(&expected), "no {expected:?} in:\n{stdout}");
    }
    // Off a terminal: no progress bar, no colour codes.
    assert!(!stdout.contains('\u{1b}'), "{stdout:?}");

    let packages = server
        .get(&format!("/v3/apps/{app}/packages"), &admin)
        .await;
    let package = packages.body["resources"][0]["guid"].as_str().unwrap();
    let bits = server
        .client
        .get(format!("{}/v3/packages/{package}/download", server.url))
        .header("Authorization", format!("bearer {admin}"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut names = zip_names(&bits);
    names.sort();
    assert!(names.contains(&"hello.txt".to_string()), "{names:?}");
    assert!(names.contains(&"link-to-hello".to_string()), "{names:?}");
    assert!(names.contains(&".dotfile".to_string()), "{names:?}");
    for left_out in [
        "secret.txt",
        ".cfignore",
        ".git/",
        ".git/HEAD",
        "logs/",
        "logs/today.log",
    ] {
        assert!(
            !names.contains(&left_out.to_string()),
            "{left_out} uploaded: {names:?}"
        );
    }
    let tgz = server
        .client
        .get(format!("{}/v3/droplets/{droplet}/download", server.url))
        .header("Authorization", format!("bearer {admin}"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let files = droplet_files(&tgz);
    assert!(
        files.keys().any(|p| p.ends_with("app/hello.txt")),
        "{:?}",
        files.keys()
    );
    assert!(
        !files.keys().any(|p| p.contains("secret.txt")),
        "{:?}",
        files.keys()
    );
    assert!(
        stdout.contains(&format!("droplet size:  {} bytes", tgz.len())),
        "{stdout}"
    );

    let env = server
        .get(&format!("/v3/apps/{app}/environment_variables"), &admin)
        .await;
    assert_eq!(env.body["var"]["GREETING"], "hi there");
    let builds = server.get(&format!("/v3/apps/{app}/builds"), &admin).await;
    assert_eq!(builds.body["resources"][0]["staging_memory_in_mb"], 1536);
    assert_eq!(builds.body["resources"][0]["staging_disk_in_mb"], 5120);
}

#[tokio::test]
async fn a_failing_staging_exits_non_zero_with_its_reason_and_keeps_the_droplet() {
    let server = TestServer::start().await;
    server.admin_buildpack("noop-bp", "noop").await;
    server.admin_buildpack("failing-bp", "compile-fail").await;
    let (client, space) = Client::targeting(&server).await;
    let dir = app_dir();
    let path = dir.path().to_str().unwrap();
    let first = client.run(&["push", path, "--name", "app", "-b", "noop-bp"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let app = app_guid(&server, &space, "app").await;
    let admin = server.admin_token();
    let current_path = format!("/v3/apps/{app}/relationships/current_droplet");
    let before = server.get(&current_path, &admin).await.body["data"]["guid"].clone();

    let out = client.run(&["push", path, "--name", "app", "-b", "failing-bp"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "{stdout}");
    assert!(stderr.contains("staging failed:"), "{stderr}");
    // The buildpack's own words reach the terminal through the followed log.
    assert!(
        stdout.contains("compile-fail: failing on purpose"),
        "{stdout}"
    );
    let after = server.get(&current_path, &admin).await.body["data"]["guid"].clone();
    assert_eq!(after, before);
}

#[tokio::test]
async fn droplets_lists_and_download_droplet_fetches_the_current_one() {
    let server = TestServer::start().await;
    server.admin_buildpack("noop-bp", "noop").await;
    let (client, _) = Client::targeting(&server).await;
    let dir = app_dir();
    let out = client.run(&[
        "push",
        dir.path().to_str().unwrap(),
        "--name",
        "app",
        "-b",
        "noop-bp",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).expect("JSON summary on stdout");
    let droplet = summary["droplet"]["guid"].as_str().unwrap().to_string();
    assert_eq!(summary["buildpacks"], json!(["noop-bp"]));
    assert_eq!(summary["start_command"], "./noop");

    let listed = client.run(&["droplets", "app"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let line = text(&listed.stdout)
        .lines()
        .find(|l| l.starts_with(&droplet))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("{droplet} not listed: {}", text(&listed.stdout)));
    assert!(
        line.contains("STAGED") && line.ends_with("current"),
        "{line}"
    );
    let listed = client.run(&["droplets", "app", "--json"]);
    let droplets: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(droplets[0]["guid"], droplet.as_str());
    assert_eq!(droplets[0]["current"], true);

    let target = client.home.path().join("out.tgz");
    let downloaded = client.run(&["download-droplet", "app", "-o", target.to_str().unwrap()]);
    assert!(downloaded.status.success(), "{}", text(&downloaded.stderr));
    let expected = server
        .client
        .get(format!("{}/v3/droplets/{droplet}/download", server.url))
        .header("Authorization", format!("bearer {}", server.admin_token()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), expected.to_vec());
    let recent = client.run(&["logs", "app", "--recent"]);
    assert!(recent.status.success(), "{}", text(&recent.stderr));

    let missing = client.run(&["droplets", "no-such-app"]);
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("app 'no-such-app' not found"),
        "{}",
        text(&missing.stderr)
    );
}

#[tokio::test]
async fn target_sets_org_and_space_and_keeps_the_config_private() {
    let server = TestServer::start().await;
    let (org, space) = server.org_and_space().await;
    let admin = server.admin_token();
    let org_name = server
        .get(&format!("/v3/organizations/{org}"), &admin)
        .await
        .body["name"]
        .as_str()
        .unwrap()
        .to_string();
    let client = Client::with_config(json!({"api": server.url, "access_token": admin}));
    let out = client.run(&["target", "-o", &org_name, "-s", "dev"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config = client.config();
    assert_eq!(config["organization"]["guid"], org.as_str());
    assert_eq!(config["space"]["guid"], space.as_str());
    let path = client.home.path().join(".ladle/config.json");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let unknown = client.run(&["target", "-o", &org_name, "-s", "nope"]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown.stderr).contains("space 'nope' not found"),
        "{}",
        text(&unknown.stderr)
    );

    let out = client.run(&["logout"]);
    assert!(out.status.success());
    assert_eq!(client.config()["access_token"], Value::Null);
    let after = client.run(&["droplets", "app"]);
    assert!(!after.status.success());
    assert!(
        text(&after.stderr).contains("not logged in"),
        "{}",
        text(&after.stderr)
    );
}

#[tokio::test]
async fn an_expired_token_without_a_refresh_token_asks_for_a_new_login() {
    let server = TestServer::start().await;
    let _ = &server;
    let expired = output_within(
        Command::new(ladle_bin())
            .args(["token", "--admin", "--expires-in=-60"])
            .env("LADLE_TOKEN_SECRET", crate::support::SECRET),
        Duration::from_secs(30),
    );
    assert!(expired.status.success(), "{}", text(&expired.stderr));
    let expired = text(&expired.stdout).trim().to_string();
    let client = Client::with_config(json!({"api": server.url, "access_token": expired}));
    let out = client.run(&["target", "-o", "any"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("run `ladle login` again"),
        "{}",
        text(&out.stderr)
    );
}

/// `ladle login` against the server's own `/oauth/token` (password grant, client `cf`), the
/// target chosen by itself when the user has one org and one space, and a push that goes on
/// after the access token has expired: the client refreshes it by itself.
#[tokio::test]
async fn login_targets_the_only_space_and_refreshes_an_expired_token_by_itself() {
    use std::io::Write as _;
    let server = TestServer::start_with(&[("LADLE_ACCESS_TOKEN_TTL_SECONDS", "2")]).await;
    server.admin_buildpack("noop-bp", "noop").await;
    let (org, space) = server.org_and_space().await;
    let user = crate::login::create_user(&server, "pusher", false);
    server
        .grant(&user, "organization_user", "organization", &org)
        .await;
    server
        .grant(&user, "space_developer", "space", &space)
        .await;
    let home = tempfile::tempdir().unwrap();
    let login = |password: &str| {
        let mut child = Command::new(ladle_bin())
            .args([
                "login",
                "--api",
                &server.url,
                "-u",
                "pusher",
                "--password-stdin",
            ])
            .env("HOME", home.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("{password}\n").as_bytes()).unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    };

    let refused = login("not the password");
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("Bad credentials"),
        "{}",
        text(&refused.stderr)
    );

    let out = login(crate::login::PASSWORD);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let client = Client { home };
    let config = client.config();
    assert_eq!(config["space"]["guid"], space.as_str(), "{config}");
    assert!(config["refresh_token"].is_string(), "{config}");
    let first_token = config["access_token"].clone();

    // The access token lives 2 s: by the push it has expired.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let out = client.run(&[
        "push",
        fixtures().join("apps/plain").to_str().unwrap(),
        "--name",
        "refreshed",
        "-b",
        "noop-bp",
    ]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_ne!(client.config()["access_token"], first_token);
    let app = app_guid(&server, &space, "refreshed").await;
    let current = server
        .get(
            &format!("/v3/apps/{app}/droplets/current"),
            &server.admin_token(),
        )
        .await;
    current.assert_status(200);
    assert_eq!(current.body["state"], "STAGED");

    let out = client.run(&["logout"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(client.config()["access_token"].is_null());
}
