//! Shared set-up for the staging tests: real runc, the real `ladle-builder`, real fixtures.

#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ladle_stager::{
    BuildpackSource, ExecutorChoice, LogSink, Phase, StackRoot, Stager, StagerConfig,
    StagingFailure, StagingRequest, StagingSuccess, Stream, VecSink,
};
use zip::write::SimpleFileOptions;

mod test_net;
#[allow(unused_imports)]
pub use test_net::*;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// The builder next to this test binary (`target/<profile>/ladle-builder`) or
/// `$LADLE_BUILDER_PATH`.
pub fn builder_path() -> PathBuf {
    if let Some(path) = std::env::var_os("LADLE_BUILDER_PATH") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let builder = profile_dir.join("ladle-builder");
    assert!(
        builder.is_file(),
        "ladle-builder not found at {}: run `cargo build -p ladle-builder` with the same \
         CARGO_TARGET_DIR first, or set LADLE_BUILDER_PATH",
        builder.display()
    );
    builder
}

/// Fails the calling test, saying what is missing, unless this process is root and runc is on
/// PATH: a runc test that cannot run must never pass. The runc tests are `#[ignore]`d, so a
/// plain `cargo test` reports them as skipped; the test command (`scripts/test.sh`) runs them
/// with `--include-ignored`.
#[track_caller]
pub fn require_runc() {
    let have_runc = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("runc").is_file()));
    let root = nix::unistd::geteuid().is_root();
    let mut missing = Vec::new();
    if !have_runc {
        missing.push("runc on PATH (Debian package runc)");
    }
    if !root {
        missing.push("root");
    }
    assert!(
        missing.is_empty(),
        "this test stages in a runc container and needs {}",
        missing.join(" and ")
    );
}

/// A scratch area laid out like a server's data dir: `staging/` (the work root),
/// `server-data/secret.txt` beside it, inputs and outputs.
pub struct Scratch {
    pub dir: tempfile::TempDir,
    /// Appended to every staging guid, so that what one test leaves (a container, a cgroup) can
    /// never be mistaken for another's, also across test processes running at once.
    tag: String,
}

pub const SECRET: &str = "s3cr3t-server-data-do-not-leak";

impl Scratch {
    pub fn new() -> Scratch {
        // The stager's warnings (a failed `runc delete`, a busy unmount) appear in a failed
        // test's output.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("ladle_stager=debug")
            .with_test_writer()
            .try_init();
        // The umask `ladle serve` runs under: whatever the staging user must reach, the stager
        // has to open up by explicit modes.
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
        // Private, like `mktemp -d` or /root: staging must not need its parent folders open to
        // the staging user (the process executor's builder runs as uid 2000 on the host).
        let dir = tempfile::Builder::new()
            .prefix("ladle-stager-test")
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir()
            .unwrap();
        let data = dir.path().join("server-data");
        fs::create_dir(&data).unwrap();
        fs::set_permissions(&data, fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(data.join("secret.txt"), SECRET).unwrap();
        fs::set_permissions(data.join("secret.txt"), fs::Permissions::from_mode(0o600)).unwrap();
        let name = dir.path().file_name().unwrap().to_string_lossy();
        let tag = name[name.len().saturating_sub(6)..].to_ascii_lowercase();
        Scratch { dir, tag }
    }

    /// A few letters and digits unique to this scratch (for names of things a test creates).
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The staging guid this scratch uses for `name`.
    pub fn guid(&self, name: &str) -> String {
        format!("{name}-{}", self.tag)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn work_root(&self) -> PathBuf {
        self.path().join("staging")
    }

    pub fn secret_path(&self) -> PathBuf {
        self.path().join("server-data/secret.txt")
    }

    pub fn output_dir(&self) -> PathBuf {
        self.path().join("output")
    }

    /// The builder, copied into a folder only root may enter (as a checkout under /root is).
    pub fn private_builder(&self) -> PathBuf {
        let dir = self.path().join("private-bin");
        let builder = dir.join("ladle-builder");
        if !builder.exists() {
            fs::create_dir(&dir).unwrap();
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
            fs::copy(builder_path(), &builder).unwrap();
        }
        builder
    }

    pub fn config(&self, executor: ExecutorChoice) -> StagerConfig {
        let mut config = StagerConfig::new(builder_path(), self.work_root());
        config.executor = executor;
        config
    }

    pub fn stager(&self, executor: ExecutorChoice) -> Stager {
        Stager::new(self.config(executor)).expect("stager")
    }

    /// Zips a fixture buildpack as an admin buildpack under `key`.
    pub fn admin_buildpack(&self, name: &str) -> BuildpackSource {
        let zip = self.path().join(format!("{name}.zip"));
        zip_dir(&fixtures().join("buildpacks").join(name), &zip);
        BuildpackSource::Admin {
            key: name.to_string(),
            zip,
        }
    }

    pub fn app_zip(&self, name: &str) -> PathBuf {
        let zip = self.path().join(format!("app-{name}.zip"));
        zip_dir(&fixtures().join("apps").join(name), &zip);
        zip
    }

    /// A request staging fixtures/apps/plain with the given fixture buildpack.
    pub fn request(&self, guid: &str, buildpack: &str) -> StagingRequest {
        StagingRequest {
            staging_guid: self.guid(guid),
            app_bits: self.app_zip("plain"),
            buildpacks: vec![self.admin_buildpack(buildpack)],
            skip_detect: false,
            environment: vec![(
                "LADLE_SECRET_PATH".into(),
                self.secret_path().display().to_string(),
            )],
            memory_mb: 512,
            disk_mb: 256,
            stack: StackRoot::HostDefault,
            previous_cache: None,
            output_dir: self.output_dir(),
        }
    }

    /// Nothing of the staging with this (full) guid may remain: no container, mount, loop
    /// device, cgroup or workspace.
    pub fn assert_nothing_left(&self, guid: &str) {
        let containers = runc_containers_under(self.path());
        assert!(
            !containers.iter().any(|id| id.contains(guid)),
            "runc container left: {containers:?}"
        );
        let root = self.path().to_string_lossy().into_owned();
        // The stager's own buildpack cache stays mounted while the stager lives.
        let node_dir = format!("/{}/", ladle_stager::NODE_DIR);
        let mounts: String = fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|line| !line.contains(&node_dir))
            .map(|line| format!("{line}\n"))
            .collect();
        assert!(
            !mounts.contains(&root) && !mounts.contains(guid),
            "mount left under {root} or for {guid}:\n{mounts}"
        );
        for device in fs::read_dir("/sys/block").unwrap().flatten() {
            let backing =
                fs::read_to_string(device.path().join("loop/backing_file")).unwrap_or_default();
            assert!(
                !backing.contains(&root) || backing.contains(&node_dir),
                "loop device {:?} left for {backing}",
                device.file_name()
            );
        }
        for controller in fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
            let Ok(children) = fs::read_dir(controller.path().join("ladle")) else {
                continue;
            };
            for child in children.flatten() {
                let name = child.file_name().to_string_lossy().into_owned();
                assert!(
                    !name.contains(guid),
                    "cgroup left: {}",
                    child.path().display()
                );
            }
        }
        // The stager's own folder (its pool of fresh filesystems, its unpacked buildpacks) is
        // not a staging's.
        let left: Vec<_> = fs::read_dir(self.work_root())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name() != ladle_stager::NODE_DIR)
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "workspace left: {left:?}");
    }
}

/// A failed test may leave its staging running (and one test abandons a staging on purpose);
/// the stager's own crash cleanup removes its container and mount, so that it cannot disturb
/// the tests that follow.
impl Drop for Scratch {
    fn drop(&mut self) {
        let leftovers = fs::read_dir(self.work_root())
            .is_ok_and(|mut e| e.any(|e| e.is_ok_and(|e| e.file_name() != ladle_stager::NODE_DIR)));
        if leftovers {
            if let Ok(stager) = Stager::new(self.config(ExecutorChoice::Auto)) {
                let _ = stager.reap_leftovers();
            }
        }
    }
}

/// Stages `request` and checks that nothing of it remains afterwards.
pub async fn stage(
    scratch: &Scratch,
    stager: &Stager,
    request: StagingRequest,
) -> (Result<StagingSuccess, StagingFailure>, VecSink) {
    let sink = VecSink::new();
    let guid = request.staging_guid.clone();
    let outcome = stager.stage(request, &sink).await;
    scratch.assert_nothing_left(&guid);
    (outcome, sink)
}

/// Stages `request`, which must fail.
pub async fn expect_failure(
    scratch: &Scratch,
    stager: &Stager,
    request: StagingRequest,
) -> (StagingFailure, VecSink) {
    let (outcome, sink) = stage(scratch, stager, request).await;
    match outcome {
        Err(failure) => (failure, sink),
        Ok(success) => panic!(
            "staging should have failed: {success:?}\nlog:\n{}",
            sink.text()
        ),
    }
}

/// Zips `dir` keeping unix modes and symlinks, like `zip -ry`.
pub fn zip_dir(dir: &Path, out: &Path) {
    let mut zip = zip::ZipWriter::new(File::create(out).unwrap());
    add_dir(&mut zip, dir, dir);
    zip.finish().unwrap();
}

fn add_dir(zip: &mut zip::ZipWriter<File>, root: &Path, dir: &Path) {
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let meta = fs::symlink_metadata(&path).unwrap();
        let options =
            SimpleFileOptions::default().unix_permissions(meta.permissions().mode() & 0o777);
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&path).unwrap();
            zip.add_symlink(name, target.to_string_lossy(), options)
                .unwrap();
        } else if meta.is_dir() {
            zip.add_directory(format!("{name}/"), options).unwrap();
            add_dir(zip, root, &path);
        } else {
            zip.start_file(name, options).unwrap();
            zip.write_all(&fs::read(&path).unwrap()).unwrap();
        }
    }
}

/// The contents of `./app/<name>` in a droplet, if present.
pub fn droplet_file(droplet: &Path, name: &str) -> Option<String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(File::open(droplet).unwrap()));
    let wanted = format!("app/{name}");
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        if path == wanted {
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            return Some(text);
        }
    }
    None
}

/// The mode bits of `./app/<name>` in a droplet, if present.
pub fn droplet_mode(droplet: &Path, name: &str) -> Option<u32> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(File::open(droplet).unwrap()));
    let wanted = format!("app/{name}");
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        if path.trim_start_matches("./") == wanted {
            return Some(entry.header().mode().unwrap() & 0o7777);
        }
    }
    None
}

/// Every byte of the droplet, decompressed, as lossy text (for "does not contain" checks).
pub fn droplet_text(droplet: &Path) -> String {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(File::open(droplet).unwrap())
        .read_to_end(&mut bytes)
        .unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

pub const SHORT: Duration = Duration::from_secs(3);

pub fn fixture_text(rel: &str) -> String {
    fs::read_to_string(fixtures().join(rel)).unwrap()
}

/// Containers runc knows whose bundle lies under `root`, read from runc's state folder (the
/// default `--root` the stager uses). Not `runc list`: it was seen to print nothing while
/// containers of tests running in parallel came and went. Filtering by bundle keeps another
/// test process's stagings out.
pub fn runc_containers_under(root: &Path) -> Vec<String> {
    let entries = match fs::read_dir("/run/runc") {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => panic!("cannot read runc's state folder /run/runc: {e}"),
    };
    let root = root.to_string_lossy().into_owned();
    entries
        .flatten()
        .filter(|e| {
            fs::read_to_string(e.path().join("state.json")).is_ok_and(|state| state.contains(&root))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Processes with exactly this command line that run with this scratch's staging environment
/// (`LADLE_SECRET_PATH`, which `Scratch::request` hands to the buildpacks), so a process of
/// another test is never mistaken for one of ours.
pub fn processes_for(scratch: &Scratch, argv: &[&str]) -> Vec<i32> {
    let wanted: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    let marker = format!("LADLE_SECRET_PATH={}", scratch.secret_path().display());
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|p| fs::read(p.path().join("cmdline")).is_ok_and(|c| c == wanted))
        .filter(|p| {
            fs::read(p.path().join("environ")).is_ok_and(|environ| {
                environ
                    .split(|b| *b == 0)
                    .any(|var| var == marker.as_bytes())
            })
        })
        .filter_map(|p| p.file_name().to_string_lossy().parse().ok())
        .collect()
}

pub fn process_running_for(scratch: &Scratch, argv: &[&str]) -> bool {
    !processes_for(scratch, argv).is_empty()
}

/// SIGKILL to every process `processes_for` finds (a test's own cleanup after a failure).
pub fn kill_processes_for(scratch: &Scratch, argv: &[&str]) {
    for pid in processes_for(scratch, argv) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Wakes a test once the `limit-sleeper` buildpack says it sleeps.
#[derive(Default)]
pub struct SleepSignal {
    pub sleeping: tokio::sync::Notify,
}

impl SleepSignal {
    /// Waits until the buildpack says it sleeps; fails the test after a minute.
    pub async fn wait_until_sleeping(&self) {
        tokio::time::timeout(Duration::from_secs(60), self.sleeping.notified())
            .await
            .expect("the limit-sleeper buildpack did not say it sleeps within 60 s");
    }
}

impl LogSink for SleepSignal {
    fn line(&self, _phase: Phase, _stream: Stream, text: &str) {
        if text.contains("sleeping for ten minutes") {
            self.sleeping.notify_one();
        }
    }
}
