//! What staging prepares ahead of time must never carry one staging's state into another:
//! filesystems from the pool are fresh and still enforce the disk limit, workspaces are never
//! shared, cached admin buildpacks cannot be changed by a staging and never go stale.
//! Needs root and runc; ignored unless run with `--include-ignored`, as `scripts/test.sh` does.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::*;
use ladle_stager::{
    BuildpackSource, ExecutorChoice, FailureKind, Stager, StagingRequest, VecSink, NODE_DIR,
};

/// A runc stager that keeps `per_size` filesystems of `disk_mb` ready, once they are.
async fn pooled_stager(scratch: &Scratch, disk_mb: u64, per_size: usize) -> Stager {
    let mut config = scratch.config(ExecutorChoice::Runc);
    config.default_disk_mb = Some(disk_mb);
    config.fs_pool_per_size = per_size;
    let stager = Stager::new(config).expect("stager");
    let deadline = Instant::now() + Duration::from_secs(30);
    while stager.ready_filesystems(disk_mb) < per_size {
        assert!(Instant::now() < deadline, "the pool never filled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stager
}

fn probe_request(scratch: &Scratch, id: &str, sleep_secs: u32) -> StagingRequest {
    let mut request = scratch.request(id, "workspace-probe");
    request
        .environment
        .push(("PROBE_ID".into(), scratch.guid(id)));
    request
        .environment
        .push(("PROBE_SLEEP".into(), sleep_secs.to_string()));
    request
}

/// The marks the probe listed on its `label:` line.
fn marks(sink: &VecSink, label: &str) -> Vec<String> {
    let text = sink.text();
    let line = text
        .lines()
        .find_map(|l| {
            l.split_once(&format!("-----> {label}:"))
                .map(|(_, rest)| rest)
        })
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{text}"));
    line.split_whitespace().map(str::to_string).collect()
}

fn assert_only_own_marks(scratch: &Scratch, id: &str, sink: &VecSink) {
    assert_eq!(
        marks(sink, "found"),
        Vec::<String>::new(),
        "a fresh workspace holds no marks:\n{}",
        sink.text()
    );
    let seen = marks(sink, "seen");
    let own = format!("mark-{}", scratch.guid(id));
    assert_eq!(seen.len(), 5, "{}", sink.text());
    assert!(
        seen.iter().all(|mark| mark.ends_with(&own)),
        "{id} saw another staging's files: {seen:?}"
    );
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn stagings_on_pooled_filesystems_never_see_each_others_files() {
    require_runc();
    let scratch = Scratch::new();
    let stager = pooled_stager(&scratch, 256, 2).await;

    // Back to back: the second runs where the first's files would be, were anything reused.
    for id in ["first", "second"] {
        let (outcome, sink) = stage(&scratch, &stager, probe_request(&scratch, id, 0)).await;
        outcome.unwrap_or_else(|f| panic!("{f}\n{}", sink.text()));
        assert_only_own_marks(&scratch, id, &sink);
    }

    // At once: each leaves its marks, waits while the other leaves its own, then looks.
    let (left_sink, right_sink) = (VecSink::new(), VecSink::new());
    let (left, right) = futures::join!(
        stager.stage(probe_request(&scratch, "left", 2), &left_sink),
        stager.stage(probe_request(&scratch, "right", 2), &right_sink),
    );
    left.unwrap_or_else(|f| panic!("{f}\n{}", left_sink.text()));
    right.unwrap_or_else(|f| panic!("{f}\n{}", right_sink.text()));
    assert_only_own_marks(&scratch, "left", &left_sink);
    assert_only_own_marks(&scratch, "right", &right_sink);
    scratch.assert_nothing_left(&scratch.guid("left"));
    scratch.assert_nothing_left(&scratch.guid("right"));
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn disk_limit_holds_on_a_pooled_filesystem() {
    require_runc();
    let scratch = Scratch::new();
    let stager = pooled_stager(&scratch, 64, 1).await;
    let mut request = scratch.request("diskfill", "limit-disk-filler");
    request.disk_mb = 64;
    let (failure, sink) = expect_failure(&scratch, &stager, request).await;
    assert_eq!(failure.kind, FailureKind::StagingError, "{}", sink.text());
    assert_eq!(failure.message, "staging exceeded its disk limit of 64 MB");
    assert!(!sink.text().contains("did not hold"), "{}", sink.text());
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn a_cached_buildpack_cannot_be_changed_by_a_staging() {
    require_runc();
    let scratch = Scratch::new();
    let stager = scratch.stager(ExecutorChoice::Runc);
    for id in ["tamper1", "tamper2"] {
        let (failure, sink) =
            expect_failure(&scratch, &stager, scratch.request(id, "writes-own-folder")).await;
        let log = sink.text();
        assert_eq!(failure.kind, FailureKind::BuildpackCompileFailed, "{log}");
        assert!(log.contains("buildpack is pristine"), "{log}");
        // Files without write bits on a read-only mount: either refusal will do.
        assert!(log.contains("-----> mounted ro,"), "{log}");
        assert!(
            log.contains("Permission denied") || log.contains("Read-only file system"),
            "{log}"
        );
        assert!(!log.contains("wrote into the buildpack folder"), "{log}");
    }
    // The cached copy on the host is untouched too.
    let mut cached = Vec::new();
    let mut stack = vec![scratch.work_root().join(NODE_DIR)];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap().flatten() {
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else {
                cached.push(entry.path());
            }
        }
    }
    let detect = cached
        .iter()
        .find(|p| p.ends_with("bin/detect"))
        .unwrap_or_else(|| panic!("no cached buildpack in {cached:?}"));
    assert_eq!(
        fs::read_to_string(detect).unwrap(),
        fixture_text("buildpacks/writes-own-folder/bin/detect")
    );
    // The staging user's to read and run, nobody's to change; closed to others on the host.
    assert_eq!(
        fs::metadata(detect).unwrap().permissions().mode() & 0o777,
        0o500
    );
    assert!(!cached.iter().any(|p| p.ends_with("scribble")));
}

#[tokio::test]
#[ignore = "needs root and runc; scripts/test.sh runs it (--include-ignored)"]
async fn an_updated_admin_buildpack_is_used_by_the_next_staging() {
    require_runc();
    let scratch = Scratch::new();
    let stager = scratch.stager(ExecutorChoice::Runc);
    let source = scratch.path().join("updatable");
    fs::create_dir_all(source.join("bin")).unwrap();
    for (name, text) in [
        ("detect", "#!/bin/sh\necho Updatable\n"),
        (
            "release",
            "#!/bin/sh\nprintf -- \"---\\ndefault_process_types:\\n  web: ./start.sh\\n\"\n",
        ),
    ] {
        fs::write(source.join("bin").join(name), text).unwrap();
    }
    // The same key and the same zip path each time, as the server passes them.
    let zip = scratch.path().join("updatable.zip");
    for (n, version) in ["1", "2", "1"].into_iter().enumerate() {
        let compile = source.join("bin/compile");
        fs::write(
            &compile,
            format!("#!/bin/sh\necho {version} > \"$1/version.txt\"\n"),
        )
        .unwrap();
        fs::set_permissions(source.join("bin"), fs::Permissions::from_mode(0o755)).unwrap();
        for name in ["detect", "compile", "release"] {
            fs::set_permissions(
                source.join("bin").join(name),
                fs::Permissions::from_mode(0o755),
            )
            .unwrap();
        }
        zip_dir(&source, &zip);
        let mut request = scratch.request(&format!("update{n}"), "noop");
        request.buildpacks = vec![BuildpackSource::Admin {
            key: "updatable".into(),
            zip: zip.clone(),
        }];
        let (outcome, sink) = stage(&scratch, &stager, request).await;
        let success = outcome.unwrap_or_else(|f| panic!("{f}\n{}", sink.text()));
        assert_eq!(
            droplet_file(&success.droplet, "version.txt").as_deref(),
            Some(format!("{version}\n").as_str()),
            "staged with a stale buildpack"
        );
    }
}
