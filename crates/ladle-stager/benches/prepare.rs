//! Time to prepare one staging (workspace filesystem, app and buildpack unpacked, container
//! root, bundle, network) for a 1 KB app with the `noop` fixture buildpack, in runc with the
//! default network setting, side by side in one run:
//! - `per staging`: every staging formats its own filesystem and unpacks its buildpack (no
//!   pool, no buildpack cache: what staging did before either existed);
//! - `pooled`: filesystems formatted ahead of time, buildpacks unpacked once per version.
//!
//! For each: the median prepare time (and whole staging time) of 21 stagings one at a time, then
//! of 100 stagings 2 at a time with the share of filesystems that came from the pool. Times come from the stager's
//! own `staging workspace prepared` event. Needs root and runc.
//!
//! Run with `bench/stage-prepare.sh` (builds the release builder first).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ladle_stager::{
    BuildpackSource, ExecutorChoice, StackRoot, Stager, StagerConfig, StagingRequest, VecSink,
};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;
use zip::write::SimpleFileOptions;

const RUNS: usize = 21;
const WARMUP: usize = 3;
const DRAIN_STAGINGS: usize = 100;
const DRAIN_PARALLEL: usize = 2;
const DISK_MB: u64 = 4096;

/// One `staging workspace prepared` event: milliseconds, and whether the filesystem was pooled.
type Prepared = (f64, bool);

#[derive(Clone, Default)]
struct PrepareTimes(Arc<Mutex<Vec<Prepared>>>);

impl PrepareTimes {
    fn take(&self) -> Vec<Prepared> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[derive(Default)]
struct PreparedEvent {
    is_it: bool,
    elapsed_ms: Option<f64>,
    from_pool: bool,
}

impl Visit for PreparedEvent {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_ms" {
            self.elapsed_ms = Some(value);
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "from_pool" {
            self.from_pool = value;
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" && value == "staging workspace prepared" {
            self.is_it = true;
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" && format!("{value:?}") == "staging workspace prepared" {
            self.is_it = true;
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for PrepareTimes {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut seen = PreparedEvent::default();
        event.record(&mut seen);
        if let (true, Some(ms)) = (seen.is_it, seen.elapsed_ms) {
            self.0.lock().unwrap().push((ms, seen.from_pool));
        }
    }
}

fn main() {
    let times = PrepareTimes::default();
    tracing_subscriber::registry()
        .with(
            times.clone().with_filter(
                tracing_subscriber::filter::Targets::new()
                    .with_target("ladle_stager::prepare", tracing::Level::DEBUG),
            ),
        )
        .with(tracing_subscriber::fmt::layer().with_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        ))
        .init();
    let builder = builder_path();
    let scratch = tempfile::Builder::new()
        .prefix("ladle-bench")
        .tempdir()
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
    for (label, pooled) in [("per staging", false), ("pooled", true)] {
        let mut config = StagerConfig::new(&builder, scratch.path().join("staging"));
        config.executor = ExecutorChoice::Runc;
        config.fs_pool_per_size = if pooled { 2 * DRAIN_PARALLEL } else { 0 };
        config.default_disk_mb = Some(DISK_MB);
        config.cache_buildpacks = pooled;
        let stager = match Stager::new(config) {
            Ok(stager) => stager,
            Err(e) => {
                println!("skipped: {e}");
                return;
            }
        };
        runtime.block_on(async {
            if pooled {
                let deadline = Instant::now() + Duration::from_secs(30);
                while stager.ready_filesystems(DISK_MB) < 2 * DRAIN_PARALLEL
                    && Instant::now() < deadline
                {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            let mut whole = Vec::new();
            for run in 0..WARMUP + RUNS {
                let started = Instant::now();
                let name = format!("one-{run}");
                stage(&stager, &name, scratch.path(), &app, &buildpack).await;
                whole.push(started.elapsed().as_secs_f64() * 1000.0);
                if run + 1 == WARMUP {
                    times.take();
                    whole.clear();
                }
            }
            whole.sort_by(f64::total_cmp);
            let label_one = format!(
                "{label}, one at a time (whole staging median {:.1} ms)",
                whole[whole.len() / 2]
            );
            report(&label_one, times.take());
            let next = std::sync::atomic::AtomicUsize::new(0);
            let worker = || async {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if n >= DRAIN_STAGINGS {
                        return;
                    }
                    stage(
                        &stager,
                        &format!("drain-{n}"),
                        scratch.path(),
                        &app,
                        &buildpack,
                    )
                    .await;
                }
            };
            let started = Instant::now();
            futures::future::join_all((0..DRAIN_PARALLEL).map(|_| worker())).await;
            let rate = DRAIN_STAGINGS as f64 / started.elapsed().as_secs_f64();
            report(
                &format!("{label}, {DRAIN_PARALLEL} at a time ({rate:.1} stagings/s)"),
                times.take(),
            );
        });
    }
}

async fn stage(stager: &Stager, name: &str, scratch: &Path, app: &Path, buildpack: &Path) {
    let request = StagingRequest {
        staging_guid: name.to_string(),
        app_bits: app.to_path_buf(),
        buildpacks: vec![BuildpackSource::Admin {
            key: "noop".into(),
            zip: buildpack.to_path_buf(),
        }],
        skip_detect: false,
        environment: vec![],
        memory_mb: 1024,
        disk_mb: DISK_MB,
        stack: StackRoot::HostDefault,
        previous_cache: None,
        output_dir: scratch.join(format!("out-{name}")),
    };
    let sink = VecSink::new();
    if let Err(failure) = stager.stage(request, &sink).await {
        panic!("staging failed: {failure}\n{}", sink.text());
    }
}

fn report(label: &str, prepared: Vec<Prepared>) {
    let mut ms: Vec<f64> = prepared.iter().map(|(ms, _)| *ms).collect();
    ms.sort_by(f64::total_cmp);
    let pooled = prepared.iter().filter(|(_, pooled)| *pooled).count();
    println!(
        "{label}: prepare median {:.1} ms, p90 {:.1} ms ({} stagings, {pooled} on a pooled filesystem)",
        ms[ms.len() / 2],
        ms[ms.len() * 9 / 10],
        ms.len()
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
