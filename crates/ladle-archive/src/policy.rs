//! The policy itself: entries in, a placement for each or the first refusal out.

use std::path::PathBuf;

use crate::resolve::{Added, LinkFailure, Tree};

/// Most entries an archive may hold. Every reader keeps the entry list in memory, so the count
/// is capped to keep memory flat (zip readers check it before reading the central directory).
pub const MAX_ENTRIES: u64 = 100_000;
/// Same limit the kernel uses for following symlinks in one lookup.
pub const MAX_LINK_HOPS: u32 = 40;
/// Longest symlink target `symlink(2)` accepts; real targets are far shorter.
pub const MAX_LINK_TARGET_BYTES: usize = 4095;
/// Longest name of one folder or file (`NAME_MAX`).
pub const MAX_NAME_BYTES: usize = 255;
/// Longest entry path: `PATH_MAX` (4096) less room for the folder the archive is unpacked into,
/// so a name that passes here can always be created there.
pub const MAX_PATH_BYTES: usize = 3072;

/// How much an archive may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_entries: u64,
    /// Over the declared sizes of every entry (a hard link counts its file again).
    pub max_bytes: u64,
}

impl Limits {
    pub const fn with_max_bytes(max_bytes: u64) -> Limits {
        Limits {
            max_entries: MAX_ENTRIES,
            max_bytes,
        }
    }

    /// Buildpack zips, admin uploads and zip URLs alike, may carry their dependencies (offline
    /// buildpacks run to a few GB), so their limit is generous; it still stops zip bombs.
    pub const BUILDPACK: Limits = Limits::with_max_bytes(8 * 1024 * 1024 * 1024);
}

/// How the archive format spells paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A backslash separates folders too: zips made by Windows tools use it, and `unzip`
    /// turns it into `/`.
    Zip,
    /// A backslash is an ordinary character of a name.
    Tar,
}

/// One entry as the archive describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name as stored, before any clean-up.
    pub name: String,
    pub kind: Kind,
    /// Unix mode as stored, if the archive has one (type bits may be included).
    pub mode: Option<u32>,
    /// Declared size of the contents (for a symlink, of its target).
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink {
        target: String,
    },
    /// A tar hard link to the entry named `target`.
    HardLink {
        target: String,
    },
    /// Device, fifo, socket or anything else that is not plain data.
    Special,
}

/// Where an accepted entry goes. Entries naming the root folder itself (`./`) have none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// Position of the entry in the list given to [`check`].
    pub index: usize,
    /// Relative path, normal parts only, never empty.
    pub path: PathBuf,
    pub kind: Placement,
    /// Permission bits to apply: the stored ones without set-id and sticky bits.
    pub mode: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    File {
        size: u64,
    },
    Dir,
    Symlink {
        target: String,
    },
    /// A copy of the file placed earlier at `source` (its `Placed::mode` is that file's).
    HardLink {
        source: PathBuf,
    },
}

/// Why an archive is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("has more than {max} entries")]
    TooManyEntries { max: u64 },
    #[error("expands to more than the limit of {} MB", .limit / (1024 * 1024))]
    TooLarge { limit: u64 },
    #[error("entry '{entry}' {problem}")]
    Entry { entry: String, problem: Problem },
}

impl Refusal {
    /// The refused entry's name as stored, when one entry is at fault.
    pub fn entry(&self) -> Option<&str> {
        match self {
            Refusal::Entry { entry, .. } => Some(entry),
            _ => None,
        }
    }
}

/// What is wrong with one entry. The words follow Cloud Controller's ("outside of root folder").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("has an absolute path, outside of root folder")]
    AbsolutePath,
    #[error("has '..' in its path")]
    ParentDir,
    #[error("has a name that cannot be used as a path")]
    UnusableName,
    #[error(
        "has a path longer than {MAX_PATH_BYTES} bytes or a part longer than {MAX_NAME_BYTES}"
    )]
    NameTooLong,
    #[error("names the root folder but is not a folder")]
    RootNotFolder,
    #[error("appears more than once, or as both a folder and something else")]
    Duplicate,
    #[error("lies under '{0}', which is a symlink")]
    UnderSymlink(String),
    #[error("lies under '{0}', which is not a folder")]
    UnderFile(String),
    #[error("is a symlink to '{0}', outside of root folder")]
    SymlinkEscapes(String),
    #[error("is a symlink to '{0}', which does not resolve within {MAX_LINK_HOPS} links")]
    SymlinkLoop(String),
    #[error("is a symlink whose target is empty, longer than {MAX_LINK_TARGET_BYTES} bytes or holds a NUL")]
    UnusableLinkTarget,
    #[error("is a hard link to '{0}', which is not a file earlier in the archive")]
    BadHardLink(String),
    #[error("is a device, fifo or socket")]
    Special,
}

/// Checks a whole archive's entries against the policy. On success every entry that is not the
/// root folder has a placement, in the order given.
pub fn check(entries: &[Entry], format: Format, limits: &Limits) -> Result<Vec<Placed>, Refusal> {
    let mut checker = Checker::new(format, limits);
    let mut plan = Vec::with_capacity(entries.len());
    for entry in entries {
        plan.extend(checker.add(entry)?);
    }
    checker.finish()?;
    Ok(plan)
}

/// [`check`] one entry at a time, for an archive read as a stream: each entry is judged as it
/// comes, where the symlinks lead once all are in. Whoever writes entries before `finish`
/// must never write through a symlink (`add` keeps the archive's own links out of every path).
pub struct Checker {
    format: Format,
    limits: Limits,
    tree: Tree,
    seen: u64,
    total: u64,
}

impl Checker {
    pub fn new(format: Format, limits: &Limits) -> Checker {
        Checker {
            format,
            limits: *limits,
            tree: Tree::default(),
            seen: 0,
            total: 0,
        }
    }

    /// The next entry in archive order: where it goes, or `None` for the root folder itself.
    pub fn add(&mut self, entry: &Entry) -> Result<Option<Placed>, Refusal> {
        let index = self.seen as usize;
        self.seen += 1;
        if self.seen > self.limits.max_entries {
            return Err(Refusal::TooManyEntries {
                max: self.limits.max_entries,
            });
        }
        let refuse = |problem| Refusal::Entry {
            entry: entry.name.clone(),
            problem,
        };
        let parts = path_parts(&entry.name, self.format).map_err(refuse)?;
        let (kind, size, mode) = match &entry.kind {
            Kind::File => (Placement::File { size: entry.size }, entry.size, None),
            Kind::Dir => (Placement::Dir, 0, None),
            Kind::Symlink { target } => {
                check_link_target(target).map_err(refuse)?;
                let kind = Placement::Symlink {
                    target: target.clone(),
                };
                (kind, entry.size, None)
            }
            Kind::HardLink { target } => {
                let bad = || refuse(Problem::BadHardLink(target.clone()));
                let source = path_parts(target, self.format).map_err(|_| bad())?;
                let (size, mode) = self.tree.file(&source).ok_or_else(bad)?;
                let kind = Placement::HardLink {
                    source: source.iter().collect(),
                };
                // One file under two names: the copy has the file's mode, whatever the link says.
                (kind, size, Some(mode))
            }
            Kind::Special => return Err(refuse(Problem::Special)),
        };
        let mode = mode.unwrap_or_else(|| permissions(&kind, entry.mode));
        self.total = self.total.saturating_add(size);
        if self.total > self.limits.max_bytes {
            return Err(Refusal::TooLarge {
                limit: self.limits.max_bytes,
            });
        }
        if parts.is_empty() {
            if kind == Placement::Dir {
                return Ok(None);
            }
            return Err(refuse(Problem::RootNotFolder));
        }
        let added = match &kind {
            Placement::Dir => Added::Dir,
            Placement::File { .. } | Placement::HardLink { .. } => Added::File { size, mode },
            Placement::Symlink { target } => Added::Symlink {
                name: &entry.name,
                target,
            },
        };
        self.tree.insert(&parts, added).map_err(refuse)?;
        Ok(Some(Placed {
            index,
            path: parts.iter().collect(),
            mode,
            kind,
        }))
    }

    /// Every symlink must lead inside the root, through the others, within the hop limit.
    pub fn finish(self) -> Result<(), Refusal> {
        self.tree.check_links().map_err(|(name, target, failure)| {
            let problem = match failure {
                LinkFailure::Escapes => Problem::SymlinkEscapes(target.to_string()),
                LinkFailure::TooManyLinks => Problem::SymlinkLoop(target.to_string()),
            };
            Refusal::Entry {
                entry: name.to_string(),
                problem,
            }
        })
    }
}

/// The name split into its normal parts; empty for the root folder itself (`./`).
fn path_parts(name: &str, format: Format) -> Result<Vec<&str>, Problem> {
    if name.contains('\0') {
        return Err(Problem::UnusableName);
    }
    let separators: &[char] = match format {
        Format::Zip => &['/', '\\'],
        Format::Tar => &['/'],
    };
    if name.starts_with(separators) || has_drive_prefix(name) {
        return Err(Problem::AbsolutePath);
    }
    let parts: Vec<&str> = name
        .split(separators)
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(Problem::ParentDir);
    }
    let length = parts.iter().map(|part| part.len() + 1).sum::<usize>();
    if length > MAX_PATH_BYTES || parts.iter().any(|part| part.len() > MAX_NAME_BYTES) {
        return Err(Problem::NameTooLong);
    }
    Ok(parts)
}

/// `C:` or `C:\…`: absolute on Windows, and never a sensible relative name.
fn has_drive_prefix(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

/// What can be judged from the target alone; where it leads is judged once the tree is known.
fn check_link_target(target: &str) -> Result<(), Problem> {
    if target.is_empty() || target.len() > MAX_LINK_TARGET_BYTES || target.contains('\0') {
        return Err(Problem::UnusableLinkTarget);
    }
    if target.starts_with('/') {
        return Err(Problem::SymlinkEscapes(target.to_string()));
    }
    Ok(())
}

fn permissions(kind: &Placement, stored: Option<u32>) -> u32 {
    let default = match kind {
        Placement::Dir => 0o755,
        Placement::Symlink { .. } => 0o777,
        Placement::File { .. } | Placement::HardLink { .. } => 0o644,
    };
    stored.map_or(default, |mode| mode & 0o777)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_entries: 10,
        max_bytes: 1000,
    };

    fn file(name: &str) -> Entry {
        Entry {
            name: name.into(),
            kind: Kind::File,
            mode: Some(0o100_644),
            size: 1,
        }
    }

    fn dir(name: &str) -> Entry {
        Entry {
            name: name.into(),
            kind: Kind::Dir,
            mode: None,
            size: 0,
        }
    }

    fn link(name: &str, target: &str) -> Entry {
        Entry {
            name: name.into(),
            kind: Kind::Symlink {
                target: target.into(),
            },
            mode: Some(0o120_777),
            size: target.len() as u64,
        }
    }

    fn hard(name: &str, target: &str) -> Entry {
        Entry {
            name: name.into(),
            kind: Kind::HardLink {
                target: target.into(),
            },
            mode: Some(0o644),
            size: 0,
        }
    }

    fn problem(entries: &[Entry], format: Format) -> (String, Problem) {
        match check(entries, format, &LIMITS) {
            Err(Refusal::Entry { entry, problem }) => (entry, problem),
            other => panic!("expected one entry refused, got {other:?}"),
        }
    }

    #[test]
    fn names_are_split_and_cleaned() {
        let plan = check(
            &[dir("./"), file("./a//b/./c"), dir("a\\d\\")],
            Format::Zip,
            &LIMITS,
        )
        .unwrap();
        let paths: Vec<_> = plan.iter().map(|p| (p.index, p.path.clone())).collect();
        assert_eq!(
            paths,
            [(1, PathBuf::from("a/b/c")), (2, PathBuf::from("a/d"))]
        );
    }

    #[test]
    fn backslashes_separate_folders_in_zips_only() {
        assert_eq!(
            problem(&[file("a\\..\\..\\x")], Format::Zip).1,
            Problem::ParentDir
        );
        assert_eq!(
            problem(&[file("\\x")], Format::Zip).1,
            Problem::AbsolutePath
        );
        let plan = check(&[file("a\\..\\..\\x")], Format::Tar, &LIMITS).unwrap();
        assert_eq!(plan[0].path, PathBuf::from("a\\..\\..\\x"));
    }

    #[test]
    fn bad_names_are_refused() {
        for (name, expected) in [
            ("/etc/x", Problem::AbsolutePath),
            ("C:\\x", Problem::AbsolutePath),
            ("c:x", Problem::AbsolutePath),
            ("a/../b", Problem::ParentDir),
            ("..", Problem::ParentDir),
            ("a\0b", Problem::UnusableName),
        ] {
            assert_eq!(problem(&[file(name)], Format::Tar).1, expected, "{name:?}");
        }
        let long_part = "x".repeat(MAX_NAME_BYTES + 1);
        assert_eq!(
            problem(&[file(&long_part)], Format::Tar).1,
            Problem::NameTooLong
        );
        let deep = vec!["abcdefgh"; MAX_PATH_BYTES / 9 + 1].join("/");
        assert_eq!(problem(&[file(&deep)], Format::Tar).1, Problem::NameTooLong);
        let fits = vec!["abcdefgh"; MAX_PATH_BYTES / 9].join("/");
        check(&[file(&fits)], Format::Tar, &LIMITS).unwrap();
    }

    #[test]
    fn nothing_lies_under_a_file_or_a_link_and_nothing_appears_twice() {
        assert_eq!(
            problem(&[link("d", "sub"), file("d/f")], Format::Zip),
            ("d/f".into(), Problem::UnderSymlink("d".into()))
        );
        assert_eq!(
            problem(&[file("f"), file("f/g")], Format::Zip),
            ("f/g".into(), Problem::UnderFile("f".into()))
        );
        assert_eq!(
            problem(&[file("d/f"), link("d", "sub")], Format::Zip),
            ("d".into(), Problem::Duplicate)
        );
        assert_eq!(
            problem(&[file("f"), file("./f")], Format::Zip),
            ("./f".into(), Problem::Duplicate)
        );
        assert_eq!(
            problem(&[dir("f/"), file("f")], Format::Zip),
            ("f".into(), Problem::Duplicate)
        );
        check(&[dir("d/"), file("d/f"), dir("d/")], Format::Zip, &LIMITS).unwrap();
        assert_eq!(
            problem(&[link("./", "x")], Format::Tar).1,
            Problem::RootNotFolder
        );
    }

    #[test]
    fn symlinks_are_resolved_through_the_chain() {
        check(
            &[
                link("a/b", ".."),
                link("a/c", "b/x"),
                link("top", "a/c/../a"),
                file("x"),
            ],
            Format::Zip,
            &LIMITS,
        )
        .unwrap();
        let escapes =
            |name: &str, target: &str| (name.to_string(), Problem::SymlinkEscapes(target.into()));
        assert_eq!(
            problem(&[link("a/b", ".."), link("c", "a/b/../..")], Format::Zip),
            escapes("c", "a/b/../..")
        );
        assert_eq!(
            problem(&[link("s", "."), link("q", "s/..")], Format::Zip),
            escapes("q", "s/..")
        );
        assert_eq!(
            problem(&[link("passwd", "/etc/passwd")], Format::Zip),
            escapes("passwd", "/etc/passwd")
        );
        // A backslash in a target is a plain character, as the kernel reads it.
        check(&[link("a/b", "..\\..\\x")], Format::Zip, &LIMITS).unwrap();
        // Through a file or a missing folder the kernel would stop; counting it as a folder
        // can only refuse more, never less.
        assert_eq!(
            problem(&[file("f"), link("l", "f/../..")], Format::Zip),
            escapes("l", "f/../..")
        );
        assert_eq!(
            problem(&[link("l", "missing/deeper/../../..")], Format::Zip),
            escapes("l", "missing/deeper/../../..")
        );
    }

    #[test]
    fn loops_and_long_chains_are_refused() {
        assert_eq!(
            problem(&[link("a", "b"), link("b", "a")], Format::Zip),
            ("a".into(), Problem::SymlinkLoop("b".into()))
        );
        assert_eq!(
            problem(&[link("self", "self/x")], Format::Zip),
            ("self".into(), Problem::SymlinkLoop("self/x".into()))
        );
        let chain = |length: usize| -> Vec<Entry> {
            (0..length)
                .map(|i| link(&format!("l{i}"), &format!("l{}", i + 1)))
                .collect()
        };
        let limits = Limits::with_max_bytes(1 << 20);
        check(&chain(MAX_LINK_HOPS as usize), Format::Zip, &limits).unwrap();
        let refused = check(&chain(MAX_LINK_HOPS as usize + 1), Format::Zip, &limits);
        assert_eq!(refused.unwrap_err().entry(), Some("l0"));
    }

    #[test]
    fn hard_links_need_an_earlier_file_and_count_its_size_again() {
        let big = Entry {
            size: 600,
            ..file("big")
        };
        check(&[big.clone(), hard("copy", "./big")], Format::Tar, &LIMITS).unwrap_err();
        let setuid_file = Entry {
            mode: Some(0o4750),
            ..file("f")
        };
        let plan = check(&[setuid_file, hard("g", "f")], Format::Tar, &LIMITS).unwrap();
        assert_eq!(
            plan[1].kind,
            Placement::HardLink {
                source: PathBuf::from("f")
            }
        );
        assert_eq!(plan[1].mode, 0o750, "the file's mode, without set-id bits");
        for entries in [
            vec![hard("g", "f"), file("f")],
            vec![dir("d/"), hard("g", "d")],
            vec![file("f"), hard("g", "../f")],
            vec![link("l", "f"), file("f"), hard("g", "l")],
        ] {
            let target = match &entries.iter().find(|e| e.name == "g").unwrap().kind {
                Kind::HardLink { target } => target.clone(),
                _ => unreachable!(),
            };
            assert_eq!(
                problem(&entries, Format::Tar),
                ("g".into(), Problem::BadHardLink(target))
            );
        }
    }

    #[test]
    fn modes_lose_set_id_and_sticky_bits() {
        let entries = [
            Entry {
                mode: Some(0o106_755),
                ..file("setuid")
            },
            Entry {
                mode: Some(0o041_777),
                ..dir("sticky/")
            },
            Entry {
                mode: None,
                ..file("plain")
            },
            dir("folder/"),
        ];
        let plan = check(&entries, Format::Zip, &LIMITS).unwrap();
        let modes: Vec<u32> = plan.iter().map(|p| p.mode).collect();
        assert_eq!(modes, [0o755, 0o777, 0o644, 0o755]);
    }

    #[test]
    fn counts_and_sizes_are_capped() {
        let many: Vec<Entry> = (0..11).map(|i| file(&format!("f{i}"))).collect();
        assert_eq!(
            check(&many, Format::Zip, &LIMITS).unwrap_err(),
            Refusal::TooManyEntries { max: 10 }
        );
        let huge = Entry {
            size: u64::MAX,
            ..file("huge")
        };
        assert_eq!(
            check(&[file("a"), huge], Format::Zip, &LIMITS).unwrap_err(),
            Refusal::TooLarge { limit: 1000 }
        );
        let special = Entry {
            kind: Kind::Special,
            ..file("fifo")
        };
        assert_eq!(problem(&[special], Format::Tar).1, Problem::Special);
    }
}
