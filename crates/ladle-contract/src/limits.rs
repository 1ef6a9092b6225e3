//! Limits that the staging container enforces and that ladle's views announce, so that what an
//! app is told (`VCAP_APPLICATION.limits.fds`) is what it gets (`RLIMIT_NOFILE`).

/// Open files a staging (and an app instance) may have: Cloud Controller's
/// `instance_file_descriptor_limit` and `minimum_staging_file_descriptor_limit`, both 16384.
pub const FILE_DESCRIPTOR_LIMIT: u64 = 16384;
