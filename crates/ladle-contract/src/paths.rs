//! Where the stager puts things inside the staging container. The workspace is the one
//! read-write mount (besides `/tmp`); the builder binary is mounted read-only.

/// The builder binary inside the container.
pub const BUILDER: &str = "/lifecycle/builder";
/// Root of the read-write workspace mount.
pub const WORKSPACE: &str = "/workspace";
/// Extracted app bits (`-buildDir`).
pub const BUILD_DIR: &str = "/workspace/app";
/// Admin buildpacks, one folder per key (`-buildpacksDir`).
pub const BUILDPACKS_DIR: &str = "/workspace/buildpacks";
/// Where URL buildpacks are downloaded or cloned (`-buildpacksDownloadDir`).
pub const BUILDPACKS_DOWNLOAD_DIR: &str = "/workspace/buildpackdownloads";
/// The previous build-artifacts cache, extracted (`-buildArtifactsCacheDir`).
pub const CACHE_DIR: &str = "/workspace/cache";
/// Output folder: droplet, result.json and the new cache land here.
pub const OUTPUT_DIR: &str = "/workspace/output";
/// `-outputDroplet`.
pub const OUTPUT_DROPLET: &str = "/workspace/output/droplet.tgz";
/// `-outputMetadata`.
pub const OUTPUT_METADATA: &str = "/workspace/output/result.json";
/// File name of ladle's staging details (`details::StagingDetails`), which the builder writes
/// in the folder of `-outputMetadata`: `/workspace/output/ladle-staging.json`.
pub const STAGING_DETAILS_FILE: &str = "ladle-staging.json";
/// `-outputBuildArtifactsCache`.
pub const OUTPUT_CACHE: &str = "/workspace/output/cache.tgz";
/// Home of the unprivileged staging user.
pub const HOME: &str = "/home/vcap";
/// The unprivileged staging user, as in Cloud Foundry (`vcap`).
pub const STAGING_UID: u32 = 2000;
pub const STAGING_GID: u32 = 2000;

/// Folder name of a buildpack key under the buildpacks dirs: `%016x` of xxhash64 (seed 0),
/// Cloud Foundry's `BuildpackPath`. The stager extracts admin buildpacks under this name and
/// the builder looks them up (and names supply buildpacks' cache folders) by it.
pub fn buildpack_dir_name(key: &str) -> String {
    format!("{:016x}", xxhash_rust::xxh64::xxh64(key.as_bytes(), 0))
}

/// The host's copies of the shared libraries the builder links against, mounted read-only when
/// the stack is another root filesystem, so the builder runs whatever libc the stack has.
pub const BUILDER_LIB_DIR: &str = "/lifecycle/lib";
