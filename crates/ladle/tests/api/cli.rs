//! The command line: a clear one-line error and a non-zero exit for what cannot work.

use std::process::Command;

use crate::support::ladle_bin;

fn serve(args: &[&str]) -> (bool, String) {
    let out = Command::new(ladle_bin())
        .arg("serve")
        .args(args)
        .env("LADLE_TOKEN_SECRET", "cli-test")
        .env("LADLE_STAGING_SLOTS", "0")
        .output()
        .expect("run ladle");
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
    let out = Command::new(ladle_bin())
        .args(["serve", "--listen=127.0.0.1:0", "--stager=docker"])
        .arg(format!("--data-dir={}", data.path().display()))
        .env("LADLE_TOKEN_SECRET", "cli-test")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--stager must be runc, process or auto"));
}
