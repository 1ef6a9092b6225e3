//! End-to-end stagings in real runc containers with the real builder and fixture buildpacks.
//! Needs root and runc (see `common::require_runc`); ignored unless run with
//! `--include-ignored`, as `scripts/test.sh` does.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::*;
use ladle_stager::env::{staging_environment, StagingEnvInput};
use ladle_stager::{ExecutorChoice, ExecutorKind, FailureKind, Phase, Stager, Stream};
use serde_json::json;

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn stages_an_app_with_phases_in_the_log() {
    require_runc();
    let scratch = Scratch::new();
    let stager = scratch.stager(ExecutorChoice::Runc);
    assert_eq!(stager.executor(), ExecutorKind::Runc);
    assert_eq!(
        scratch.stager(ExecutorChoice::Auto).executor(),
        ExecutorKind::Runc,
        "auto picks runc as root with runc and cgroups"
    );
    let (outcome, sink) = stage(&scratch, &stager, scratch.request("happy", "limit-whoami")).await;
    let success = outcome.unwrap_or_else(|f| panic!("{f}\n{}", sink.text()));
    assert_eq!(success.executor, ExecutorKind::Runc);
    assert_eq!(success.result.process_types["web"], "./start");
    assert_eq!(
        success.result.lifecycle_metadata.buildpack_key,
        "limit-whoami"
    );
    assert_eq!(
        success.details.detect_output(0, "limit-whoami"),
        Some("Who Am I"),
        "ladle-staging.json is read beside result.json"
    );
    assert_eq!(success.droplet, scratch.output_dir().join("droplet.tgz"));
    assert_eq!(
        droplet_file(&success.droplet, "hello.txt").as_deref(),
        Some(fixture_text("apps/plain/hello.txt").as_str())
    );
    assert!(
        success
            .cache
            .as_ref()
            .is_some_and(|(path, _)| path.is_file()),
        "cache.tgz delivered"
    );

    let lines = sink.lines();
    let line = |text: &str| {
        lines
            .iter()
            .find(|l| l.text.contains(text))
            .unwrap_or_else(|| panic!("no {text:?} in {lines:#?}"))
    };
    assert_eq!(line("Creating container").phase, Phase::Setup);
    let compile = line("running as uid 2000");
    assert_eq!(
        (compile.phase, compile.stream),
        (Phase::Compile, Stream::Stdout)
    );
    assert!(
        !lines.iter().any(|l| l.text.starts_with("::ladle-phase::")),
        "markers are not forwarded"
    );
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn buildpacks_run_as_uid_2000_without_capabilities() {
    require_runc();
    let scratch = Scratch::new();
    let stager = scratch.stager(ExecutorChoice::Runc);
    let (outcome, sink) = stage(&scratch, &stager, scratch.request("whoami", "limit-whoami")).await;
    let droplet = outcome
        .unwrap_or_else(|f| panic!("{f}\n{}", sink.text()))
        .droplet;
    assert_eq!(droplet_file(&droplet, "whoami-uid").unwrap().trim(), "2000");
    assert_eq!(droplet_file(&droplet, "whoami-gid").unwrap().trim(), "2000");
    // Created under the buildpack's umask (022, as on Cloud Foundry), not the server's (077).
    assert_eq!(droplet_mode(&droplet, "whoami-uid"), Some(0o644));
    assert_eq!(
        droplet_file(&droplet, "whoami-caps").unwrap().trim(),
        "CapEff:\t0000000000000000"
    );
    assert_eq!(
        droplet_file(&droplet, "whoami-nnp").unwrap().trim(),
        "NoNewPrivs:\t1"
    );
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn buildpacks_see_the_cloud_foundry_staging_environment() {
    require_runc();
    let scratch = Scratch::new();
    let stager = scratch.stager(ExecutorChoice::Runc);
    let mut request = scratch.request("envdump", "env-dump");
    request.environment = staging_environment(&StagingEnvInput {
        environment: json!({
            "GROUP_VAR": "from-group",
            "APP_VAR": {"nested": true},
            "CF_STACK": "cflinuxfs4",
            "VCAP_APPLICATION": {"application_name": "my-app", "limits": {"mem": 512}},
        })
        .as_object()
        .unwrap()
        .clone(),
        memory_mb: request.memory_mb,
        vcap_services: json!({}),
    });
    let (outcome, sink) = stage(&scratch, &stager, request).await;
    let droplet = outcome
        .unwrap_or_else(|f| panic!("{f}\n{}", sink.text()))
        .droplet;
    let env = droplet_file(&droplet, "staging-env").expect("env-dump wrote staging-env");
    for expected in [
        "CF_STACK=cflinuxfs4",
        "MEMORY_LIMIT=512m",
        r#"VCAP_APPLICATION={"application_name":"my-app","limits":{"mem":512}}"#,
        "VCAP_SERVICES={}",
        "GROUP_VAR=from-group",
        r#"APP_VAR={"nested":true}"#,
        "LANG=en_US.UTF-8",
        "CF_INSTANCE_PORT=",
        "HOME=/home/vcap",
        "USER=vcap",
    ] {
        assert!(
            env.lines().any(|l| l == expected),
            "{expected} missing from:\n{env}"
        );
    }
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn memory_hog_is_stopped_at_the_memory_limit() {
    require_runc();
    let scratch = Scratch::new();
    let stager = scratch.stager(ExecutorChoice::Runc);
    let mut request = scratch.request("memhog", "limit-memory-hog");
    request.memory_mb = 128;
    let (failure, sink) = expect_failure(&scratch, &stager, request).await;
    assert_eq!(failure.kind, FailureKind::StagingError, "{}", sink.text());
    assert_eq!(
        failure.message,
        "staging exceeded its memory limit of 128 MB"
    );
    assert!(!sink.text().contains("still alive"), "{}", sink.text());
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn fork_bomb_is_stopped_at_the_process_limit() {
    require_runc();
    let scratch = Scratch::new();
    let stager = scratch.stager(ExecutorChoice::Runc);
    let mut request = scratch.request("forkbomb", "limit-fork-bomb");
    request.memory_mb = 1024;
    let (failure, sink) = expect_failure(&scratch, &stager, request).await;
    assert_eq!(failure.kind, FailureKind::StagingError, "{}", sink.text());
    assert_eq!(
        failure.message,
        "staging exceeded its process limit of 1024 processes",
        "{}",
        sink.text()
    );
    assert!(
        sink.text().contains("fork refused after"),
        "{}",
        sink.text()
    );
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn disk_filler_is_stopped_at_the_disk_limit() {
    require_runc();
    let scratch = Scratch::new();
    let stager = scratch.stager(ExecutorChoice::Runc);
    let mut request = scratch.request("diskfill", "limit-disk-filler");
    request.disk_mb = 64;
    let (failure, sink) = expect_failure(&scratch, &stager, request).await;
    assert_eq!(failure.kind, FailureKind::StagingError, "{}", sink.text());
    assert_eq!(failure.message, "staging exceeded its disk limit of 64 MB");
    assert!(!sink.text().contains("did not hold"), "{}", sink.text());
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn sleeper_is_killed_at_the_time_limit() {
    require_runc();
    let scratch = Scratch::new();
    let mut config = scratch.config(ExecutorChoice::Runc);
    config.timeout = SHORT;
    let stager = Stager::new(config).unwrap();
    let started = std::time::Instant::now();
    let (failure, sink) = expect_failure(
        &scratch,
        &stager,
        scratch.request("sleeper", "limit-sleeper"),
    )
    .await;
    assert_eq!(
        failure.kind,
        FailureKind::StagingTimeExpired,
        "{}",
        sink.text()
    );
    assert_eq!(
        failure.message,
        "staging exceeded its time limit of 3 seconds"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the sleeper was not left to sleep 10 minutes"
    );
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn escape_attempts_fail_and_leak_nothing() {
    require_runc();
    let scratch = Scratch::new();
    let stager = scratch.stager(ExecutorChoice::Runc);
    let (outcome, sink) = stage(&scratch, &stager, scratch.request("escape", "limit-escape")).await;
    let droplet = outcome
        .unwrap_or_else(|f| panic!("{f}\n{}", sink.text()))
        .droplet;
    let report = droplet_file(&droplet, "escape-report").expect("escape-report in droplet");
    for attempt in [
        "read-host-path",
        "read-relative",
        "read-via-proc",
        "write-usr",
        "write-etc",
        "write-root",
        "write-builder",
    ] {
        assert!(
            report.contains(&format!("{attempt}: denied")),
            "{attempt} not denied:\n{report}"
        );
    }
    assert!(
        !droplet_text(&droplet).contains(SECRET),
        "secret leaked into the droplet"
    );
    assert!(!sink.text().contains(SECRET), "secret leaked into the log");
    for path in ["/usr/escaped", "/etc/escaped", "/escaped"] {
        assert!(
            !std::path::Path::new(path).exists(),
            "{path} was written on the host"
        );
    }
    let builder = std::fs::read(builder_path()).unwrap();
    assert!(builder.len() > 1000, "builder binary intact");
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn builder_exit_codes_become_cloud_controller_errors() {
    require_runc();
    let scratch = Scratch::new();
    let stager = scratch.stager(ExecutorChoice::Runc);
    let (failure, _) = expect_failure(
        &scratch,
        &stager,
        scratch.request("nodetect", "detect-fail"),
    )
    .await;
    assert_eq!(failure.kind, FailureKind::NoAppDetected);
    assert_eq!(failure.kind.cc_name(), "NoAppDetectedError");
    let (failure, sink) = expect_failure(
        &scratch,
        &stager,
        scratch.request("nocompile", "compile-fail"),
    )
    .await;
    assert_eq!(failure.kind, FailureKind::BuildpackCompileFailed);
    assert!(
        failure.message.contains("Failed to compile droplet"),
        "{}",
        failure.message
    );
    assert_eq!(
        failure
            .result
            .expect("partial result.json")
            .lifecycle_metadata
            .buildpack_key,
        "compile-fail"
    );
    let stderr = sink
        .lines()
        .into_iter()
        .find(|l| l.text.contains("failing on purpose"))
        .expect("buildpack stderr in the log");
    assert_eq!(
        (stderr.phase, stderr.stream),
        (Phase::Compile, Stream::Stderr)
    );
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn hostile_app_zip_is_refused() {
    require_runc();
    let scratch = Scratch::new();
    let stager = scratch.stager(ExecutorChoice::Runc);
    let mut request = scratch.request("zipslip", "noop");
    let evil = scratch.path().join("evil.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&evil).unwrap());
    zip.start_file(
        "../../server-data/secret.txt",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    std::io::Write::write_all(&mut zip, b"overwritten").unwrap();
    zip.finish().unwrap();
    request.app_bits = evil;
    let (failure, _) = expect_failure(&scratch, &stager, request).await;
    assert_eq!(failure.kind, FailureKind::StagingError);
    assert!(
        failure.message.contains("has '..' in its path"),
        "{}",
        failure.message
    );
    assert_eq!(
        std::fs::read_to_string(scratch.secret_path()).unwrap(),
        SECRET
    );
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn corrupt_previous_cache_is_ignored_with_a_log_line() {
    require_runc();
    let scratch = Scratch::new();
    let stager = scratch.stager(ExecutorChoice::Runc);
    let mut request = scratch.request("badcache", "noop");
    let cache = scratch.path().join("old-cache.tgz");
    std::fs::write(&cache, b"\x1f\x8b garbage").unwrap();
    request.previous_cache = Some(cache);
    let (outcome, sink) = stage(&scratch, &stager, request).await;
    outcome.unwrap_or_else(|f| panic!("{f}\n{}", sink.text()));
    let note = sink
        .lines()
        .into_iter()
        .find(|l| {
            l.text
                .starts_with("Ignoring the previous build artifacts cache")
        })
        .expect("log line");
    assert_eq!(note.phase, Phase::Setup);
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn dropping_the_future_removes_everything() {
    require_runc();
    let scratch = Scratch::new();
    let stager = scratch.stager(ExecutorChoice::Runc);
    let sink = SleepSignal::default();
    let staging = stager.stage(scratch.request("cancelled", "limit-sleeper"), &sink);
    let mut staging = Box::pin(staging);
    tokio::select! {
        _ = &mut staging => panic!("the sleeper finished"),
        _ = sink.wait_until_sleeping() => {}
    }
    drop(staging);
    scratch.assert_nothing_left(&scratch.guid("cancelled"));
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn reap_leftovers_cleans_up_after_a_crash() {
    require_runc();
    let scratch = Scratch::new();
    let stager = scratch.stager(ExecutorChoice::Runc);
    let sink: &'static SleepSignal = Box::leak(Box::default());
    let mut staging = Box::pin(stager.stage(scratch.request("crashed", "limit-sleeper"), sink));
    tokio::select! {
        _ = &mut staging => panic!("the sleeper finished"),
        _ = sink.wait_until_sleeping() => {}
    }
    // A crash: no destructor runs, the container keeps sleeping.
    std::mem::forget(staging);
    let containers = runc_containers_under(scratch.path());
    assert!(
        containers.iter().any(|id| id.contains("crashed")),
        "the container should still be there: {containers:?}"
    );

    let restarted = scratch.stager(ExecutorChoice::Runc);
    let report = restarted.reap_leftovers().unwrap();
    assert_eq!(report.containers.len(), 1, "{report:?}");
    assert_eq!(report.workspaces.len(), 1, "{report:?}");
    scratch.assert_nothing_left(&scratch.guid("crashed"));
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn a_builder_that_never_runs_is_a_stager_error() {
    require_runc();
    let scratch = Scratch::new();
    let mut config = scratch.config(ExecutorChoice::Runc);
    config.builder_path = "/bin/false".into();
    let stager = Stager::new(config).unwrap();
    let (failure, _) =
        expect_failure(&scratch, &stager, scratch.request("nobuilder", "noop")).await;
    assert_eq!(failure.kind, FailureKind::StagerError);
    assert_eq!(failure.message, "the builder did not run (exit status 1)");

    let mut config = scratch.config(ExecutorChoice::Runc);
    config.builder_path = scratch.path().join("missing-builder");
    assert!(matches!(
        Stager::new(config),
        Err(ladle_stager::StagerSetupError::BuilderMissing(_))
    ));
}

/// A stack root filesystem with no libc at all: a statically linked busybox for the
/// buildpack's shell tools. The builder (dynamically linked) can only run there through the
/// host libraries mounted beside it.
fn busybox_rootfs(dir: &std::path::Path) -> std::path::PathBuf {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file())
        .expect("busybox (Debian package busybox-static) is needed for the stack rootfs test");
    let rootfs = dir.join("rootfs");
    let bin = rootfs.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    std::fs::copy(&busybox, bin.join("busybox")).unwrap();
    for tool in ["sh", "echo", "printf", "id", "grep", "cat", "mkdir", "env"] {
        std::os::unix::fs::symlink("busybox", bin.join(tool)).unwrap();
    }
    // A stack as an operator unpacks it: open to everyone, whatever the test's umask.
    for path in [&rootfs, &bin, &rootfs.join("etc"), &bin.join("busybox")] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    rootfs
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn a_stack_rootfs_without_libc_stages_with_the_builders_libraries_beside_it() {
    require_runc();
    let scratch = Scratch::new();
    let rootfs = busybox_rootfs(scratch.path());
    let stager = scratch.stager(ExecutorChoice::Runc);
    let mut request = scratch.request("rootfs", "limit-whoami");
    request.stack = ladle_stager::StackRoot::Rootfs(rootfs.clone());
    let (outcome, sink) = stage(&scratch, &stager, request).await;
    let droplet = outcome
        .unwrap_or_else(|f| panic!("{f}\n{}", sink.text()))
        .droplet;
    assert_eq!(droplet_file(&droplet, "whoami-uid").unwrap().trim(), "2000");
    // The stack's folder is used read-only and as it is: no mountpoints were added to it.
    let mut entries: Vec<String> = std::fs::read_dir(&rootfs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["bin", "etc"]);
}

/// Timestamps of the log lines as they arrive.
#[derive(Default)]
struct TimedSink {
    times: std::sync::Mutex<Vec<std::time::Instant>>,
}

impl ladle_stager::LogSink for TimedSink {
    fn line(&self, _phase: Phase, _stream: Stream, _text: &str) {
        self.times.lock().unwrap().push(std::time::Instant::now());
    }
}

/// Everything a staging does after its builder exits (runc's and the cgroups' removal, reading
/// the outputs, the droplet copy, stopping the network, unmounting, deleting the workspace)
/// blocks, and must not hold up the thread that runs the staging: with one thread for the
/// whole runtime, a ticker beside the staging keeps its pace through all of it.
#[test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
fn the_end_of_a_staging_does_not_block_the_runtime() {
    require_runc();
    let scratch = Scratch::new();
    let stager = scratch.stager(ExecutorChoice::Runc);
    // 64 MB written and never synced: unmounting the workspace has to write it back first, so
    // the teardown takes long enough to tell a blocked runtime from scheduling noise.
    let buildpack = scratch.path().join("ballast-buildpack");
    std::fs::create_dir_all(buildpack.join("bin")).unwrap();
    for (name, script) in [
        ("detect", "#!/bin/sh\necho ballast\n"),
        (
            "compile",
            "#!/bin/sh\nset -e\ndd if=/dev/zero of=\"$TMPDIR/ballast\" bs=1M count=64 2>/dev/null\necho ballast written\n",
        ),
        ("release", "#!/bin/sh\nprintf -- '---\\ndefault_process_types:\\n  web: ./start\\n'\n"),
    ] {
        let path = buildpack.join("bin").join(name);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let zip = scratch.path().join("ballast.zip");
    zip_dir(&buildpack, &zip);
    let mut request = scratch.request("ticks", "noop");
    request.buildpacks = vec![ladle_stager::BuildpackSource::Admin {
        key: "ballast".into(),
        zip,
    }];
    let guid = request.staging_guid.clone();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sink = TimedSink::default();
    let (outcome, largest_gap, ended) = runtime.block_on(async {
        let largest_gap = std::sync::Arc::new(std::sync::Mutex::new(Duration::ZERO));
        let ticker = tokio::spawn({
            let largest_gap = largest_gap.clone();
            async move {
                let mut last = tokio::time::Instant::now();
                loop {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    let now = tokio::time::Instant::now();
                    let mut largest = largest_gap.lock().unwrap();
                    *largest = (*largest).max(now - last);
                    last = now;
                }
            }
        });
        let outcome = stager.stage(request, &sink).await;
        let ended = std::time::Instant::now();
        // One more tick, so a gap that ends with the staging is counted too.
        tokio::time::sleep(Duration::from_millis(15)).await;
        ticker.abort();
        let largest = *largest_gap.lock().unwrap();
        (outcome, largest, ended)
    });
    outcome.unwrap_or_else(|f| panic!("{f}"));
    scratch.assert_nothing_left(&guid);
    // From the builder's last line to the end: runc's exit, the teardown and the copy.
    let last_line = *sink.times.lock().unwrap().last().unwrap();
    let after_builder = ended - last_line;
    eprintln!(
        "after the builder: {after_builder:?}; largest gap between 10 ms ticks: {largest_gap:?}"
    );
    assert!(
        after_builder >= Duration::from_millis(60),
        "the teardown took {after_builder:?}: too short to tell a blocked runtime from noise"
    );
    assert!(
        largest_gap < after_builder / 2,
        "a tick waited {largest_gap:?} while the staging's end took {after_builder:?}: \
         blocking work ran on the runtime's thread"
    );
}
