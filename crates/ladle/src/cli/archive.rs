//! The zip `ladle push` uploads: the app directory less what `.cfignore` leaves out, with file
//! modes and symlinks kept.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Context;

use super::ignore::Ignore;

/// Zips `dir`; returns the zip and how many files it holds.
pub fn zip_app(dir: &Path) -> anyhow::Result<(Vec<u8>, usize)> {
    let cfignore = match std::fs::read_to_string(dir.join(".cfignore")) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => return Err(err).context("cannot read .cfignore"),
    };
    let ignore = Ignore::parse(&cfignore);
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut files = 0;
    add_dir(&mut writer, &ignore, dir, "", &mut files)?;
    Ok((writer.finish()?.into_inner(), files))
}

fn add_dir(
    writer: &mut zip::ZipWriter<std::io::Cursor<Vec<u8>>>,
    ignore: &Ignore,
    dir: &Path,
    prefix: &str,
    files: &mut usize,
) -> anyhow::Result<()> {
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .collect::<Result<Vec<_>, _>>()?;
    // Sorted, so that one directory always makes the same zip.
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        let meta = std::fs::symlink_metadata(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if ignore.ignores(&name, meta.is_dir()) {
            continue;
        }
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(meta.permissions().mode() & 0o7777);
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path)?;
            writer.add_symlink(name, target.to_string_lossy(), options)?;
            *files += 1;
        } else if meta.is_dir() {
            writer.add_directory(format!("{name}/"), options)?;
            add_dir(writer, ignore, &path, &format!("{name}/"), files)?;
        } else if meta.is_file() {
            writer.start_file(name, options)?;
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            writer.write_all(&bytes)?;
            *files += 1;
        }
    }
    Ok(())
}
