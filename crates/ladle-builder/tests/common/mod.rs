//! Test workspace: a temp folder laid out like the staging container's `/workspace`, fixtures
//! copied in (the builder mutates the app), and readers for the builder's outputs.

#![allow(dead_code)]

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use ladle_builder::buildpack_dir_name;
use ladle_contract::paths::STAGING_DETAILS_FILE;
use ladle_contract::{StagingDetails, StagingResult};
use tar::EntryType;
use tempfile::TempDir;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

pub struct Workspace {
    pub root: TempDir,
}

/// One finished builder run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn assert_code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code, expected,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub kind: EntryType,
    pub mode: u32,
    pub link: Option<String>,
    pub data: Vec<u8>,
}

impl Workspace {
    /// A workspace with `fixtures/apps/<app>` as the build dir.
    pub fn new(app: &str) -> Self {
        let workspace = Workspace {
            root: tempfile::tempdir().expect("temp dir"),
        };
        copy_tree(&fixtures().join("apps").join(app), &workspace.app());
        workspace
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.path().join(relative)
    }

    pub fn app(&self) -> PathBuf {
        self.path("app")
    }
    pub fn cache(&self) -> PathBuf {
        self.path("cache")
    }
    pub fn downloads(&self) -> PathBuf {
        self.path("buildpackdownloads")
    }
    pub fn droplet_path(&self) -> PathBuf {
        self.path("output/droplet.tgz")
    }
    pub fn cache_output_path(&self) -> PathBuf {
        self.path("output/cache.tgz")
    }

    /// Installs fixture `name` as admin buildpack `name`, where the stager would extract it.
    pub fn add_buildpack(&self, name: &str) -> PathBuf {
        self.add_buildpack_as(name, name)
    }

    pub fn add_buildpack_as(&self, fixture: &str, key: &str) -> PathBuf {
        self.add_buildpack_in(fixture, &buildpack_dir_name(key))
    }

    /// Installs fixture `fixture` as `<buildpacksDir>/<dir_name>`.
    pub fn add_buildpack_in(&self, fixture: &str, dir_name: &str) -> PathBuf {
        let destination = self.path("buildpacks").join(dir_name);
        copy_tree(&fixtures().join("buildpacks").join(fixture), &destination);
        destination
    }

    /// The flags the stager passes, plus `extra`.
    pub fn args(&self, order: &str, extra: &[&str]) -> Vec<String> {
        let flag =
            |name: &str, relative: &str| format!("-{name}={}", self.path(relative).display());
        let mut args = vec![
            flag("buildDir", "app"),
            flag("buildpacksDir", "buildpacks"),
            flag("buildpacksDownloadDir", "buildpackdownloads"),
            flag("buildArtifactsCacheDir", "cache"),
            flag("outputDroplet", "output/droplet.tgz"),
            flag("outputMetadata", "output/result.json"),
            flag("outputBuildArtifactsCache", "output/cache.tgz"),
            format!("-buildpackOrder={order}"),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    pub fn stage(&self, order: &str, extra: &[&str]) -> Run {
        run_builder(&self.args(order, extra), &[])
    }

    pub fn stage_with_env(&self, order: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
        run_builder(&self.args(order, extra), env)
    }

    pub fn result(&self) -> StagingResult {
        serde_json::from_value(self.result_json()).expect("result.json parses as StagingResult")
    }

    /// result.json as written, unknown keys and all.
    pub fn result_json(&self) -> serde_json::Value {
        let text =
            fs::read_to_string(self.path("output/result.json")).expect("result.json written");
        serde_json::from_str(&text).expect("result.json is JSON")
    }

    /// ladle-staging.json, which the builder writes beside result.json.
    pub fn details(&self) -> StagingDetails {
        let path = self.path("output").join(STAGING_DETAILS_FILE);
        let text = fs::read_to_string(&path).expect("ladle-staging.json written");
        serde_json::from_str(&text).expect("ladle-staging.json parses as StagingDetails")
    }

    pub fn droplet(&self) -> Vec<Member> {
        read_tgz(&self.droplet_path())
    }

    pub fn cache_output(&self) -> Vec<Member> {
        read_tgz(&self.cache_output_path())
    }
}

/// How long one builder run may take before the test fails: the fixtures stage in
/// well under a second, so only a hang gets near it.
const BUILDER_DEADLINE: Duration = Duration::from_secs(120);

pub fn run_builder(args: &[String], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ladle-builder"));
    command
        .args(args)
        .env_remove("LADLE_ALLOW_FILE_GIT_URLS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("builder runs");
    let stdout = read_in_background(child.stdout.take().expect("stdout"));
    let stderr = read_in_background(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + BUILDER_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the builder") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the builder did not finish within {} s (killed); args: {args:?}",
                BUILDER_DEADLINE.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // A process the builder left behind may still hold its output open.
    let rest = |output: Receiver<String>, name: &str| {
        output
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("the builder's {name} stayed open after it exited"))
    };
    Run {
        code: status.code().expect("builder exited normally"),
        stdout: rest(stdout, "stdout"),
        stderr: rest(stderr, "stderr"),
    }
}

/// Reads a child's output to its end on a thread of its own, so that a full pipe never stalls
/// the child while the test waits for it.
fn read_in_background(mut pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = sender.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    receiver
}

pub fn read_tgz(path: &Path) -> Vec<Member> {
    let gz = flate2::read::GzDecoder::new(File::open(path).expect("archive exists"));
    let mut archive = tar::Archive::new(gz);
    archive
        .entries()
        .expect("tar entries")
        .map(|entry| {
            let mut entry = entry.expect("tar entry");
            let name = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
            let link = entry
                .link_name_bytes()
                .map(|l| String::from_utf8(l.into_owned()).unwrap());
            let kind = entry.header().entry_type();
            let mode = entry.header().mode().unwrap() & 0o7777;
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            Member {
                name,
                kind,
                mode,
                link,
                data,
            }
        })
        .collect()
}

pub fn member<'a>(members: &'a [Member], name: &str) -> &'a Member {
    members
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("{name} missing from archive: {:?}", names(members)))
}

pub fn text(members: &[Member], name: &str) -> String {
    String::from_utf8(member(members, name).data.clone()).unwrap()
}

pub fn names(members: &[Member]) -> Vec<&str> {
    members.iter().map(|m| m.name.as_str()).collect()
}

/// `cp -a` for fixtures: modes and symlinks preserved.
pub fn copy_tree(source: &Path, destination: &Path) {
    let meta = fs::symlink_metadata(source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
    if meta.file_type().is_symlink() {
        symlink(fs::read_link(source).unwrap(), destination).unwrap();
    } else if meta.is_dir() {
        fs::create_dir_all(destination).unwrap();
        for entry in fs::read_dir(source).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &destination.join(entry.file_name()));
        }
        fs::set_permissions(destination, meta.permissions()).unwrap();
    } else {
        fs::copy(source, destination).unwrap();
        fs::set_permissions(
            destination,
            fs::Permissions::from_mode(meta.permissions().mode()),
        )
        .unwrap();
    }
}
