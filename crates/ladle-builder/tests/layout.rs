//! Where the builder finds a buildpack in `-buildpacksDir`, by Cloud Foundry's rule: under the
//! key's xxhash64 folder name or the md5 one older releases used, with `bin/` at the top or
//! inside the folder's one and only entry (GitHub's archive zips wrap everything in
//! `<repository>-<branch>/`).

mod common;

use std::fs;

use common::{text, Workspace};
use ladle_builder::buildpack_dir_name;
use ladle_builder::locate::legacy_buildpack_dir_name;

const KEY: &str = "my-buildpack";

/// Stages `KEY` in detect mode and in skipDetect mode; returns the detect output.
fn stages_in_both_modes(install: impl Fn(&Workspace), compiled_by: &str) -> String {
    let mut detect_output = String::new();
    for skip_detect in [false, true] {
        let ws = Workspace::new("plain");
        install(&ws);
        let extra: &[&str] = if skip_detect { &["-skipDetect"] } else { &[] };
        let run = ws.stage(KEY, extra);
        run.assert_code(0);
        assert_eq!(
            text(&ws.droplet(), "./app/compiled-marker"),
            format!("compiled by {compiled_by}\n"),
            "skipDetect={skip_detect}"
        );
        assert_eq!(ws.result().lifecycle_metadata.buildpack_key, KEY);
        if !skip_detect {
            detect_output = ws
                .details()
                .detect_output(0, KEY)
                .expect("detect output recorded")
                .to_string();
        }
    }
    detect_output
}

#[test]
fn plain_buildpacks_are_found_under_the_xxhash_or_the_md5_name() {
    for dir_name in [buildpack_dir_name(KEY), legacy_buildpack_dir_name(KEY)] {
        let install = |ws: &Workspace| {
            ws.add_buildpack_in("detect-pass", &dir_name);
        };
        assert_eq!(stages_in_both_modes(install, "detect-pass"), "Detect Pass");
    }
}

#[test]
fn a_buildpack_wrapped_in_one_folder_is_found_under_the_xxhash_or_the_md5_name() {
    for dir_name in [buildpack_dir_name(KEY), legacy_buildpack_dir_name(KEY)] {
        let install = |ws: &Workspace| {
            let installed = ws.add_buildpack_in("github-archive", &dir_name);
            assert!(installed.join("github-archive-main/bin/detect").is_file());
        };
        assert_eq!(
            stages_in_both_modes(install, "github-archive"),
            "GitHub Archive",
            "{dir_name}"
        );
    }
}

#[test]
fn an_empty_xxhash_folder_hands_over_to_a_wrapped_md5_one() {
    let install = |ws: &Workspace| {
        fs::create_dir_all(ws.path("buildpacks").join(buildpack_dir_name(KEY))).unwrap();
        ws.add_buildpack_in("github-archive", &legacy_buildpack_dir_name(KEY));
    };
    stages_in_both_modes(install, "github-archive");
}

/// Stages `KEY` in both modes and expects it not to be found.
fn not_found_in_either_mode(install: impl Fn(&Workspace)) {
    for (extra, code) in [(&[][..], 222), (&["-skipDetect"][..], 225)] {
        let ws = Workspace::new("plain");
        install(&ws);
        let run = ws.stage(KEY, extra);
        run.assert_code(code);
        assert!(
            run.stderr.contains(&format!(
                "malformed buildpack does not contain a /bin dir: {KEY}"
            )),
            "{}",
            run.stderr
        );
        assert!(!ws.droplet_path().exists());
    }
}

#[test]
fn a_folder_whose_one_entry_is_a_file_is_not_a_wrapper() {
    not_found_in_either_mode(|ws| {
        let dir = ws.path("buildpacks").join(buildpack_dir_name(KEY));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("github-archive-main.zip"), b"PK\x05\x06").unwrap();
    });
}

#[test]
fn a_hidden_file_beside_the_wrapping_folder_counts_as_a_second_entry() {
    // CF counts every entry, dotfiles included (a zip made on a Mac with `.DS_Store` fails there too).
    not_found_in_either_mode(|ws| {
        let dir = ws.add_buildpack_in("github-archive", &buildpack_dir_name(KEY));
        fs::write(dir.join(".DS_Store"), b"").unwrap();
    });
}

#[test]
fn two_folders_are_no_wrapper() {
    not_found_in_either_mode(|ws| {
        let dir = ws.add_buildpack_in("github-archive", &buildpack_dir_name(KEY));
        fs::create_dir(dir.join("docs")).unwrap();
    });
}
