//! The process executor: the same staging without a container.

mod common;

use common::*;
use ladle_stager::{ExecutorChoice, ExecutorKind, FailureKind, Phase, Stager, VecSink};

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
    let expected_uid = if nix::unistd::geteuid().is_root() {
        2000
    } else {
        nix::unistd::geteuid().as_raw()
    };
    assert_eq!(
        droplet_file(&success.droplet, "whoami-uid").unwrap().trim(),
        expected_uid.to_string()
    );
    let compile = sink
        .lines()
        .into_iter()
        .find(|l| l.text.contains("running as uid"))
        .expect("compile output");
    assert_eq!(compile.phase, Phase::Compile);
    let left: Vec<_> = std::fs::read_dir(scratch.work_root())
        .unwrap()
        .flatten()
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
        sink.sleeping.notified().await;
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
