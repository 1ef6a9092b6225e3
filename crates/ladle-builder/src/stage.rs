//! The staging run, phase by phase as CF's builder does it: make directories, fetch URL
//! buildpacks, clean the cache, detect or supply, finalize or compile, release, write metadata,
//! package. `Staging` remembers what is known so far so a failure can still be described in
//! result.json.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ladle_contract::{
    BuildpackDetails, LifecycleMetadata, Phase, StagingDetails, StagingFailure, StagingResult,
};
use tempfile::TempDir;

use crate::error::BuildError;
use crate::fetch;
use crate::flags::Config;
use crate::locate::{self, buildpack_dir_name};
use crate::metadata::{self, StagingInfo};
use crate::package;
use crate::processes::{self, Process, ProcessSummary};
use crate::script::{Buildpack, Script};

pub struct Staging<'a> {
    config: &'a Config,
    contents: Option<TempDir>,
    detected: Option<Detected>,
}

/// The buildpack detect mode chose and what its `bin/detect` printed.
struct Detected {
    key: String,
    output: String,
}

impl<'a> Staging<'a> {
    pub fn new(config: &'a Config) -> Self {
        Staging {
            config,
            contents: None,
            detected: None,
        }
    }

    /// Runs every phase; on success the droplet, cache and `staging_info.yml` exist and the
    /// returned result is ready to be written as result.json.
    pub fn run(&mut self) -> Result<StagingResult, BuildError> {
        self.make_directories()?;
        if fetch::any_to_fetch(self.config) {
            announce(Phase::Download);
            fetch::fetch_all(self.config)?;
        }
        self.clean_cache_dir()?;
        let final_buildpack = if self.config.skip_detect {
            self.run_supply_buildpacks()?
        } else {
            self.detect()?
        };
        self.run_final(&final_buildpack)?;
        announce(Phase::Release);
        let summary = self.processes(&final_buildpack)?;
        warn_without_web(&summary);
        let lifecycle = self.lifecycle_metadata();
        self.write_staging_info(&summary, &lifecycle)?;
        announce(Phase::Package);
        self.package()?;
        Ok(StagingResult {
            lifecycle_type: "buildpack".into(),
            execution_metadata: String::new(),
            process_types: summary.process_types,
            processes: summary.processes,
            sidecars: summary.sidecars,
            lifecycle_metadata: lifecycle,
        })
    }

    fn supply_keys(&self) -> &[String] {
        let order = &self.config.buildpack_order;
        if self.config.skip_detect {
            &order[..order.len() - 1]
        } else {
            &[]
        }
    }

    /// CF's `DepsIndex`: zero-padded to the digit count of the number of deps folders.
    fn deps_index(&self, index: usize) -> String {
        let width = (self.supply_keys().len() + 1).to_string().len();
        format!("{index:0width$}")
    }

    fn contents_dir(&self) -> &Path {
        self.contents
            .as_ref()
            .expect("contents dir is made first")
            .path()
    }

    fn deps_dir(&self) -> PathBuf {
        self.contents_dir().join("deps")
    }

    fn supply_cache_dir(&self, key: &str) -> PathBuf {
        self.config
            .build_artifacts_cache_dir
            .join(buildpack_dir_name(key))
    }

    fn final_cache_dir(&self) -> PathBuf {
        self.config.build_artifacts_cache_dir.join("final")
    }

    fn make_directories(&mut self) -> Result<(), BuildError> {
        let config = self.config;
        for output in [&config.output_droplet, &config.output_metadata] {
            create_dir_all(output.parent().unwrap_or(Path::new("/")))?;
        }
        create_dir_all(&self.final_cache_dir())?;
        for key in self.supply_keys() {
            create_dir_all(&self.supply_cache_dir(key))?;
        }
        let contents = tempfile::Builder::new()
            .prefix("contents")
            .tempdir()
            .map_err(|source| BuildError::Setup {
                action: "create temp dir in",
                path: std::env::temp_dir(),
                source,
            })?;
        // The droplet's `./` entry takes this folder's mode; 0700 would lock out a reader that
        // extracts the droplet as another user.
        let open = fs::Permissions::from_mode(0o755);
        fs::set_permissions(contents.path(), open).map_err(|source| BuildError::Setup {
            action: "chmod",
            path: contents.path().to_path_buf(),
            source,
        })?;
        self.contents = Some(contents);
        for index in 0..=self.supply_keys().len() {
            create_dir_all(&self.deps_dir().join(self.deps_index(index)))?;
        }
        create_dir_all(&self.contents_dir().join("profile.d"))
    }

    /// Keeps `final/` and the supply buildpacks' folders; anything else is an older cache layout.
    fn clean_cache_dir(&self) -> Result<(), BuildError> {
        let cache = &self.config.build_artifacts_cache_dir;
        let mut keep = vec![self.final_cache_dir()];
        keep.extend(
            self.supply_keys()
                .iter()
                .map(|key| self.supply_cache_dir(key)),
        );
        let setup_error = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| BuildError::Setup {
                action,
                path,
                source,
            }
        };
        for entry in fs::read_dir(cache).map_err(setup_error("read", cache))? {
            let path = entry.map_err(setup_error("read", cache))?.path();
            if keep.contains(&path) {
                continue;
            }
            let is_dir = fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
            let removed = if is_dir {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            removed.map_err(setup_error("remove", &path))?;
        }
        Ok(())
    }

    fn detect(&mut self) -> Result<Buildpack, BuildError> {
        announce(Phase::Detect);
        for key in &self.config.buildpack_order {
            let Some(buildpack) = self.resolve_for_detect(key) else {
                continue;
            };
            let build_dir = self.config.build_dir.as_path();
            match buildpack.run_captured(Script::Detect, &[build_dir]) {
                Ok(stdout) => {
                    let output = String::from_utf8_lossy(&stdout)
                        .trim_end_matches(['\r', '\n'])
                        .to_string();
                    self.detected = Some(Detected {
                        key: key.clone(),
                        output,
                    });
                    return Ok(buildpack);
                }
                Err(crate::script::ScriptError::Exited { .. }) => {}
                Err(other) => eprintln!("{other}"),
            }
        }
        Err(BuildError::NoneDetected)
    }

    /// A buildpack worth running `bin/detect` for; problems are reported and the buildpack skipped.
    fn resolve_for_detect(&self, key: &str) -> Option<Buildpack> {
        let dir = locate::resolve(self.config, key)
            .map_err(|e| eprintln!("{e}"))
            .ok()?;
        let buildpack = Buildpack {
            key: key.to_string(),
            dir,
        };
        if !buildpack.has(Script::Detect) {
            eprintln!("Skipping buildpack {key}: it has no bin/detect");
            return None;
        }
        if !buildpack.is_executable(Script::Detect) {
            eprintln!("WARNING: buildpack script '/bin/detect' is not executable");
            return None;
        }
        Some(buildpack)
    }

    /// skipDetect mode: every buildpack but the last must supply; returns the last one.
    fn run_supply_buildpacks(&self) -> Result<Buildpack, BuildError> {
        let supply = self.resolve_supply_buildpacks()?;
        if !supply.is_empty() {
            announce(Phase::Supply);
        }
        let deps_dir = self.deps_dir();
        for (index, buildpack) in supply.iter().enumerate() {
            let cache = self.supply_cache_dir(&buildpack.key);
            let deps_index = PathBuf::from(self.deps_index(index));
            let args = [
                self.config.build_dir.as_path(),
                &cache,
                &deps_dir,
                &deps_index,
            ];
            buildpack
                .run(Script::Supply, &args)
                .map_err(BuildError::Supply)?;
        }
        let final_key = self
            .config
            .buildpack_order
            .last()
            .expect("order is never empty");
        let dir =
            locate::resolve(self.config, final_key).map_err(BuildError::SupplyUnresolvable)?;
        Ok(Buildpack {
            key: final_key.clone(),
            dir,
        })
    }

    fn resolve_supply_buildpacks(&self) -> Result<Vec<Buildpack>, BuildError> {
        self.supply_keys()
            .iter()
            .map(|key| {
                let dir =
                    locate::resolve(self.config, key).map_err(BuildError::SupplyUnresolvable)?;
                let buildpack = Buildpack {
                    key: key.clone(),
                    dir,
                };
                if !buildpack.has(Script::Supply) {
                    return Err(BuildError::NoSupplyScript { key: key.clone() });
                }
                Ok(buildpack)
            })
            .collect()
    }

    /// The last buildpack: `supply` + `finalize` when it has finalize, else legacy `compile`.
    fn run_final(&self, buildpack: &Buildpack) -> Result<(), BuildError> {
        let deps_dir = self.deps_dir();
        let deps_index = self.deps_index(self.supply_keys().len());
        let cache = self.final_cache_dir();
        let build_dir = self.config.build_dir.as_path();
        let index = PathBuf::from(&deps_index);
        if buildpack.has(Script::Finalize) {
            if buildpack.has(Script::Supply) {
                announce(Phase::Supply);
                let args = [build_dir, &cache, &deps_dir, &index];
                buildpack
                    .run(Script::Supply, &args)
                    .map_err(BuildError::FinalSupply)?;
            }
            announce(Phase::Finalize);
            let profile_dir = self.contents_dir().join("profile.d");
            let args = [build_dir, &cache, &deps_dir, &index, &profile_dir];
            return buildpack
                .run(Script::Finalize, &args)
                .map_err(BuildError::Finalize);
        }
        announce(Phase::Compile);
        if !self.supply_keys().is_empty() {
            eprintln!(
                "Warning: the last buildpack is not compatible with multi-buildpack apps and cannot \
                 make use of any dependencies supplied by the buildpacks specified before it"
            );
        }
        let unused = deps_dir.join(&deps_index);
        fs::remove_dir_all(&unused).map_err(|source| BuildError::CompileSetup {
            context: "cannot remove unused deps dir",
            path: unused.clone(),
            source,
        })?;
        buildpack
            .run(Script::Compile, &[build_dir, &cache])
            .map_err(BuildError::Compile)
    }

    /// supply launch.yml < final launch.yml or bin/release < Procfile (read after the build).
    fn processes(&self, final_buildpack: &Buildpack) -> Result<ProcessSummary, BuildError> {
        let mut merged = Vec::new();
        for index in 0..self.supply_keys().len() {
            if let Some(found) = self.launch_yml(index)? {
                merged = processes::merge(merged, found);
            }
        }
        // CF looks up the final launch.yml at `len(order)-1`, unpadded, even in detect mode.
        let final_index = self.config.buildpack_order.len() - 1;
        let from_final = match self.launch_yml(final_index)? {
            Some(found) => found,
            None => self.release(final_buildpack)?,
        };
        merged = processes::merge(merged, from_final);
        merged = processes::merge(merged, self.procfile()?);
        Ok(processes::summarize(merged))
    }

    /// `deps/<index>/launch.yml`, looked up with the unpadded index as CF does.
    fn launch_yml(&self, index: usize) -> Result<Option<Vec<Process>>, BuildError> {
        let path = self.deps_dir().join(index.to_string()).join("launch.yml");
        if !path.is_file() {
            return Ok(None);
        }
        let text = fs::read_to_string(&path).map_err(|e| BuildError::LaunchYml {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let parsed =
            processes::parse_launch_yml(&text).map_err(|reason| BuildError::LaunchYml {
                path: path.clone(),
                reason,
            })?;
        Ok(Some(parsed))
    }

    fn release(&self, buildpack: &Buildpack) -> Result<Vec<Process>, BuildError> {
        let stdout = buildpack
            .run_captured(Script::Release, &[self.config.build_dir.as_path()])
            .map_err(BuildError::Release)?;
        let text = String::from_utf8_lossy(&stdout);
        processes::parse_release(&text).map_err(BuildError::ReleaseYaml)
    }

    fn procfile(&self) -> Result<Vec<Process>, BuildError> {
        match fs::read_to_string(self.config.build_dir.join("Procfile")) {
            Ok(text) => processes::parse_procfile(&text).ok_or(BuildError::ProcfileYaml),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(BuildError::ProcfileRead(e)),
        }
    }

    /// The buildpacks result.json lists: all order keys in skipDetect mode, the detected one (if
    /// any yet) in detect mode.
    fn listed_keys(&self) -> Vec<&String> {
        if self.config.skip_detect {
            self.config.buildpack_order.iter().collect()
        } else {
            self.detected.iter().map(|d| &d.key).collect()
        }
    }

    /// What result.json says about buildpacks at this point (in detect mode the detected one is
    /// named by its detect output when config.yml has no name).
    pub fn lifecycle_metadata(&self) -> LifecycleMetadata {
        let mut buildpacks: Vec<_> = self
            .listed_keys()
            .into_iter()
            .enumerate()
            .map(|(index, key)| {
                let config_yml = self.contents.as_ref().map(|c| {
                    c.path()
                        .join("deps")
                        .join(self.deps_index(index))
                        .join("config.yml")
                });
                match config_yml {
                    Some(path) => metadata::read_buildpack_metadata(key, &path),
                    None => ladle_contract::BuildpackMetadata {
                        key: key.clone(),
                        ..Default::default()
                    },
                }
            })
            .collect();
        if let (Some(detected), Some(first)) = (&self.detected, buildpacks.first_mut()) {
            if first.name.is_empty() {
                first.name = detected.output.clone();
            }
        }
        let last = buildpacks.last().cloned().unwrap_or_default();
        LifecycleMetadata {
            buildpack_key: last.key,
            detected_buildpack: last.name,
            buildpacks,
        }
    }

    /// ladle-staging.json: result.json's buildpacks with what detect printed, and the failure.
    pub fn details(&self, failure: Option<&BuildError>) -> StagingDetails {
        let buildpacks = self
            .listed_keys()
            .into_iter()
            .map(|key| BuildpackDetails {
                key: key.clone(),
                detect_output: self
                    .detected
                    .as_ref()
                    .filter(|detected| &detected.key == key)
                    .map(|detected| detected.output.clone()),
            })
            .collect();
        StagingDetails {
            buildpacks,
            failure: failure.map(|error| StagingFailure {
                exit_code: error.exit_code(),
                message: error.to_string(),
            }),
        }
    }

    fn write_staging_info(
        &self,
        summary: &ProcessSummary,
        lifecycle: &LifecycleMetadata,
    ) -> Result<(), BuildError> {
        let last = lifecycle.buildpacks.last();
        let info = StagingInfo {
            detected_buildpack: &lifecycle.detected_buildpack,
            start_command: summary.process_types.get("web").map_or("", String::as_str),
            config: last.and_then(|b| b.config.as_ref()),
        };
        let path = self.contents_dir().join("staging_info.yml");
        metadata::write_json_atomically(&path, &info).map_err(|source| BuildError::Output {
            what: "staging info",
            path,
            source,
        })
    }

    fn package(&self) -> Result<(), BuildError> {
        let contents = self.contents_dir();
        for empty in ["tmp", "logs"] {
            create_dir_all(&contents.join(empty))?;
        }
        let config = self.config;
        let droplet_error = |source| BuildError::Output {
            what: "droplet",
            path: config.output_droplet.clone(),
            source,
        };
        package::write_tgz(
            &config.output_droplet,
            contents,
            &[("app", &config.build_dir)],
        )
        .map_err(droplet_error)?;
        let cache_output = &config.output_build_artifacts_cache;
        create_dir_all(cache_output.parent().unwrap_or(Path::new("/")))?;
        package::write_tgz(cache_output, &config.build_artifacts_cache_dir, &[]).map_err(|source| {
            BuildError::Output {
                what: "build artifacts cache",
                path: cache_output.clone(),
                source,
            }
        })
    }
}

fn create_dir_all(path: &Path) -> Result<(), BuildError> {
    fs::create_dir_all(path).map_err(|source| BuildError::Setup {
        action: "mkdir",
        path: path.to_path_buf(),
        source,
    })
}

/// Phase marker on its own line on stdout and on stderr, flushed before any script writes.
/// The stager reads the two pipes concurrently, so each stream carries its own markers.
fn announce(phase: Phase) {
    let marker = phase.marker();
    let mut stdout = io::stdout().lock();
    let _ = writeln!(stdout, "{marker}");
    let _ = stdout.flush();
    let _ = writeln!(io::stderr().lock(), "{marker}");
}

fn warn_without_web(summary: &ProcessSummary) {
    if summary
        .process_types
        .get("web")
        .is_none_or(String::is_empty)
    {
        eprintln!("No start command specified by buildpack or via Procfile.");
        eprintln!("App will not start unless a command is provided at runtime.");
    }
}

/// result.json for a failed run: what was known about the buildpacks (CF's builder writes the
/// same once a buildpack was chosen; the failure itself goes to ladle-staging.json).
pub fn failure_result(lifecycle: LifecycleMetadata) -> StagingResult {
    StagingResult {
        lifecycle_type: "buildpack".into(),
        lifecycle_metadata: lifecycle,
        ..StagingResult::default()
    }
}
