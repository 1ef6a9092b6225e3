//! What a process starts with, as Cloud Controller creates one.

/// The process type every app has, whose guid is the app's own.
pub const WEB: &str = "web";
pub const DEFAULT_MEMORY_MB: i64 = 1024;
pub const DEFAULT_DISK_MB: i64 = 1024;
