//! `ladle-builder`: stages an app with v2 buildpacks inside the staging container, behaving
//! like Cloud Foundry's buildpackapplifecycle `builder` (same flags, phases, outputs and exit
//! codes). Synchronous on purpose: it runs shell scripts and writes files, nothing more.

pub mod error;
pub mod fetch;
pub mod flags;
pub mod locate;
pub mod metadata;
pub mod package;
pub mod processes;
pub mod script;
pub mod stage;

pub use error::BuildError;
pub use locate::buildpack_dir_name;

use ladle_contract::exit_codes;

use crate::flags::FlagError;
use crate::stage::Staging;

/// Environment variable that enables `file://` git buildpack URLs like `-allowFileGitUrls`.
pub const ALLOW_FILE_GIT_URLS_ENV: &str = "LADLE_ALLOW_FILE_GIT_URLS";

/// Parses the arguments (without the program name), stages, and returns the exit code.
pub fn main_with_args(args: Vec<String>) -> i32 {
    let env_allows = std::env::var(ALLOW_FILE_GIT_URLS_ENV).is_ok_and(|v| v == "1");
    let config = match flags::parse(args, env_allows) {
        Ok(config) => config,
        Err(FlagError::Help) => {
            eprint!("{}", flags::usage());
            return 0;
        }
        Err(error @ FlagError::Usage(_)) => {
            eprintln!("{error}");
            eprint!("{}", flags::usage());
            return exit_codes::USAGE;
        }
        Err(error @ FlagError::Missing(_)) => {
            eprintln!("{error}");
            eprint!("{}", flags::usage());
            return exit_codes::OTHER;
        }
    };
    run(&config)
}

/// Stages with a parsed configuration; result.json is written whatever happens.
pub fn run(config: &flags::Config) -> i32 {
    let mut staging = Staging::new(config);
    let (result, code) = match staging.run() {
        Ok(result) => (result, 0),
        Err(error) => {
            eprintln!("{error}");
            (
                stage::failure_result(staging.lifecycle_metadata(), &error),
                error.exit_code(),
            )
        }
    };
    if let Err(error) = metadata::write_json_atomically(&config.output_metadata, &result) {
        eprintln!(
            "Failed to write {}: {error}",
            config.output_metadata.display()
        );
        return if code == 0 { exit_codes::OTHER } else { code };
    }
    code
}
