//! The command line: a clear one-line error and a non-zero exit for what cannot work.

use std::process::Command;

use crate::support::{ladle_bin, output_within, CLI_DEADLINE};

fn serve(args: &[&str]) -> (bool, String) {
    let out = output_within(
        Command::new(ladle_bin())
            .arg("serve")
            .args(args)
            .env("LADLE_TOKEN_SECRET", "cli-test")
            .env("LADLE_STAGING_SLOTS", "0"),
        CLI_DEADLINE,
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn a_port_in_use_is_refused_with_its_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let (ok, stderr) = serve(&[
        &format!("--listen={addr}"),
        &format!("--data-dir={}", data.path().display()),
    ]);
    assert!(!ok);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}

#[test]
fn an_unusable_data_dir_is_refused() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let inside_a_file = format!("{}/data", file.path().display());
    let (ok, stderr) = serve(&[
        "--listen=127.0.0.1:0",
        &format!("--data-dir={inside_a_file}"),
    ]);
    assert!(!ok);
    assert!(stderr.contains("cannot create data dir"), "{stderr}");
}

#[test]
fn bad_options_are_named() {
    let (ok, stderr) = serve(&["--listen=not-an-address"]);
    assert!(!ok);
    assert!(stderr.contains("--listen"), "{stderr}");
    let data = tempfile::tempdir().unwrap();
    let out = output_within(
        Command::new(ladle_bin())
            .args(["serve", "--listen=127.0.0.1:0", "--stager=docker"])
            .arg(format!("--data-dir={}", data.path().display()))
            .env("LADLE_TOKEN_SECRET", "cli-test"),
        CLI_DEADLINE,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--stager must be runc, process or auto"));
}

#[test]
fn lease_attempts_and_grace_are_flags_of_serve_and_worker_with_their_variables() {
    for command in ["serve", "worker"] {
        let out = output_within(
            Command::new(ladle_bin()).args([command, "--help"]),
            CLI_DEADLINE,
        );
        assert!(out.status.success());
        let help = String::from_utf8_lossy(&out.stdout);
        for (flag, variable, default) in [
            ("--job-lease-seconds", "LADLE_JOB_LEASE_SECONDS", "30"),
            ("--job-max-attempts", "LADLE_JOB_MAX_ATTEMPTS", "3"),
            (
                "--shutdown-grace-seconds",
                "LADLE_SHUTDOWN_GRACE_SECONDS",
                "30",
            ),
        ] {
            let at = help
                .find(&format!("{flag} <"))
                .unwrap_or_else(|| panic!("ladle {command} --help lacks {flag}: {help}"));
            // The flag's entry: up to the next option.
            let entry = &help[at..];
            let shown = &entry[..entry[1..]
                .find("\n      -")
                .map_or(entry.len(), |end| end + 1)];
            assert!(
                shown.contains(&format!("[env: {variable}=]"))
                    && shown.contains(&format!("[default: {default}]")),
                "{shown}"
            );
        }
    }
    let (ok, stderr) = serve(&["--job-lease-seconds=0"]);
    assert!(!ok);
    assert!(stderr.contains("--job-lease-seconds"), "{stderr}");
}

/// `ladle token` with neither a configured secret nor one in the data dir.
fn token_for_data_dir(data_dir: &std::path::Path) -> std::process::Output {
    Command::new(ladle_bin())
        .args(["token", "--admin"])
        .arg(format!("--data-dir={}", data_dir.display()))
        .env_remove("LADLE_TOKEN_SECRET")
        .env_remove("LADLE_DATA_DIR")
        .output()
        .expect("run ladle token")
}

#[test]
fn ladle_token_never_makes_a_secret() {
    let empty = tempfile::tempdir().unwrap();
    let never_made = empty.path().join("not-yet");
    for data_dir in [empty.path(), never_made.as_path()] {
        let out = token_for_data_dir(data_dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(out.stdout.is_empty(), "printed a token");
        let looked_at = data_dir.join("token-secret");
        assert!(
            stderr.contains(&looked_at.display().to_string()) && stderr.contains("--data-dir"),
            "{stderr}"
        );
    }
    assert_eq!(
        std::fs::read_dir(empty.path()).unwrap().count(),
        0,
        "ladle token created something in the data dir"
    );
}

#[tokio::test]
async fn ladle_token_signs_with_the_secret_serve_made() {
    use std::os::unix::fs::PermissionsExt;
    let data_dir = tempfile::tempdir().unwrap();
    let data_path = data_dir.path().to_path_buf();
    let server = crate::support::TestServer::start_with_options(crate::support::ServerOptions {
        data_dir: Some(data_dir),
        own_secret: true,
        ..Default::default()
    })
    .await;
    let secret = data_path.join("token-secret");
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "secret mode {mode:o}");
    let out = token_for_data_dir(&data_path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    server
        .get("/v3/organizations", &token)
        .await
        .assert_status(200);
    // The suite's usual secret is not this server's.
    server
        .get("/v3/organizations", &server.admin_token())
        .await
        .assert_status(401);
}
