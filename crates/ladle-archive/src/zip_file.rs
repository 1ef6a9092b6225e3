//! The one zip reader: opens a zip, lists its entries for the policy (reading symlink targets)
//! and copies an entry's contents only as far as it declared. The upload check, the stager and
//! the builder all read zips through here, so they see the same entries the same way.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use zip::ZipArchive;

use crate::policy::{check as check_entries, Entry, Format, Kind, Limits, Placed, Refusal};
use crate::MAX_LINK_TARGET_BYTES;

const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;

#[derive(Debug, thiserror::Error)]
pub enum ZipFileError {
    #[error("not a valid zip file: {0}")]
    Corrupt(String),
    #[error("zip entry '{entry}' is corrupt: {problem}")]
    CorruptEntry { entry: String, problem: String },
    #[error("zip {0}")]
    Refused(#[from] Refusal),
    /// Reading the zip's own file or writing the output failed.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// A zip the policy accepted: the open archive and where each entry goes.
pub struct CheckedZip<R> {
    pub archive: ZipArchive<R>,
    pub plan: Vec<Placed>,
}

/// Opens `reader` as a zip and checks every entry against the policy. The entry count is taken
/// from the end record first, before the zip reader loads the whole central directory into
/// memory.
pub fn check<R: Read + Seek>(
    mut reader: R,
    limits: &Limits,
) -> Result<CheckedZip<R>, ZipFileError> {
    let too_many = ZipFileError::Refused(Refusal::TooManyEntries {
        max: limits.max_entries,
    });
    if declared_entry_count(&mut reader).is_some_and(|count| count > limits.max_entries) {
        return Err(too_many);
    }
    reader.seek(SeekFrom::Start(0))?;
    let mut archive = ZipArchive::new(reader).map_err(corrupt)?;
    if archive.len() as u64 > limits.max_entries {
        return Err(too_many);
    }
    let entries = list(&mut archive)?;
    let plan = check_entries(&entries, Format::Zip, limits)?;
    Ok(CheckedZip { archive, plan })
}

/// Every entry as the policy sees it. A folder is a name ending in a separator; a symlink has
/// the symlink type in its unix mode; everything else is a file (as `unzip` extracts it).
fn list<R: Read + Seek>(archive: &mut ZipArchive<R>) -> Result<Vec<Entry>, ZipFileError> {
    let mut entries = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let raw = archive.by_index_raw(index).map_err(corrupt)?;
        let name = raw.name().to_string();
        let mode = raw.unix_mode();
        let size = raw.size();
        drop(raw);
        let kind = if name.ends_with(['/', '\\']) {
            Kind::Dir
        } else if mode.is_some_and(|mode| mode & S_IFMT == S_IFLNK) {
            let mut entry = archive.by_index(index).map_err(corrupt)?;
            let target = read_link_target(&mut entry, &name, size)?;
            Kind::Symlink { target }
        } else {
            Kind::File
        };
        entries.push(Entry {
            name,
            kind,
            mode,
            size,
        });
    }
    Ok(entries)
}

/// A symlink's target is its contents. A target too long to be one is not read further; the
/// policy refuses it by its length.
fn read_link_target(
    entry: &mut impl Read,
    name: &str,
    declared: u64,
) -> Result<String, ZipFileError> {
    let mut target = Vec::new();
    entry
        .take(MAX_LINK_TARGET_BYTES as u64 + 1)
        .read_to_end(&mut target)
        .map_err(|err| corrupt_entry(name, err.to_string()))?;
    if target.len() as u64 != declared && target.len() <= MAX_LINK_TARGET_BYTES {
        return Err(corrupt_entry(
            name,
            format!("it declares {declared} bytes but holds {}", target.len()),
        ));
    }
    Ok(String::from_utf8_lossy(&target).into_owned())
}

/// Copies one entry's contents to `out`, which must come to exactly the size the entry
/// declared (the size the policy counted): an entry that inflates beyond it is refused as soon
/// as the first extra byte appears. Failing to write is an `Io` error, failing to read a
/// corrupt entry.
pub fn copy_exact(
    entry: &mut impl Read,
    name: &str,
    declared: u64,
    out: &mut impl Write,
) -> Result<(), ZipFileError> {
    let mut limited = entry.take(declared.saturating_add(1));
    let mut buffer = vec![0u8; 64 * 1024];
    let mut copied: u64 = 0;
    loop {
        let read = match limited.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(corrupt_entry(name, err.to_string())),
        };
        copied += read as u64;
        if copied > declared {
            return Err(corrupt_entry(
                name,
                format!("it declares {declared} bytes but holds more"),
            ));
        }
        out.write_all(&buffer[..read])?;
    }
    if copied != declared {
        return Err(corrupt_entry(
            name,
            format!("it declares {declared} bytes but holds {copied}"),
        ));
    }
    Ok(())
}

/// A reader of a file shared between threads: each clone keeps its own position and buffer
/// and reads with `pread`, so clones of one [`ZipArchive`] (which share the parsed central
/// directory) unpack different entries at once without reopening or re-parsing the zip.
pub struct SharedFile {
    file: Arc<File>,
    len: u64,
    /// Where the next read starts.
    pos: u64,
    buffer: Box<[u8]>,
    /// `buffer[..filled]` holds the file's bytes from `buffer_at`.
    buffer_at: u64,
    filled: usize,
}

/// Large enough that listing a zip's central directory, a few small reads per entry, costs
/// one `pread` per 64 KiB of it.
const SHARED_FILE_BUFFER: usize = 64 * 1024;

impl SharedFile {
    pub fn new(file: File) -> io::Result<SharedFile> {
        let len = file.metadata()?.len();
        Ok(SharedFile {
            file: Arc::new(file),
            len,
            pos: 0,
            buffer: vec![0; SHARED_FILE_BUFFER].into_boxed_slice(),
            buffer_at: 0,
            filled: 0,
        })
    }

    fn buffered(&self) -> &[u8] {
        let end = self.buffer_at + self.filled as u64;
        if self.pos >= self.buffer_at && self.pos < end {
            &self.buffer[(self.pos - self.buffer_at) as usize..self.filled]
        } else {
            &[]
        }
    }
}

impl Clone for SharedFile {
    fn clone(&self) -> Self {
        SharedFile {
            file: self.file.clone(),
            len: self.len,
            pos: self.pos,
            buffer: vec![0; SHARED_FILE_BUFFER].into_boxed_slice(),
            buffer_at: 0,
            filled: 0,
        }
    }
}

impl Read for SharedFile {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let buffered = self.buffered();
        if !buffered.is_empty() {
            let n = buffered.len().min(out.len());
            out[..n].copy_from_slice(&buffered[..n]);
            self.pos += n as u64;
            return Ok(n);
        }
        if out.len() >= self.buffer.len() {
            let n = self.file.read_at(out, self.pos)?;
            self.pos += n as u64;
            return Ok(n);
        }
        self.filled = self.file.read_at(&mut self.buffer, self.pos)?;
        self.buffer_at = self.pos;
        if self.filled == 0 {
            return Ok(0);
        }
        self.read(out)
    }
}

impl Seek for SharedFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::End(delta) => self.len.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.pos.checked_add_signed(delta),
        };
        self.pos = target.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )
        })?;
        Ok(self.pos)
    }
}

fn corrupt(err: zip::result::ZipError) -> ZipFileError {
    match err {
        zip::result::ZipError::Io(err) if err.kind() != io::ErrorKind::UnexpectedEof => {
            ZipFileError::Io(err)
        }
        other => ZipFileError::Corrupt(other.to_string()),
    }
}

fn corrupt_entry(name: &str, problem: String) -> ZipFileError {
    ZipFileError::CorruptEntry {
        entry: name.to_string(),
        problem,
    }
}

/// The entry count from the end-of-central-directory record (or its zip64 form). `None` when no
/// record is found; the zip reader then reports the file as corrupt.
fn declared_entry_count<R: Read + Seek>(file: &mut R) -> Option<u64> {
    const EOCD_SIGNATURE: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    const ZIP64_LOCATOR_SIGNATURE: [u8; 4] = [0x50, 0x4b, 0x06, 0x07];
    const EOCD_MIN: u64 = 22;
    // The record ends the file, followed by a comment of at most 65535 bytes.
    const SEARCH: u64 = EOCD_MIN + 65_535 + 20;
    let len = file.seek(SeekFrom::End(0)).ok()?;
    let start = len.saturating_sub(SEARCH);
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut tail = Vec::with_capacity((len - start) as usize);
    file.take(SEARCH).read_to_end(&mut tail).ok()?;
    let at = (0..tail.len().checked_sub(EOCD_MIN as usize - 1)?)
        .rev()
        .find(|&i| tail[i..].starts_with(&EOCD_SIGNATURE))?;
    let count = u16::from_le_bytes([tail[at + 10], tail[at + 11]]);
    if count != u16::MAX {
        return Some(u64::from(count));
    }
    let locator = at.checked_sub(20)?;
    if !tail[locator..].starts_with(&ZIP64_LOCATOR_SIGNATURE) {
        return Some(u64::from(count));
    }
    let zip64_offset = u64::from_le_bytes(tail[locator + 8..locator + 16].try_into().ok()?);
    let mut record = [0u8; 40];
    file.seek(SeekFrom::Start(zip64_offset)).ok()?;
    file.read_exact(&mut record).ok()?;
    Some(u64::from_le_bytes(record[32..40].try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_file_clones_read_and_seek_on_their_own() {
        let bytes: Vec<u8> = (0..200_000u32).map(|n| (n * 7 + n / 251) as u8).collect();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        let mut reader = SharedFile::new(file).unwrap();

        let mut small = [0u8; 10];
        reader.read_exact(&mut small).unwrap();
        assert_eq!(small, bytes[..10]);
        let mut other = reader.clone();
        assert_eq!(reader.seek(SeekFrom::End(-5)).unwrap(), 199_995);
        let mut tail = Vec::new();
        reader.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, bytes[199_995..]);
        // The clone kept its own position and reads through its own buffer.
        let mut next = [0u8; 10];
        other.read_exact(&mut next).unwrap();
        assert_eq!(next, bytes[10..20]);
        assert_eq!(other.seek(SeekFrom::Current(-15)).unwrap(), 5);
        let mut back = [0u8; 5];
        other.read_exact(&mut back).unwrap();
        assert_eq!(back, bytes[5..10]);
        let mut large = vec![0u8; 100_000];
        other.seek(SeekFrom::Start(65_000)).unwrap();
        other.read_exact(&mut large).unwrap();
        assert!(large == bytes[65_000..165_000]);
        let mut whole = Vec::new();
        other.seek(SeekFrom::Start(0)).unwrap();
        other.read_to_end(&mut whole).unwrap();
        assert!(whole == bytes);
        assert_eq!(other.seek(SeekFrom::Start(300_000)).unwrap(), 300_000);
        assert_eq!(other.read(&mut small).unwrap(), 0, "past the end");
        assert!(other.seek(SeekFrom::Current(-400_000)).is_err());
    }
}
