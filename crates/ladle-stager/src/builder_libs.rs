//! The builder's shared libraries, found once with `ldd`, so that the builder can run inside
//! a stack root filesystem whose libc differs from the host's (or that has none): the host's
//! copies are mounted beside the builder and it is started through the host's dynamic loader.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BuilderLibs {
    /// The ELF interpreter (`ld-linux-x86-64.so.2`); `None` for a static builder.
    pub loader: Option<PathBuf>,
    /// Every library `ldd` resolved, the loader excluded.
    pub libraries: Vec<PathBuf>,
}

impl BuilderLibs {
    /// Runs `ldd` on the builder. A static builder (or no `ldd`) needs nothing mounted.
    pub(crate) fn of(builder: &Path) -> BuilderLibs {
        match Command::new("ldd").arg(builder).output() {
            Ok(out) if out.status.success() => parse_ldd(&String::from_utf8_lossy(&out.stdout)),
            _ => BuilderLibs::default(),
        }
    }

    /// Every host file to mount into the builder's library folder.
    pub(crate) fn files(&self) -> impl Iterator<Item = &PathBuf> {
        self.loader.iter().chain(self.libraries.iter())
    }
}

/// Lines look like `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)`, the loader's like
/// `/lib64/ld-linux-x86-64.so.2 (0x…)`, the vDSO's like `linux-vdso.so.1 (0x…)`.
fn parse_ldd(output: &str) -> BuilderLibs {
    let mut libs = BuilderLibs::default();
    for line in output.lines().map(str::trim) {
        let path_part = match line.split_once("=>") {
            Some((_, resolved)) => resolved.trim(),
            None => line,
        };
        let path = path_part.split_whitespace().next().unwrap_or("");
        if !path.starts_with('/') {
            continue;
        }
        if line.contains("=>") {
            libs.libraries.push(PathBuf::from(path));
        } else {
            libs.loader = Some(PathBuf::from(path));
        }
    }
    libs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ldd_output() {
        let libs = parse_ldd(
            "\tlinux-vdso.so.1 (0x00007ffd)\n\
             \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f7f)\n\
             \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f7e)\n\
             \t/lib64/ld-linux-x86-64.so.2 (0x00007f7f)\n",
        );
        assert_eq!(
            libs.loader,
            Some(PathBuf::from("/lib64/ld-linux-x86-64.so.2"))
        );
        assert_eq!(
            libs.libraries,
            [
                PathBuf::from("/lib/x86_64-linux-gnu/libgcc_s.so.1"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6")
            ]
        );
        assert_eq!(parse_ldd("\tstatically linked\n"), BuilderLibs::default());
    }
}
