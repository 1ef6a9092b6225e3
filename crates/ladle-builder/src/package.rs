//! Gzip tarballs in the shape `tar -czf out -C dir .` produces: a `./` root entry, members named
//! `./...`, modes and mtimes kept, symlinks stored as symlinks, dotfiles included. Written
//! straight from the source folders, so the droplet's `./app` comes from the build dir without
//! the copy CF's builder makes first.
//!
//! The tar stream is deflated on every core the builder may use, as pigz does: blocks
//! compressed on threads and joined into one gzip member that `tar xzf`, `gunzip` and CF's
//! tooling read like any other.

use std::fs::{self, File, Metadata};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use gzp::deflate::Gzip;
use gzp::par::compress::{Compression, ParCompress, ParCompressBuilder};
use gzp::ZWriter;
use tar::{EntryType, Header, HeaderMode};

/// Level 6 is gzip's default, the level of CF's `tar -czf`: see bench/builder-package.sh for the
/// speed/size trade-off.
const COMPRESSION_LEVEL: u32 = 6;
const FILE_BUFFER: usize = 1 << 20;
const DEFLATE_INPUT_BUFFER: usize = 256 << 10;
/// Blocks compressed on their own: 512 KiB keeps the cost of each block's fresh start (no
/// history to match against) well under 1% of the size, and a few blocks in flight per thread
/// in a few MB of memory.
const GZIP_BLOCK: usize = 512 << 10;
/// Longest name a ustar/GNU header holds inline; longer ones get a GNU long-name record.
const NAME_FIELD_LEN: usize = 100;

type TarSink = tar::Builder<BufWriter<ParallelGzip>>;

/// Writes `output` as a gzip tar of `root`'s contents. `substitutes` replace (or add) top-level
/// members: `("app", build_dir)` stores `build_dir` as `./app`.
pub fn write_tgz(output: &Path, root: &Path, substitutes: &[(&str, &Path)]) -> io::Result<()> {
    let file = File::create(output)?;
    let gzip = ParallelGzip::new(BufWriter::with_capacity(FILE_BUFFER, file))?;
    let mut sink = tar::Builder::new(BufWriter::with_capacity(DEFLATE_INPUT_BUFFER, gzip));
    append_path(&mut sink, root, "./")?;
    for (name, source) in top_level_members(root, substitutes)? {
        append_tree(&mut sink, &source, &format!("./{name}"))?;
    }
    let gzip = sink
        .into_inner()?
        .into_inner()
        .map_err(|e| e.into_error())?;
    gzip.finish()?.into_inner().map_err(|e| e.into_error())?;
    Ok(())
}

/// A gzip writer that compresses on threads. Dropped without `finish` (an error elsewhere), it
/// ends its threads and drops what it failed to write instead of panicking as gzp's own drop
/// does on a write error.
struct ParallelGzip {
    inner: Option<ParCompress<'static, Gzip, BufWriter<File>>>,
}

impl ParallelGzip {
    fn new(out: BufWriter<File>) -> io::Result<ParallelGzip> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let inner = ParCompressBuilder::<Gzip>::new()
            .num_threads(threads)
            .map_err(io::Error::other)?
            .buffer_size(GZIP_BLOCK)
            .map_err(io::Error::other)?
            .compression_level(Compression::new(COMPRESSION_LEVEL))
            .from_writer(out);
        Ok(ParallelGzip { inner: Some(inner) })
    }

    /// Compresses what is left, writes the gzip trailer and hands back the file's writer.
    fn finish(mut self) -> io::Result<BufWriter<File>> {
        let mut inner = self.inner.take().expect("finished once");
        inner.finish().map_err(gzip_error)
    }

    fn inner(&mut self) -> io::Result<&mut ParCompress<'static, Gzip, BufWriter<File>>> {
        self.inner
            .as_mut()
            .ok_or_else(|| io::Error::other("gzip stream already finished"))
    }
}

impl Write for ParallelGzip {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        // gzp's flush ends a block early; the tar stream only needs its bytes handed over.
        Ok(())
    }
}

impl Drop for ParallelGzip {
    fn drop(&mut self) {
        if let Some(mut inner) = self.inner.take() {
            let _ = inner.finish();
        }
    }
}

fn gzip_error(error: gzp::GzpError) -> io::Error {
    match error {
        gzp::GzpError::Io(error) => error,
        other => io::Error::other(other),
    }
}

fn top_level_members(
    root: &Path,
    substitutes: &[(&str, &Path)],
) -> io::Result<Vec<(String, PathBuf)>> {
    let mut members: Vec<(String, PathBuf)> = sorted_children(root)?
        .into_iter()
        .filter(|(name, _)| !substitutes.iter().any(|(sub, _)| sub == name))
        .collect();
    members.extend(
        substitutes
            .iter()
            .map(|(name, path)| (name.to_string(), path.to_path_buf())),
    );
    members.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(members)
}

/// Children by byte order of name, so two runs over the same tree produce the same archive.
fn sorted_children(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let mut children = fs::read_dir(dir)?
        .map(|entry| {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            Ok((name, entry.path()))
        })
        .collect::<io::Result<Vec<_>>>()?;
    children.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(children)
}

fn append_tree(sink: &mut TarSink, source: &Path, name: &str) -> io::Result<()> {
    let is_dir = append_path(sink, source, name)?;
    if is_dir {
        for (child_name, child) in sorted_children(source)? {
            append_tree(sink, &child, &format!("{name}/{child_name}"))?;
        }
    }
    Ok(())
}

/// Appends one member; returns whether it was a directory to descend into.
fn append_path(sink: &mut TarSink, source: &Path, name: &str) -> io::Result<bool> {
    let meta = fs::symlink_metadata(source)?;
    let file_type = meta.file_type();
    if file_type.is_dir() {
        let dir_name = if name.ends_with('/') {
            name.to_string()
        } else {
            format!("{name}/")
        };
        append_header(sink, &meta, dir_name.as_bytes(), None, io::empty())?;
        Ok(true)
    } else if file_type.is_symlink() {
        let target = fs::read_link(source)?;
        append_header(
            sink,
            &meta,
            name.as_bytes(),
            Some(target.as_os_str().as_bytes()),
            io::empty(),
        )?;
        Ok(false)
    } else if file_type.is_file() {
        let file = File::open(source)?;
        let expected = meta.len();
        let mut reader = ExactSize {
            inner: file.take(expected),
            remaining: expected,
            path: source,
        };
        append_header(sink, &meta, name.as_bytes(), None, &mut reader)?;
        Ok(false)
    } else {
        // Sockets, fifos and devices have no place in a droplet; CF's tar would store them but
        // nothing at run time could use them.
        eprintln!("Skipping special file {} while packaging", source.display());
        Ok(false)
    }
}

fn append_header(
    sink: &mut TarSink,
    meta: &Metadata,
    name: &[u8],
    link_target: Option<&[u8]>,
    data: impl Read,
) -> io::Result<()> {
    let mut header = Header::new_gnu();
    header.set_metadata_in_mode(meta, HeaderMode::Complete);
    if header.entry_type() != EntryType::Regular {
        header.set_size(0);
    }
    set_raw_field(sink, &mut header, name, EntryType::GNULongName)?;
    if let Some(target) = link_target {
        set_raw_field(sink, &mut header, target, EntryType::GNULongLink)?;
    }
    header.set_cksum();
    sink.append(&header, data)
}

/// Puts `value` into the name or link-name field byte for byte. The tar crate's own setters
/// drop a leading `./`, which `tar -czf .. -C dir .` keeps and tools comparing droplets expect.
fn set_raw_field(
    sink: &mut TarSink,
    header: &mut Header,
    value: &[u8],
    kind: EntryType,
) -> io::Result<()> {
    if value.len() > NAME_FIELD_LEN {
        append_long_name_record(sink, value, kind)?;
    }
    let gnu = header.as_gnu_mut().expect("header was created as GNU");
    let field = if kind == EntryType::GNULongName {
        &mut gnu.name
    } else {
        &mut gnu.linkname
    };
    let inline = &value[..value.len().min(NAME_FIELD_LEN)];
    field.fill(0);
    field[..inline.len()].copy_from_slice(inline);
    Ok(())
}

/// GNU `././@LongLink` record carrying a name longer than the header field.
fn append_long_name_record(sink: &mut TarSink, value: &[u8], kind: EntryType) -> io::Result<()> {
    let mut header = Header::new_gnu();
    let marker = b"././@LongLink";
    header.as_gnu_mut().expect("GNU header").name[..marker.len()].copy_from_slice(marker);
    header.set_entry_type(kind);
    header.set_mode(0o644);
    header.set_size(value.len() as u64 + 1);
    header.set_cksum();
    sink.append(&header, value.chain(&[0u8][..]))
}

/// A file that shrinks while being archived would silently corrupt the tar stream (the header
/// already promised its size), so a short read is an error.
struct ExactSize<'a, R> {
    inner: R,
    remaining: u64,
    path: &'a Path,
}

impl<R: Read> Read for ExactSize<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        if read == 0 && self.remaining > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} shrank while being archived", self.path.display()),
            ));
        }
        self.remaining -= read as u64;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn entries(archive: &Path) -> Vec<(String, EntryType, u32, Option<String>)> {
        let gz = flate2::read::GzDecoder::new(File::open(archive).unwrap());
        let mut tar = tar::Archive::new(gz);
        tar.entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let name = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
                let link = entry
                    .link_name_bytes()
                    .map(|l| String::from_utf8(l.into_owned()).unwrap());
                let header = entry.header();
                (name, header.entry_type(), header.mode().unwrap(), link)
            })
            .collect()
    }

    #[test]
    fn keeps_dot_prefix_modes_symlinks_and_long_names() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let app = dir.path().join("build");
        fs::create_dir_all(root.join("deps/0")).unwrap();
        fs::create_dir_all(&app).unwrap();
        fs::write(app.join(".hidden"), "x").unwrap();
        fs::write(app.join("run.sh"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(app.join("run.sh"), fs::Permissions::from_mode(0o751)).unwrap();
        symlink("run.sh", app.join("link")).unwrap();
        let long = "d".repeat(120);
        fs::write(app.join(&long), "long").unwrap();

        let out = dir.path().join("out.tgz");
        write_tgz(&out, &root, &[("app", &app)]).unwrap();
        let found = entries(&out);
        let names: Vec<&str> = found.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names[0], "./");
        assert!(names.contains(&"./app/.hidden"));
        assert!(names.contains(&"./deps/0/"));
        assert!(names.contains(&format!("./app/{long}").as_str()));
        let script = found.iter().find(|e| e.0 == "./app/run.sh").unwrap();
        assert_eq!(script.2 & 0o7777, 0o751);
        let link = found.iter().find(|e| e.0 == "./app/link").unwrap();
        assert_eq!(link.1, EntryType::Symlink);
        assert_eq!(link.3.as_deref(), Some("run.sh"));
    }
}
