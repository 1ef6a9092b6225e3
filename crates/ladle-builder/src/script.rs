//! Running a buildpack's `bin/*` scripts. They get the builder's environment and cwd unchanged
//! and no stdin; their output goes straight to the builder's stdout/stderr except where the
//! builder needs the text (detect's name, release's YAML).

use std::fmt;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Detect,
    Supply,
    Finalize,
    Compile,
    Release,
}

impl Script {
    pub fn file_name(self) -> &'static str {
        match self {
            Script::Detect => "detect",
            Script::Supply => "supply",
            Script::Finalize => "finalize",
            Script::Compile => "compile",
            Script::Release => "release",
        }
    }
}

impl fmt::Display for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bin/{}", self.file_name())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("{key} {script} exited with status {code}")]
    Exited {
        key: String,
        script: Script,
        code: i32,
    },
    #[error("{key} {script} was killed by signal {signal}")]
    Killed {
        key: String,
        script: Script,
        signal: i32,
    },
    #[error("could not run {key} {script} ({path}): {source}")]
    Spawn {
        key: String,
        script: Script,
        path: PathBuf,
        source: io::Error,
    },
}

/// One buildpack, resolved on disk.
#[derive(Debug, Clone)]
pub struct Buildpack {
    pub key: String,
    pub dir: PathBuf,
}

impl Buildpack {
    pub fn script_path(&self, script: Script) -> PathBuf {
        self.dir.join("bin").join(script.file_name())
    }

    pub fn has(&self, script: Script) -> bool {
        self.script_path(script).is_file()
    }

    /// True when the script exists with at least one execute bit.
    pub fn is_executable(&self, script: Script) -> bool {
        std::fs::metadata(self.script_path(script))
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    }

    /// Runs a script with stdout and stderr inherited.
    pub fn run(&self, script: Script, args: &[&Path]) -> Result<(), ScriptError> {
        let status = self.command(script, args).stdout(Stdio::inherit()).status();
        let status = status.map_err(|source| self.spawn_error(script, source))?;
        self.check(script, status)
    }

    /// Runs a script capturing stdout (stderr inherited); returns stdout even on failure so the
    /// caller can decide.
    pub fn run_captured(&self, script: Script, args: &[&Path]) -> Result<Vec<u8>, ScriptError> {
        let output = self.command(script, args).stdout(Stdio::piped()).output();
        let output = output.map_err(|source| self.spawn_error(script, source))?;
        self.check(script, output.status)?;
        Ok(output.stdout)
    }

    fn command(&self, script: Script, args: &[&Path]) -> Command {
        // Our own buffered output must reach the log before the script's, which writes to the
        // same descriptors directly.
        let _ = io::stdout().flush();
        let mut command = Command::new(self.script_path(script));
        command
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit());
        command
    }

    fn spawn_error(&self, script: Script, source: io::Error) -> ScriptError {
        ScriptError::Spawn {
            key: self.key.clone(),
            script,
            path: self.script_path(script),
            source,
        }
    }

    fn check(&self, script: Script, status: ExitStatus) -> Result<(), ScriptError> {
        let key = self.key.clone();
        match (status.code(), status.signal()) {
            (Some(0), _) => Ok(()),
            (Some(code), _) => Err(ScriptError::Exited { key, script, code }),
            (None, Some(signal)) => Err(ScriptError::Killed {
                key,
                script,
                signal,
            }),
            (None, None) => Err(ScriptError::Exited {
                key,
                script,
                code: -1,
            }),
        }
    }
}
