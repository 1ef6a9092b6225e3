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

/// Stages with a parsed configuration; result.json and ladle-staging.json are written whatever
/// happens.
pub fn run(config: &flags::Config) -> i32 {
    let mut staging = Staging::new(config);
    let (result, failure) = match staging.run() {
        Ok(result) => (result, None),
        Err(error) => {
            eprintln!("{error}");
            (
                stage::failure_result(staging.lifecycle_metadata()),
                Some(error),
            )
        }
    };
    let details = staging.details(failure.as_ref());
    let code = failure.as_ref().map_or(0, BuildError::exit_code);
    let details_path = metadata::staging_details_path(&config.output_metadata);
    let written = write_output("result", &config.output_metadata, &result)
        .and_then(|()| write_output("staging details", &details_path, &details));
    if let Err(error) = written {
        eprintln!("{error}");
        return if code == 0 { exit_codes::OTHER } else { code };
    }
    code
}

fn write_output<T: serde::Serialize>(
    what: &'static str,
    path: &std::path::Path,
    value: &T,
) -> Result<(), BuildError> {
    metadata::write_json_atomically(path, value).map_err(|source| BuildError::Output {
        what,
        path: path.to_path_buf(),
        source,
    })
}
