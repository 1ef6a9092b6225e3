//! The one table of hostile and benign archives. Every reader's tests run it: the policy's
//! own, the upload check through the HTTP API, the stager's unpack, the builder's zip URL
//! buildpacks. Archives are built here with the zip and tar crates; where those refuse to
//! write something hostile, the bytes are patched afterwards.

use std::fs;
use std::io::{Cursor, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::OnceLock;

use zip::write::SimpleFileOptions;

use crate::policy::{Problem, Refusal, MAX_ENTRIES};

/// One archive member.
#[derive(Debug, Clone)]
pub enum Item {
    /// Name, contents, unix mode (set-id bits included).
    File(&'static str, &'static [u8], u32),
    Dir(&'static str),
    Symlink(&'static str, &'static str),
    /// Tar only: a hard link to an earlier member.
    HardLink(&'static str, &'static str),
    /// Tar only: a fifo.
    Fifo(&'static str),
}

/// What a reader must end up with.
#[derive(Debug, Clone)]
pub enum Expect {
    /// Unpacks; these paths then hold what they say.
    Unpacks(Vec<Unpacked>),
    /// Refused; the reader's message contains these words (the policy's, or the zip reader's
    /// for a corrupt entry).
    Refused(String),
}

#[derive(Debug, Clone)]
pub enum Unpacked {
    /// A regular file with these contents and permission bits.
    File(&'static str, &'static [u8], u32),
    /// A symlink with this target; reading through it gives `reads`, if given.
    Link(&'static str, &'static str, Option<&'static [u8]>),
    Dir(&'static str),
}

#[derive(Debug, Clone)]
enum Build {
    Items(Vec<Item>),
    /// `MAX_ENTRIES + 1` empty files.
    TooManyEntries,
    /// Three stored entries whose declared sizes add up to about 12 GiB.
    DeclaresHuge,
    /// One entry that declares 10 bytes and inflates to 1 MiB of zeros.
    InflatesBeyondDeclared,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub name: &'static str,
    pub expect: Expect,
    build: Build,
    zip: bool,
    tar: bool,
}

impl Case {
    /// The case as a zip, unless it is about tars only.
    pub fn zip(&self) -> Option<Vec<u8>> {
        if !self.zip {
            return None;
        }
        Some(match &self.build {
            Build::Items(items) => zip_of(items, &[]),
            Build::TooManyEntries => too_many_entries_zip().clone(),
            Build::DeclaresHuge => declares_huge_zip(),
            Build::InflatesBeyondDeclared => inflates_beyond_declared_zip(),
        })
    }

    /// The case as a gzip tar, unless it is about zips only.
    pub fn tgz(&self) -> Option<Vec<u8>> {
        match (&self.build, self.tar) {
            (Build::Items(items), true) => Some(tgz_of(items)),
            _ => None,
        }
    }

    /// The words a refusing reader must say, or `None` for a benign case.
    pub fn refusal(&self) -> Option<&str> {
        match &self.expect {
            Expect::Refused(words) => Some(words),
            Expect::Unpacks(_) => None,
        }
    }

    /// Panics unless `dir` holds what this benign case unpacks to.
    pub fn assert_unpacked(&self, dir: &Path) {
        let Expect::Unpacks(expected) = &self.expect else {
            panic!("{}: a refused case unpacks nothing", self.name);
        };
        for item in expected {
            match item {
                Unpacked::File(path, contents, mode) => {
                    let path = dir.join(path);
                    let meta = fs::symlink_metadata(&path)
                        .unwrap_or_else(|e| panic!("{}: {}: {e}", self.name, path.display()));
                    assert!(
                        meta.is_file(),
                        "{}: {} is a file",
                        self.name,
                        path.display()
                    );
                    assert_eq!(
                        meta.permissions().mode() & 0o7777,
                        *mode,
                        "{}: mode of {}",
                        self.name,
                        path.display()
                    );
                    assert_eq!(fs::read(&path).unwrap(), *contents, "{}", self.name);
                }
                Unpacked::Link(path, target, reads) => {
                    let path = dir.join(path);
                    let found = fs::read_link(&path)
                        .unwrap_or_else(|e| panic!("{}: {}: {e}", self.name, path.display()));
                    assert_eq!(found, Path::new(target), "{}", self.name);
                    if let Some(reads) = reads {
                        assert_eq!(fs::read(&path).unwrap(), *reads, "{}", self.name);
                    }
                }
                Unpacked::Dir(path) => {
                    let path = dir.join(path);
                    let meta = fs::symlink_metadata(&path)
                        .unwrap_or_else(|e| panic!("{}: {}: {e}", self.name, path.display()));
                    assert!(
                        meta.is_dir(),
                        "{}: {} is a folder",
                        self.name,
                        path.display()
                    );
                }
            }
        }
    }
}

fn refused(entry: &str, problem: Problem) -> Expect {
    Expect::Refused(
        Refusal::Entry {
            entry: entry.to_string(),
            problem,
        }
        .to_string(),
    )
}

fn case(name: &'static str, items: Vec<Item>, expect: Expect) -> Case {
    Case {
        name,
        expect,
        build: Build::Items(items),
        zip: true,
        tar: true,
    }
}

fn zip_only(mut case: Case) -> Case {
    case.tar = false;
    case
}

fn tar_only(mut case: Case) -> Case {
    case.zip = false;
    case
}

/// The whole table, benign cases first.
pub fn table() -> Vec<Case> {
    use Item::*;
    let escapes =
        |entry: &str, target: &str| refused(entry, Problem::SymlinkEscapes(target.to_string()));
    vec![
        case(
            "nested folders and in-tree symlinks",
            vec![
                File("index.js", b"console.log(1)\n", 0o644),
                Dir("lib/"),
                File("lib/util/deep/x.js", b"x\n", 0o644),
                Symlink("lib/main", "../index.js"),
                Symlink("current", "lib/util"),
                File("node_modules/tool/cli.js", b"#!/usr/bin/env node\n", 0o755),
                Symlink("node_modules/.bin/tool", "../tool/cli.js"),
                // Links through links that stay inside: a/up is the root, a/deep is lib/util.
                Symlink("a/up", ".."),
                Symlink("a/deep", "up/current/."),
                Symlink("dangling", "not/there/yet"),
            ],
            Expect::Unpacks(vec![
                Unpacked::File("index.js", b"console.log(1)\n", 0o644),
                Unpacked::Dir("lib/util/deep"),
                Unpacked::File("lib/util/deep/x.js", b"x\n", 0o644),
                Unpacked::Link("lib/main", "../index.js", Some(b"console.log(1)\n")),
                Unpacked::Link("current", "lib/util", None),
                Unpacked::File("node_modules/tool/cli.js", b"#!/usr/bin/env node\n", 0o755),
                Unpacked::Link(
                    "node_modules/.bin/tool",
                    "../tool/cli.js",
                    Some(b"#!/usr/bin/env node\n"),
                ),
                Unpacked::Link("a/up", "..", None),
                Unpacked::Link("a/deep", "up/current/.", None),
                Unpacked::Link("dangling", "not/there/yet", None),
            ]),
        ),
        case(
            "set-id and sticky bits dropped",
            vec![
                File("bin/su-tool", b"#!/bin/sh\n", 0o4755),
                File("bin/sg-tool", b"#!/bin/sh\n", 0o2755),
                File("bin/sticky", b"#!/bin/sh\n", 0o1755),
            ],
            Expect::Unpacks(vec![
                Unpacked::File("bin/su-tool", b"#!/bin/sh\n", 0o755),
                Unpacked::File("bin/sg-tool", b"#!/bin/sh\n", 0o755),
                Unpacked::File("bin/sticky", b"#!/bin/sh\n", 0o755),
            ]),
        ),
        zip_only(case(
            "backslashes separate folders",
            vec![File("win\\dir\\file.txt", b"made on Windows", 0o644)],
            Expect::Unpacks(vec![Unpacked::File(
                "win/dir/file.txt",
                b"made on Windows",
                0o644,
            )]),
        )),
        tar_only(case(
            "hard link to an earlier file",
            vec![
                File("final/blob", b"hello", 0o600),
                HardLink("final/again", "final/blob"),
            ],
            Expect::Unpacks(vec![Unpacked::File("final/again", b"hello", 0o600)]),
        )),
        case(
            "symlink chain escaping (a/b -> .., c -> a/b/../..)",
            vec![
                File("index.html", b"hi", 0o644),
                Symlink("a/b", ".."),
                Symlink("c", "a/b/../.."),
            ],
            escapes("c", "a/b/../.."),
        ),
        case(
            "link to the root then up (s -> ., q -> s/..)",
            vec![Symlink("s", "."), Symlink("q", "s/..")],
            escapes("q", "s/.."),
        ),
        case(
            "symlink to /etc/passwd",
            vec![Symlink("passwd", "/etc/passwd")],
            escapes("passwd", "/etc/passwd"),
        ),
        case(
            "symlink up and out",
            vec![Symlink("config/passwd", "../../etc/passwd")],
            escapes("config/passwd", "../../etc/passwd"),
        ),
        case(
            "symlink loop",
            vec![Symlink("ping", "pong"), Symlink("pong", "ping")],
            refused("ping", Problem::SymlinkLoop("pong".into())),
        ),
        case(
            "file written through a symlink to a folder",
            vec![
                Dir("real/"),
                Symlink("lib", "real"),
                File("lib/evil", b"x", 0o644),
            ],
            refused("lib/evil", Problem::UnderSymlink("lib".into())),
        ),
        case(
            "file written through a symlink out of the tree",
            vec![Symlink("up", ".."), File("up/evil", b"x", 0o644)],
            refused("up/evil", Problem::UnderSymlink("up".into())),
        ),
        case(
            "dot-dot name",
            vec![File("../evil", b"x", 0o644)],
            refused("../evil", Problem::ParentDir),
        ),
        case(
            "dot-dot deep in a name",
            vec![File("bin/../../../evil", b"x", 0o644)],
            refused("bin/../../../evil", Problem::ParentDir),
        ),
        case(
            "absolute name",
            vec![File("/tmp/ladle-absolute-evil", b"x", 0o644)],
            refused("/tmp/ladle-absolute-evil", Problem::AbsolutePath),
        ),
        zip_only(case(
            "backslash dot-dot name",
            vec![File("a\\..\\..\\evil", b"x", 0o644)],
            refused("a\\..\\..\\evil", Problem::ParentDir),
        )),
        zip_only(case(
            "backslash absolute name",
            vec![File("\\evil", b"x", 0o644)],
            refused("\\evil", Problem::AbsolutePath),
        )),
        case(
            "same path twice",
            vec![File("f", b"one", 0o644), File("./f", b"two", 0o644)],
            refused("./f", Problem::Duplicate),
        ),
        tar_only(case(
            "hard link out of the tree",
            vec![HardLink("passwd", "../../etc/passwd")],
            refused("passwd", Problem::BadHardLink("../../etc/passwd".into())),
        )),
        tar_only(case(
            "fifo",
            vec![Fifo("pipe")],
            refused("pipe", Problem::Special),
        )),
        Case {
            name: "too many entries",
            expect: Expect::Refused(Refusal::TooManyEntries { max: MAX_ENTRIES }.to_string()),
            build: Build::TooManyEntries,
            zip: true,
            tar: false,
        },
        Case {
            name: "zip bomb declaring 12 GiB",
            // The limit differs by reader; the words before it do not.
            expect: Expect::Refused("expands to more than the limit of".into()),
            build: Build::DeclaresHuge,
            zip: true,
            tar: false,
        },
        Case {
            name: "zip bomb inflating beyond its declared size",
            expect: Expect::Refused("zip entry 'zeros' is corrupt".into()),
            build: Build::InflatesBeyondDeclared,
            zip: true,
            tar: false,
        },
    ]
}

/// Looks a case up by name (for tests that single one out).
pub fn named(name: &str) -> Case {
    table()
        .into_iter()
        .find(|case| case.name == name)
        .unwrap_or_else(|| panic!("no case named {name:?}"))
}

/// A zip of `items`; `sizes` patches declared uncompressed sizes by entry name afterwards.
fn zip_of(items: &[Item], sizes: &[(&str, u32)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let mut modes = Vec::new();
    for item in items {
        match item {
            Item::File(name, contents, mode) => {
                let options = SimpleFileOptions::default().unix_permissions(*mode);
                writer.start_file(*name, options).unwrap();
                writer.write_all(contents).unwrap();
                // The zip crate keeps only the permission bits; set-id bits are patched in.
                if mode & !0o777 != 0 {
                    modes.push((*name, 0o100_000 | mode));
                }
            }
            Item::Dir(name) => writer
                .add_directory(*name, SimpleFileOptions::default())
                .unwrap(),
            Item::Symlink(name, target) => writer
                .add_symlink(*name, *target, SimpleFileOptions::default())
                .unwrap(),
            Item::HardLink(..) | Item::Fifo(_) => panic!("zips have no {item:?}"),
        }
    }
    let mut bytes = writer.finish().unwrap().into_inner();
    patch_central_directory(&mut bytes, |name, record| {
        if let Some((_, mode)) = modes.iter().find(|(n, _)| *n == name) {
            record[38..42].copy_from_slice(&(mode << 16).to_le_bytes());
        }
        sizes
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, size)| *size)
    });
    bytes
}

/// Calls `patch` with each central-directory record (and the entry's name); when it returns a
/// size, that size is written as the entry's uncompressed size in both headers.
fn patch_central_directory(
    bytes: &mut [u8],
    mut patch: impl FnMut(&str, &mut [u8]) -> Option<u32>,
) {
    let end = (0..bytes.len() - 21)
        .rev()
        .find(|&i| bytes[i..].starts_with(&[0x50, 0x4b, 0x05, 0x06]))
        .expect("end of central directory");
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]) as usize;
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let count = u16_at(bytes, end + 10);
    let mut at = u32_at(bytes, end + 16) as usize;
    for _ in 0..count {
        assert!(bytes[at..].starts_with(&[0x50, 0x4b, 0x01, 0x02]));
        let name_len = u16_at(bytes, at + 28);
        let record_len = 46 + name_len + u16_at(bytes, at + 30) + u16_at(bytes, at + 32);
        let name = String::from_utf8(bytes[at + 46..at + 46 + name_len].to_vec()).unwrap();
        let local = u32_at(bytes, at + 42) as usize;
        if let Some(size) = patch(&name, &mut bytes[at..at + record_len]) {
            bytes[at + 24..at + 28].copy_from_slice(&size.to_le_bytes());
            bytes[local + 22..local + 26].copy_from_slice(&size.to_le_bytes());
        }
        at += record_len;
    }
}

fn too_many_entries_zip() -> &'static Vec<u8> {
    static ZIP: OnceLock<Vec<u8>> = OnceLock::new();
    ZIP.get_or_init(|| {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let stored =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        for i in 0..=MAX_ENTRIES {
            writer.start_file(format!("f{i}"), stored).unwrap();
        }
        writer.finish().unwrap().into_inner()
    })
}

fn declares_huge_zip() -> Vec<u8> {
    let items = [
        Item::File("part1", b"small", 0o644),
        Item::File("part2", b"small", 0o644),
        Item::File("part3", b"small", 0o644),
    ];
    // Just under the zip64 marker, three times over: about 12 GiB.
    let huge = 0xFFFF_FFF0;
    zip_of(&items, &[("part1", huge), ("part2", huge), ("part3", huge)])
}

fn inflates_beyond_declared_zip() -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let deflated =
        SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    writer.start_file("zeros", deflated).unwrap();
    writer.write_all(&vec![0u8; 1024 * 1024]).unwrap();
    let mut bytes = writer.finish().unwrap().into_inner();
    patch_central_directory(&mut bytes, |_, _| Some(10));
    bytes
}

/// A gzip tar of `items`, names written byte for byte (the tar crate refuses to write `..`).
fn tgz_of(items: &[Item]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for item in items {
        let mut header = tar::Header::new_gnu();
        let (name, link, data): (&str, Option<&str>, &[u8]) = match item {
            Item::File(name, contents, mode) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                (name, None, contents)
            }
            Item::Dir(name) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                (name, None, b"")
            }
            Item::Symlink(name, target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                (name, Some(target), b"")
            }
            Item::HardLink(name, target) => {
                header.set_entry_type(tar::EntryType::Link);
                header.set_mode(0o644);
                (name, Some(target), b"")
            }
            Item::Fifo(name) => {
                header.set_entry_type(tar::EntryType::Fifo);
                header.set_mode(0o644);
                (name, None, b"")
            }
        };
        let gnu = header.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(link) = link {
            gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}
