//! The shared table through the shared zip reader: what every reader of zips sees.

use std::io::{self, Cursor};

use ladle_archive::zip_file::{self, ZipFileError};
use ladle_archive::{cases, Limits, Placement};

/// Lists, checks and reads every placed file to the end, as an extractor would.
fn read_all(bytes: Vec<u8>) -> Result<usize, ZipFileError> {
    let mut checked = zip_file::check(Cursor::new(bytes), &Limits::BUILDPACK)?;
    for placed in &checked.plan {
        if let Placement::File { size } = placed.kind {
            let mut entry = checked.archive.by_index(placed.index).unwrap();
            let name = entry.name().to_string();
            zip_file::copy_exact(&mut entry, &name, size, &mut io::sink())?;
        }
    }
    Ok(checked.plan.len())
}

#[test]
fn every_zip_case_gets_its_verdict() {
    let mut seen = 0;
    for case in cases::table() {
        let Some(bytes) = case.zip() else {
            continue;
        };
        seen += 1;
        match (case.refusal(), read_all(bytes)) {
            (None, Ok(placed)) => assert!(placed > 0, "{}: something placed", case.name),
            (None, Err(err)) => panic!("{}: refused: {err}", case.name),
            (Some(words), Ok(_)) => panic!("{}: accepted, expected {words:?}", case.name),
            (Some(words), Err(err)) => assert!(
                err.to_string().contains(words),
                "{}: {err} lacks {words:?}",
                case.name
            ),
        }
    }
    assert!(seen >= 18, "only {seen} zip cases ran");
}

#[test]
fn placements_carry_clean_paths_and_modes() {
    let case = cases::named("backslashes separate folders");
    let checked = zip_file::check(Cursor::new(case.zip().unwrap()), &Limits::BUILDPACK).unwrap();
    assert_eq!(
        checked.plan[0].path,
        std::path::Path::new("win/dir/file.txt")
    );
    let case = cases::named("set-id and sticky bits dropped");
    let mut checked =
        zip_file::check(Cursor::new(case.zip().unwrap()), &Limits::BUILDPACK).unwrap();
    let stored = checked
        .archive
        .by_index_raw(0)
        .unwrap()
        .unix_mode()
        .unwrap();
    assert_eq!(
        stored & 0o7777,
        0o4755,
        "the zip really holds a set-uid file"
    );
    let modes: Vec<u32> = checked.plan.iter().map(|p| p.mode).collect();
    assert_eq!(modes, [0o755, 0o755, 0o755]);
}

#[test]
fn garbage_is_not_a_zip() {
    let err = read_all(b"this is not a zip at all".to_vec()).unwrap_err();
    assert!(matches!(err, ZipFileError::Corrupt(_)), "{err:?}");
}
