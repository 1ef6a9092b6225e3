//! URL buildpacks: real `git` against a repository made here, zips served by a loopback HTTP
//! server, and the hostile inputs that must never reach git or the filesystem.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Cursor, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::thread;

use common::{fixtures, text, Workspace};
use ladle_archive::cases;
use ladle_builder::buildpack_dir_name;
use zip::write::SimpleFileOptions;

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=ladle",
            "-c",
            "user.email=ladle@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

/// A repository whose `main` has no buildpack and whose `bp` branch holds detect-pass.
fn buildpack_repository(parent: &Path) -> std::path::PathBuf {
    let repo = parent.join("bp-repo");
    fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    fs::write(repo.join("README"), "not a buildpack on main\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "main"]);
    git(&repo, &["checkout", "-q", "-b", "bp"]);
    common::copy_tree(
        &fixtures().join("buildpacks/detect-pass/bin"),
        &repo.join("bin"),
    );
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "buildpack"]);
    git(&repo, &["checkout", "-q", "main"]);
    repo
}

#[test]
fn git_buildpack_is_cloned_at_the_fragment_branch() {
    let ws = Workspace::new("plain");
    let repo = buildpack_repository(ws.root.path());
    let key = format!("file://{}#bp", repo.display());
    let run = ws.stage(&key, &["-skipDetect", "-allowFileGitUrls"]);
    run.assert_code(0);
    assert!(run
        .stdout
        .contains(&ladle_contract::Phase::Download.marker()));
    assert_eq!(
        text(&ws.droplet(), "./app/compiled-marker"),
        "compiled by detect-pass\n"
    );
    assert_eq!(ws.result().lifecycle_metadata.buildpack_key, key);
    let clone = ws.downloads().join(buildpack_dir_name(&key));
    assert!(
        clone.join("bin/compile").is_file(),
        "cloned where CF puts URL buildpacks"
    );
}

#[test]
fn file_git_urls_need_the_flag_or_env() {
    let ws = Workspace::new("plain");
    let repo = buildpack_repository(ws.root.path());
    let key = format!("file://{}#bp", repo.display());
    let run = ws.stage(&key, &["-skipDetect"]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("scheme \"file\" is not allowed"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("-allowFileGitUrls"));
    assert!(!ws
        .downloads()
        .join(buildpack_dir_name(&key))
        .join("bin")
        .exists());
    assert_eq!(ws.details().failure.unwrap().exit_code, 1);

    let run = ws.stage_with_env(
        &key,
        &["-skipDetect"],
        &[("LADLE_ALLOW_FILE_GIT_URLS", "1")],
    );
    run.assert_code(0);
}

#[test]
fn unknown_branch_fails_with_cf_message() {
    let ws = Workspace::new("plain");
    let repo = buildpack_repository(ws.root.path());
    let key = format!("file://{}#no-such-branch", repo.display());
    let run = ws.stage(&key, &["-skipDetect", "-allowFileGitUrls"]);
    run.assert_code(1);
    assert!(run.stderr.contains(&format!(
        "Failed to clone git repository at file://{}",
        repo.display()
    )));
}

#[test]
fn hostile_git_urls_never_run_git() {
    let ws = Workspace::new("plain");
    let repo = buildpack_repository(ws.root.path());
    let pwned = ws.path("pwned");
    let ext = format!("ext::sh -c touch% {}", pwned.display());
    let option_branch = format!(
        "file://{}#--upload-pack=touch {}",
        repo.display(),
        pwned.display()
    );
    for key in [ext.as_str(), option_branch.as_str()] {
        let run = ws.stage(key, &["-skipDetect", "-allowFileGitUrls"]);
        run.assert_code(1);
        assert!(
            run.stderr.contains("Refusing buildpack url"),
            "{key}: {}",
            run.stderr
        );
        assert!(!pwned.exists(), "{key} ran a command");
    }
    // No scheme, so it is an admin key: looked up on disk, never handed to git.
    let dash = format!("--upload-pack=touch {}", pwned.display());
    let run = ws.stage(&dash, &["-skipDetect"]);
    run.assert_code(225);
    assert!(run
        .stderr
        .contains("malformed buildpack does not contain a /bin dir"));
    assert!(!pwned.exists());
}

/// Serves `body` for every request to `/<name>`, 404 otherwise, for `requests` connections.
fn serve(name: &'static str, body: Vec<u8>, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut header = String::new();
            while reader.read_line(&mut header).unwrap() > 2 {
                header.clear();
            }
            let found = request_line.starts_with(&format!("GET /{name} "));
            let (status, payload) = if found {
                ("200 OK", body.clone())
            } else {
                ("404 Not Found", Vec::new())
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                payload.len()
            );
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(&payload).unwrap();
        }
    });
    format!("http://{address}/{name}")
}

enum ZipEntry<'a> {
    File(&'a str, &'a [u8], u32),
    Symlink(&'a str, &'a str),
}

fn make_zip(entries: &[ZipEntry]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for entry in entries {
        match entry {
            ZipEntry::File(name, data, mode) => {
                zip.start_file(*name, SimpleFileOptions::default().unix_permissions(*mode))
                    .unwrap();
                zip.write_all(data).unwrap();
            }
            ZipEntry::Symlink(name, target) => {
                zip.add_symlink(*name, *target, SimpleFileOptions::default())
                    .unwrap();
            }
        }
    }
    zip.finish().unwrap().into_inner()
}

fn detect_pass_script(script: &str) -> Vec<u8> {
    fs::read(fixtures().join("buildpacks/detect-pass/bin").join(script)).unwrap()
}

#[test]
fn zip_buildpack_is_downloaded_and_unpacked_with_modes() {
    let (detect, compile, release) = (
        detect_pass_script("detect"),
        detect_pass_script("compile"),
        detect_pass_script("release"),
    );
    // A top-level folder, as GitHub release zips have it.
    let body = make_zip(&[
        ZipEntry::File("buildpack-1.0/bin/detect", &detect, 0o755),
        ZipEntry::File("buildpack-1.0/bin/compile", &compile, 0o755),
        ZipEntry::File("buildpack-1.0/bin/release", &release, 0o755),
        ZipEntry::File("buildpack-1.0/README", b"docs", 0o644),
        ZipEntry::Symlink("buildpack-1.0/bin/build", "compile"),
    ]);
    let url = serve("buildpack.zip", body, 1);
    let ws = Workspace::new("plain");
    let run = ws.stage(&url, &[]);
    run.assert_code(0);
    assert!(
        run.stdout
            .contains(&format!("Downloaded buildpack `{url}`")),
        "{}",
        run.stdout
    );
    assert_eq!(
        text(&ws.droplet(), "./app/compiled-marker"),
        "compiled by detect-pass\n"
    );
    let result = ws.result();
    assert_eq!(result.lifecycle_metadata.buildpack_key, url);
    assert_eq!(result.lifecycle_metadata.detected_buildpack, "Detect Pass");
    let unpacked = ws
        .downloads()
        .join(buildpack_dir_name(&url))
        .join("buildpack-1.0");
    assert_eq!(
        fs::read_link(unpacked.join("bin/build")).unwrap(),
        Path::new("compile")
    );
}

/// A zip of `fixtures/buildpacks/<fixture>` with folder entries and modes, as GitHub makes them.
fn fixture_zip(fixture: &str) -> Vec<u8> {
    fn add(zip: &mut zip::ZipWriter<Cursor<Vec<u8>>>, root: &Path, dir: &Path) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            let options = SimpleFileOptions::default().unix_permissions(mode);
            if path.is_dir() {
                zip.add_directory(format!("{name}/"), options).unwrap();
                add(zip, root, &path);
            } else {
                zip.start_file(name, options).unwrap();
                zip.write_all(&fs::read(&path).unwrap()).unwrap();
            }
        }
    }
    let root = fixtures().join("buildpacks").join(fixture);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    add(&mut zip, &root, &root);
    zip.finish().unwrap().into_inner()
}

#[test]
fn github_archive_zip_url_is_found_inside_its_top_level_folder() {
    let url = serve("my-buildpack-main.zip", fixture_zip("github-archive"), 2);
    for skip_detect in [false, true] {
        let ws = Workspace::new("plain");
        let extra: &[&str] = if skip_detect { &["-skipDetect"] } else { &[] };
        ws.stage(&url, extra).assert_code(0);
        assert_eq!(
            text(&ws.droplet(), "./app/compiled-marker"),
            "compiled by github-archive\n"
        );
        let downloaded = ws.downloads().join(buildpack_dir_name(&url));
        assert!(downloaded.join("github-archive-main/bin/detect").is_file());
        assert_eq!(ws.result().lifecycle_metadata.buildpack_key, url);
        let expected = (!skip_detect).then_some("GitHub Archive");
        assert_eq!(ws.details().detect_output(0, &url), expected);
    }
}

#[test]
fn missing_zip_fails_with_the_http_status() {
    let url = serve("other.zip", Vec::new(), 1).replace("other.zip", "buildpack.zip");
    let ws = Workspace::new("plain");
    let run = ws.stage(&url, &["-skipDetect"]);
    run.assert_code(1);
    assert!(run.stderr.contains(&format!(
        "Failed to download buildpack {url}: server answered HTTP 404"
    )));
}

/// The shared table of hostile and benign archives (`ladle_archive::cases`), each served as a
/// zip URL buildpack: the builder's unzip gives the archive policy's verdict, writes nothing
/// of a refused zip, and unpacks a benign one exactly.
#[test]
fn zip_url_buildpacks_get_the_archive_policy_verdicts() {
    let mut runs = 0;
    for case in cases::table() {
        let Some(body) = case.zip() else {
            continue;
        };
        runs += 1;
        let ws = Workspace::new("plain");
        let url = serve("bp.zip", body, 1);
        let run = ws.stage(&url, &["-skipDetect"]);
        let unpacked = ws.downloads().join(buildpack_dir_name(&url));
        match case.refusal() {
            Some(words) => {
                run.assert_code(1);
                assert!(
                    run.stderr
                        .contains(&format!("Failed to extract buildpack {url}: ")),
                    "{}: {}",
                    case.name,
                    run.stderr
                );
                assert!(
                    run.stderr.contains(words),
                    "{}: {} lacks {words:?}",
                    case.name,
                    run.stderr
                );
                assert!(!unpacked.exists(), "{}: partial unpack removed", case.name);
                assert!(!ws.root.path().join("evil").exists(), "{}", case.name);
                assert!(!Path::new("/tmp/ladle-absolute-evil").exists());
            }
            None => {
                assert!(
                    !run.stderr.contains("Failed to extract"),
                    "{}: {}",
                    case.name,
                    run.stderr
                );
                case.assert_unpacked(&unpacked);
            }
        }
    }
    assert!(runs >= 18, "only {runs} zips ran");
}

/// `a/b -> ..` and `c -> a/b/../..` each look harmless; together `c` leads out of the folder.
#[test]
fn symlinks_escaping_through_a_chain_are_refused() {
    let case = cases::named("symlink chain escaping (a/b -> .., c -> a/b/../..)");
    let ws = Workspace::new("plain");
    let url = serve("chain.zip", case.zip().unwrap(), 1);
    let run = ws.stage(&url, &["-skipDetect"]);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("zip entry 'c' is a symlink to 'a/b/../..', outside of root folder"),
        "{}",
        run.stderr
    );
    assert!(!ws.downloads().join(buildpack_dir_name(&url)).exists());
}

/// HTTPS with a self-signed certificate, serving `body` at any path, for `requests` connections.
fn serve_tls(body: Vec<u8>, requests: usize) -> String {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use std::sync::Arc;

    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let connection = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(connection, stream.unwrap());
            // A client that rejects the certificate ends the handshake here; that is the point.
            let mut reader = BufReader::new(&mut tls);
            let mut line = String::new();
            while matches!(reader.read_line(&mut line), Ok(n) if n > 2) {
                line.clear();
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = tls
                .write_all(head.as_bytes())
                .and_then(|_| tls.write_all(&body));
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    format!("https://{address}/buildpack.zip")
}

#[test]
fn self_signed_https_zip_needs_skip_cert_verify() {
    let scripts = ["detect", "compile", "release"].map(detect_pass_script);
    let body = make_zip(&[
        ZipEntry::File("bin/detect", &scripts[0], 0o755),
        ZipEntry::File("bin/compile", &scripts[1], 0o755),
        ZipEntry::File("bin/release", &scripts[2], 0o755),
    ]);
    let url = serve_tls(body, 2);
    let ws = Workspace::new("plain");
    let run = ws.stage(&url, &["-skipDetect"]);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains(&format!("Failed to download buildpack {url}")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("UnknownIssuer"),
        "names the TLS problem: {}",
        run.stderr
    );

    let run = ws.stage(&url, &["-skipDetect", "-skipCertVerify"]);
    run.assert_code(0);
    assert_eq!(
        text(&ws.droplet(), "./app/compiled-marker"),
        "compiled by detect-pass\n"
    );
}
