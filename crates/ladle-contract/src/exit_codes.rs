//! Builder exit codes, as Cloud Foundry's builder uses them. The stager derives the failure type
//! from these numbers only, never from message text.

/// Anything not covered below: download/clone failure, bad Procfile, packaging failure.
pub const OTHER: i32 = 1;
/// Unknown or malformed command-line flag.
pub const USAGE: i32 = 2;
/// No buildpack's `bin/detect` exited 0 (CC: NoAppDetectedError).
pub const DETECT_FAILED: i32 = 222;
/// `bin/compile` or `bin/finalize` failed (CC: BuildpackCompileFailed).
pub const COMPILE_FAILED: i32 = 223;
/// `bin/release` failed or printed YAML we cannot read (CC: BuildpackReleaseFailed).
pub const RELEASE_FAILED: i32 = 224;
/// A non-final buildpack's `bin/supply` failed or is missing (CC: StagingError).
pub const SUPPLY_FAILED: i32 = 225;
