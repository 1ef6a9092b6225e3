//! The process executor: the same staging without a container.

mod common;

use common::*;
use ladle_stager::{
    ExecutorChoice, ExecutorKind, FailureKind, Phase, Stager, StagerSetupError, VecSink,
};

#[tokio::test]
async fn process_executor_stages_the_same_app() {
    let scratch = Scratch::new();
    let stager = scratch.stager(ExecutorChoice::Process);
    assert_eq!(stager.executor(), ExecutorKind::Process);
    let sink = VecSink::new();
    let outcome = stager
        .stage(scratch.request("proc-happy", "limit-whoami"), &sink)
        .await;
    let success = outcome.unwrap_or_else(|f| panic!("{f}\n{}", sink.text()));
    assert_eq!(success.executor, ExecutorKind::Process);
    assert_eq!(success.result.process_types["web"], "./start");
    assert_eq!(
        droplet_file(&success.droplet, "hello.txt").as_deref(),
        Some(fixture_text("apps/plain/hello.txt").as_str())
    );
    assert_eq!(
        droplet_file(&success.droplet, "whoami-uid").unwrap().trim(),
        "2000"
    );
    // Created under the buildpack's umask (022, as on Cloud Foundry), not the server's (077).
    assert_eq!(droplet_mode(&success.droplet, "whoami-uid"), Some(0o644));
    let compile = sink
        .lines()
        .into_iter()
        .find(|l| l.text.contains("running as uid"))
        .expect("compile output");
    assert_eq!(compile.phase, Phase::Compile);
    let left: Vec<_> = std::fs::read_dir(scratch.work_root())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name() != ladle_stager::NODE_DIR)
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "workspace left: {left:?}");
}

#[tokio::test]
async fn process_executor_kills_the_process_group_at_the_time_limit() {
    let scratch = Scratch::new();
    let mut config = scratch.config(ExecutorChoice::Process);
    config.timeout = SHORT;
    let stager = Stager::new(config).unwrap();
    let sink = SleepSignal::default();
    let staging = stager.stage(scratch.request("proc-sleeper", "limit-sleeper"), &sink);
    // The buildpack prints its line just before it forks `sleep`: look for a moment.
    let while_sleeping = async {
        // A builder that never gets to sleep must not hang the test.
        if tokio::time::timeout(SHORT * 10, sink.sleeping.notified())
            .await
            .is_err()
        {
            return false;
        }
        for _ in 0..50 {
            if process_running_for(&scratch, &["sleep", "600"]) {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        false
    };
    let (outcome, seen_sleeping) = tokio::join!(staging, while_sleeping);
    assert!(
        seen_sleeping,
        "the buildpack's `sleep 600` is found while it runs"
    );
    let failure = outcome.unwrap_err();
    assert_eq!(failure.kind, FailureKind::StagingTimeExpired);
    assert_eq!(
        failure.message,
        "staging exceeded its time limit of 3 seconds"
    );
    // The buildpack's `sleep 600` belonged to the killed group.
    assert!(
        !process_running_for(&scratch, &["sleep", "600"]),
        "the buildpack's sleep survived"
    );
}

#[tokio::test]
async fn process_executor_kills_a_setsid_daemon_when_the_staging_ends() {
    let scratch = Scratch::new();
    let stager = scratch.stager(ExecutorChoice::Process);
    let sink = VecSink::new();
    let outcome = stager
        .stage(scratch.request("proc-daemon", "limit-daemon"), &sink)
        .await;
    let daemon = ["sleep", "607"];
    let survived = process_running_for(&scratch, &daemon);
    if survived {
        kill_processes_for(&scratch, &daemon);
    }
    outcome.unwrap_or_else(|f| panic!("{f}\n{}", sink.text()));
    assert!(
        sink.text().contains("daemon started"),
        "the buildpack ran:\n{}",
        sink.text()
    );
    assert!(!survived, "the buildpack's daemon outlived the staging");
    scratch.assert_nothing_left(&scratch.guid("proc-daemon"));
}

#[tokio::test]
async fn process_executor_stages_from_private_folders_and_reads_nothing_of_the_data_dir() {
    // The scratch folder (parent of the work root and of the "data dir") is 0700, as a
    // `mktemp -d` folder or /root is; so is the builder's folder.
    let scratch = Scratch::new();
    let mut config = scratch.config(ExecutorChoice::Process);
    config.builder_path = scratch.private_builder();
    let stager = Stager::new(config).unwrap();
    let sink = VecSink::new();
    let outcome = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        stager.stage(scratch.request("proc-private", "limit-escape"), &sink),
    )
    .await
    .expect("the staging ends");
    let success = outcome.unwrap_or_else(|f| panic!("{f}\n{}", sink.text()));
    let report = droplet_file(&success.droplet, "escape-report").expect("escape-report");
    for attempt in ["read-host-path", "read-relative", "read-via-proc"] {
        assert!(
            report.contains(&format!("{attempt}: denied")),
            "{attempt} not denied:\n{report}"
        );
    }
    assert!(!droplet_text(&success.droplet).contains(SECRET));
    assert!(!sink.text().contains(SECRET));
    scratch.assert_nothing_left(&scratch.guid("proc-private"));
}

#[tokio::test]
async fn auto_refuses_to_stage_without_runc_and_says_why() {
    let scratch = Scratch::new();
    let mut config = scratch.config(ExecutorChoice::Auto);
    config.runc_path = Some(scratch.path().join("no-runc-here"));
    let error = match Stager::new(config) {
        Ok(stager) => panic!(
            "auto fell back to the {} executor without runc",
            stager.executor()
        ),
        Err(error) => error,
    };
    assert!(
        matches!(error, StagerSetupError::NoRuncForAuto(_)),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("runc is not on PATH"), "{message}");
    assert!(message.contains("LADLE_STAGER=process"), "{message}");
}
