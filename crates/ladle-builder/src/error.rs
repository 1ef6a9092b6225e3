//! Every way staging can fail, each mapped to its exit code by variant (never by message text).
//! The messages keep Cloud Foundry's leading phrases ("Failed to compile droplet", ...) so people
//! and tools that know CF's logs recognise them.

use std::io;
use std::path::PathBuf;

use ladle_contract::exit_codes;

use crate::fetch::FetchError;
use crate::locate::LocateError;
use crate::script::ScriptError;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("Failed to set up filesystem when generating droplet: {action} {path}: {source}")]
    Setup {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    #[error(transparent)]
    Fetch(#[from] FetchError),

    #[error("None of the buildpacks detected a compatible application")]
    NoneDetected,

    #[error(
        "Error: one of the buildpacks chosen to supply dependencies does not support \
         multi-buildpack apps: {key} has no bin/supply"
    )]
    NoSupplyScript { key: String },

    #[error("Failed to run all supply scripts: {0}")]
    SupplyUnresolvable(LocateError),

    #[error("Failed to run all supply scripts: {0}")]
    Supply(ScriptError),

    /// The final buildpack's own `bin/supply` (run before its finalize). CF reports it under
    /// "Failed to compile droplet" and exits 223, not 225.
    #[error("Failed to compile droplet: Failed to run all supply scripts: {0}")]
    FinalSupply(ScriptError),

    #[error("Failed to compile droplet: Failed to run finalize script: {0}")]
    Finalize(ScriptError),

    #[error("Failed to compile droplet: {0}")]
    Compile(ScriptError),

    #[error("Failed to compile droplet: {context} {path}: {source}")]
    CompileSetup {
        context: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    #[error("Failed to build droplet release: {0}")]
    Release(ScriptError),

    #[error("Failed to build droplet release: buildpack's release output invalid: {0}")]
    ReleaseYaml(String),

    #[error("Failed to read {path}: {reason}")]
    LaunchYml { path: PathBuf, reason: String },

    #[error("Failed to read command from Procfile: invalid YAML")]
    ProcfileYaml,

    #[error("Failed to read command from Procfile: {0}")]
    ProcfileRead(io::Error),

    #[error("Failed to write {what} {path}: {source}")]
    Output {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

impl BuildError {
    pub fn exit_code(&self) -> i32 {
        match self {
            BuildError::NoneDetected => exit_codes::DETECT_FAILED,
            BuildError::NoSupplyScript { .. }
            | BuildError::SupplyUnresolvable(_)
            | BuildError::Supply(_) => exit_codes::SUPPLY_FAILED,
            BuildError::FinalSupply(_)
            | BuildError::Finalize(_)
            | BuildError::Compile(_)
            | BuildError::CompileSetup { .. } => exit_codes::COMPILE_FAILED,
            BuildError::Release(_) | BuildError::ReleaseYaml(_) => exit_codes::RELEASE_FAILED,
            BuildError::Setup { .. }
            | BuildError::Fetch(_)
            | BuildError::LaunchYml { .. }
            | BuildError::ProcfileYaml
            | BuildError::ProcfileRead(_)
            | BuildError::Output { .. } => exit_codes::OTHER,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::Script;

    fn exited(script: Script) -> ScriptError {
        ScriptError::Exited {
            key: "bp".into(),
            script,
            code: 3,
        }
    }

    #[test]
    fn codes_follow_the_variant_not_the_text() {
        assert_eq!(BuildError::NoneDetected.exit_code(), 222);
        assert_eq!(
            BuildError::Compile(exited(Script::Compile)).exit_code(),
            223
        );
        assert_eq!(
            BuildError::Finalize(exited(Script::Finalize)).exit_code(),
            223
        );
        assert_eq!(
            BuildError::FinalSupply(exited(Script::Supply)).exit_code(),
            223
        );
        assert_eq!(
            BuildError::Release(exited(Script::Release)).exit_code(),
            224
        );
        assert_eq!(BuildError::ReleaseYaml("x".into()).exit_code(), 224);
        assert_eq!(BuildError::Supply(exited(Script::Supply)).exit_code(), 225);
        assert_eq!(
            BuildError::NoSupplyScript { key: "bp".into() }.exit_code(),
            225
        );
        assert_eq!(BuildError::ProcfileYaml.exit_code(), 1);
    }

    #[test]
    fn messages_name_the_buildpack_and_status() {
        let message = BuildError::Compile(exited(Script::Compile)).to_string();
        assert_eq!(
            message,
            "Failed to compile droplet: bp bin/compile exited with status 3"
        );
    }
}
