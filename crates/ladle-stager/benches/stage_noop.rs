//! End-to-end staging time of a 1 KB app with the `noop` fixture buildpack: workspace image,
//! unpacking, container start, builder, droplet copy and cleanup. Prints the median of 21 runs
//! per executor, and for runc with the staging network on and off (target for runc: under
//! 150 ms). Needs root and runc for the runc numbers.
//!
//! Then, for comparison with the server's queue (`bench/stage-throughput.sh`), the rate of
//! 100 such stagings run straight through the stager, 2 at a time.
//!
//! Run with `bench/stage-noop.sh` (builds the release builder first).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ladle_stager::{
    BuildpackSource, ExecutorChoice, ExecutorKind, StackRoot, Stager, StagerConfig, StagingNetwork,
    StagingRequest, VecSink,
};
use zip::write::SimpleFileOptions;

const RUNS: usize = 21;
const WARMUP: usize = 3;
const DRAIN_STAGINGS: usize = 100;
const DRAIN_PARALLEL: usize = 2;

fn main() {
    // RUST_LOG=ladle_stager=debug shows each staging's steps with their times.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .try_init();
    let builder = builder_path();
    let scratch = tempfile::Builder::new()
        .prefix("ladle-bench")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(
        scratch.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let app = scratch.path().join("app.zip");
    write_app(&app);
    let buildpack = scratch.path().join("noop.zip");
    write_buildpack(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/buildpacks/noop"),
        &buildpack,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // runc with network on and off (the difference is the network's own set-up: namespace,
    // nftables rules, slirp4netns), then the process executor.
    let runs = [
        (ExecutorChoice::Runc, StagingNetwork::Outbound),
        (ExecutorChoice::Runc, StagingNetwork::Off),
        (ExecutorChoice::Process, StagingNetwork::Off),
    ];
    // STAGE_NOOP_ONLY_FIRST=1: the sequential runc stagings with network on, nothing else
    // (`bench/stage-profile.sh` traces them).
    let only_first = std::env::var_os("STAGE_NOOP_ONLY_FIRST").is_some();
    let runs = if only_first { &runs[..1] } else { &runs[..] };
    for &(choice, network) in runs {
        let mut config = StagerConfig::new(&builder, scratch.path().join("staging"));
        config.executor = choice;
        config.network = network;
        let stager = match Stager::new(config) {
            Ok(stager) => stager,
            Err(e) => {
                println!("{choice:?}: skipped ({e})");
                continue;
            }
        };
        let label = match stager.executor() {
            ExecutorKind::Runc => format!("runc executor, network {network:?}"),
            ExecutorKind::Process => "process executor".to_string(),
        };
        let times = runtime.block_on(measure(&stager, scratch.path(), &app, &buildpack));
        report(&label, times);
        if only_first {
            return;
        }
        let rate = runtime.block_on(drain(&stager, scratch.path(), &app, &buildpack));
        println!(
            "{label}: {DRAIN_STAGINGS} stagings, {DRAIN_PARALLEL} at a time: {rate:.1} stagings/s"
        );
    }
}

fn noop_request(name: &str, scratch: &Path, app: &Path, buildpack: &Path) -> StagingRequest {
    StagingRequest {
        staging_guid: name.to_string(),
        app_bits: app.to_path_buf(),
        buildpacks: vec![BuildpackSource::Admin {
            key: "noop".into(),
            zip: buildpack.to_path_buf(),
        }],
        skip_detect: false,
        environment: vec![],
        memory_mb: 1024,
        disk_mb: 4096,
        stack: StackRoot::HostDefault,
        previous_cache: None,
        output_dir: scratch.join(format!("out-{name}")),
    }
}

/// Stagings per second with `DRAIN_PARALLEL` running at any time.
async fn drain(stager: &Stager, scratch: &Path, app: &Path, buildpack: &Path) -> f64 {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let worker = || async {
        loop {
            let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if n >= DRAIN_STAGINGS {
                return;
            }
            let request = noop_request(&format!("drain-{n}"), scratch, app, buildpack);
            let sink = VecSink::new();
            if let Err(failure) = stager.stage(request, &sink).await {
                panic!("staging failed: {failure}\n{}", sink.text());
            }
        }
    };
    let started = Instant::now();
    futures::future::join_all((0..DRAIN_PARALLEL).map(|_| worker())).await;
    DRAIN_STAGINGS as f64 / started.elapsed().as_secs_f64()
}

async fn measure(stager: &Stager, scratch: &Path, app: &Path, buildpack: &Path) -> Vec<Duration> {
    let mut times = Vec::new();
    for run in 0..WARMUP + RUNS {
        let request = noop_request(&format!("bench-{run}"), scratch, app, buildpack);
        let sink = VecSink::new();
        let started = Instant::now();
        let outcome = stager.stage(request, &sink).await;
        let elapsed = started.elapsed();
        if let Err(failure) = outcome {
            panic!("staging failed: {failure}\n{}", sink.text());
        }
        if run >= WARMUP {
            times.push(elapsed);
        }
    }
    times
}

fn report(label: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label}: median {:.1} ms, min {:.1} ms, p90 {:.1} ms, max {:.1} ms ({} runs)",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() * 9 / 10]),
        ms(times[times.len() - 1]),
        times.len()
    );
}

/// A 1 KB app: one file of 1024 bytes.
fn write_app(path: &Path) {
    let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
    zip.start_file(
        "index.html",
        SimpleFileOptions::default().unix_permissions(0o644),
    )
    .unwrap();
    zip.write_all(&[b'x'; 1024]).unwrap();
    zip.finish().unwrap();
}

fn write_buildpack(dir: &Path, path: &Path) {
    let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
    zip.add_directory("bin/", SimpleFileOptions::default())
        .unwrap();
    for script in ["detect", "compile", "release"] {
        zip.start_file(
            format!("bin/{script}"),
            SimpleFileOptions::default().unix_permissions(0o755),
        )
        .unwrap();
        zip.write_all(&std::fs::read(dir.join("bin").join(script)).unwrap())
            .unwrap();
    }
    zip.finish().unwrap();
}

fn builder_path() -> PathBuf {
    if let Some(path) = std::env::var_os("LADLE_BUILDER_PATH") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap();
    let builder = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("ladle-builder");
    assert!(
        builder.is_file(),
        "{} missing: cargo build --release -p ladle-builder",
        builder.display()
    );
    builder
}
