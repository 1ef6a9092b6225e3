//! The one policy for archives from untrusted hands: app zips and admin buildpack zips checked at
//! upload (`ladle`), the same zips and build caches unpacked as root before staging
//! (`ladle-stager`), and zip URL buildpacks unpacked inside the container (`ladle-builder`).
//!
//! Each reader lists an archive's entries (name, kind, link target, mode, declared size) and
//! hands the list to [`check`], a pure function that accepts the whole archive or names the
//! first entry it refuses and why ([`Checker`] is the same, an entry at a time, for a tgz read
//! as a stream). The readers then write only what the policy placed, where it placed it, so
//! they cannot disagree: what uploads as READY unpacks at staging, and what staging would
//! refuse is refused at upload first. Zips are listed by [`zip_file`], the one zip reader all
//! three share; the stager lists its tgz caches itself. How bytes reach the disk safely (never
//! through a symlink, O_EXCL, ownership) is each writer's own business.
//!
//! The rules:
//! - Names are relative: no leading `/`, no drive letter, no `..` part anywhere (even one that
//!   would come back inside), no NUL, parts of at most 255 bytes, at most 3072 bytes in all.
//!   In zips a backslash separates folders, as Windows tools write it and `unzip` reads it; in
//!   tars it is an ordinary character, as every tar reads it.
//! - Each path appears once (a folder may be repeated); nothing lies under a file or under a
//!   symlink, so nothing is ever written through a link.
//! - A symlink's target is not absolute and, resolved as the kernel would from the link's
//!   folder once every entry is known (following the archive's other symlinks, at most 40 of
//!   them), stays inside the root. Loops are refused.
//! - Tar hard links name a file earlier in the archive and count its size again; devices,
//!   fifos and sockets are refused.
//! - Permission bits are kept without set-uid, set-gid and sticky bits.
//! - At most [`MAX_ENTRIES`] entries and the caller's byte limit over the declared sizes.

#[cfg(feature = "cases")]
pub mod cases;
mod policy;
mod resolve;
pub mod zip_file;

pub use policy::{
    check, Checker, Entry, Format, Kind, Limits, Placed, Placement, Problem, Refusal, MAX_ENTRIES,
    MAX_LINK_HOPS, MAX_LINK_TARGET_BYTES, MAX_NAME_BYTES, MAX_PATH_BYTES,
};
