//! The compiled builder against the shell buildpacks and apps in `fixtures/`.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::{member, names, text, Workspace};
use ladle_builder::buildpack_dir_name;
use ladle_contract::Phase;
use tar::EntryType;

#[test]
fn detect_mode_stages_with_the_first_buildpack_that_detects() {
    let ws = Workspace::new("plain");
    ws.add_buildpack("detect-fail");
    ws.add_buildpack("detect-pass");
    let run = ws.stage("detect-fail,detect-pass", &[]);
    run.assert_code(0);

    let markers = |stream: &str| -> Vec<String> {
        stream
            .lines()
            .filter(|l| Phase::from_marker(l).is_some())
            .map(str::to_string)
            .collect()
    };
    let expected: Vec<String> = [
        Phase::Detect,
        Phase::Compile,
        Phase::Release,
        Phase::Package,
    ]
    .map(Phase::marker)
    .to_vec();
    assert_eq!(markers(&run.stdout), expected);
    // Both pipes carry the markers, so a buildpack's stderr is tagged with its own phase.
    assert_eq!(markers(&run.stderr), expected);
    assert!(
        run.stdout.contains("-----> detect-pass compiling"),
        "compile output streams: {}",
        run.stdout
    );

    let result = ws.result();
    assert_eq!(result.lifecycle_type, "buildpack");
    assert_eq!(result.process_types["web"], "./start.sh");
    assert_eq!(result.processes[0].process_type, "web");
    let lifecycle = &result.lifecycle_metadata;
    assert_eq!(lifecycle.buildpack_key, "detect-pass");
    assert_eq!(
        lifecycle.detected_buildpack, "Detect Pass",
        "detect stdout names it"
    );
    assert_eq!(lifecycle.buildpacks.len(), 1);
    let details = ws.details();
    assert_eq!(details.detect_output(0, "detect-pass"), Some("Detect Pass"));
    assert!(details.failure.is_none());

    let droplet = ws.droplet();
    assert_eq!(droplet[0].name, "./");
    assert!(
        droplet.iter().all(|m| m.name.starts_with("./")),
        "{:?}",
        names(&droplet)
    );
    for dir in ["./app/", "./deps/", "./profile.d/", "./tmp/", "./logs/"] {
        assert_eq!(member(&droplet, dir).kind, EntryType::Directory, "{dir}");
    }
    assert!(
        !names(&droplet).contains(&"./deps/0/"),
        "compile-only buildpack leaves deps empty"
    );
    assert_eq!(
        text(&droplet, "./app/compiled-marker"),
        "compiled by detect-pass\n"
    );
    assert_eq!(text(&droplet, "./app/.dotfile"), "dotfile\n");
    assert_eq!(member(&droplet, "./app/start.sh").mode, 0o755);
    assert_eq!(member(&droplet, "./app/hello.txt").mode, 0o644);
    let link = member(&droplet, "./app/link-to-hello");
    assert_eq!(
        (link.kind, link.link.as_deref()),
        (EntryType::Symlink, Some("hello.txt"))
    );
    assert!(!names(&droplet).iter().any(|n| n.contains("detect-fail")));
    assert_eq!(
        text(&droplet, "./staging_info.yml"),
        "{\"detected_buildpack\":\"Detect Pass\",\"start_command\":\"./start.sh\"}\n"
    );
}

#[test]
fn nothing_detected_exits_222_and_explains() {
    let ws = Workspace::new("plain");
    ws.add_buildpack("detect-fail");
    let run = ws.stage("detect-fail,not-installed", &[]);
    run.assert_code(222);
    assert!(run
        .stderr
        .contains("None of the buildpacks detected a compatible application"));
    assert!(run
        .stderr
        .contains("malformed buildpack does not contain a /bin dir: not-installed"));
    let failure = ws.details().failure.expect("failure recorded");
    assert_eq!(failure.exit_code, 222);
    assert_eq!(
        failure.message,
        "None of the buildpacks detected a compatible application"
    );
    assert!(ws.result().lifecycle_metadata.buildpacks.is_empty());
    assert!(!ws.droplet_path().exists(), "no droplet on failure");
}

#[test]
fn non_executable_detect_is_skipped_with_a_warning() {
    let ws = Workspace::new("plain");
    let broken = ws.add_buildpack_as("detect-pass", "not-executable");
    fs::set_permissions(broken.join("bin/detect"), fs::Permissions::from_mode(0o644)).unwrap();
    ws.add_buildpack("noop");
    let run = ws.stage("not-executable,noop", &[]);
    run.assert_code(0);
    assert!(run
        .stderr
        .contains("WARNING: buildpack script '/bin/detect' is not executable"));
    assert_eq!(ws.result().lifecycle_metadata.buildpack_key, "noop");
}

#[test]
fn failing_compile_exits_223_naming_buildpack_and_status() {
    let ws = Workspace::new("plain");
    ws.add_buildpack("compile-fail");
    let run = ws.stage("compile-fail", &[]);
    run.assert_code(223);
    let message = "Failed to compile droplet: compile-fail bin/compile exited with status 3";
    assert!(run.stderr.contains(message), "{}", run.stderr);
    assert!(
        run.stderr.contains("compile-fail: failing on purpose"),
        "script stderr passes through"
    );
    let failure = ws.details().failure.expect("failure recorded");
    assert_eq!(
        (failure.exit_code, failure.message.as_str()),
        (223, message)
    );
    assert_eq!(
        ws.result().lifecycle_metadata.buildpack_key,
        "compile-fail",
        "CC learns which one failed"
    );
    assert!(!ws.droplet_path().exists());
}

#[test]
fn failing_release_exits_224() {
    let ws = Workspace::new("plain");
    ws.add_buildpack("release-fail");
    let run = ws.stage("release-fail", &[]);
    run.assert_code(224);
    assert!(run.stderr.contains(
        "Failed to build droplet release: release-fail bin/release exited with status 5"
    ));
    assert!(run.stderr.contains("release-fail: failing on purpose"));
    assert_eq!(ws.details().failure.unwrap().exit_code, 224);
}

#[test]
fn unreadable_release_yaml_exits_224() {
    let ws = Workspace::new("plain");
    ws.add_buildpack("release-bad-yaml");
    let run = ws.stage("release-bad-yaml", &[]);
    run.assert_code(224);
    assert!(run
        .stderr
        .contains("Failed to build droplet release: buildpack's release output invalid"));
}

#[test]
fn failing_supply_exits_225_before_the_final_buildpack_runs() {
    let ws = Workspace::new("plain");
    ws.add_buildpack("supply-fail");
    ws.add_buildpack("detect-pass");
    let run = ws.stage("supply-fail,detect-pass", &["-skipDetect"]);
    run.assert_code(225);
    assert!(run
        .stderr
        .contains("Failed to run all supply scripts: supply-fail bin/supply exited with status 4"));
    assert!(!ws.app().join("compiled-marker").exists());
    let result = ws.result();
    let keys: Vec<&str> = result
        .lifecycle_metadata
        .buildpacks
        .iter()
        .map(|b| b.key.as_str())
        .collect();
    assert_eq!(keys, vec!["supply-fail", "detect-pass"]);
}

#[test]
fn non_final_buildpack_without_supply_exits_225() {
    let ws = Workspace::new("plain");
    ws.add_buildpack("detect-pass");
    ws.add_buildpack("noop");
    let run = ws.stage("detect-pass,noop", &["-skipDetect"]);
    run.assert_code(225);
    assert!(run
        .stderr
        .contains("does not support multi-buildpack apps: detect-pass has no bin/supply"));
}

#[test]
fn supply_then_finalize_builds_a_multi_buildpack_droplet() {
    let ws = Workspace::new("plain");
    ws.add_buildpack("supply-ok");
    ws.add_buildpack("finalize-profile-d");
    let run = ws.stage("supply-ok,finalize-profile-d", &["-skipDetect"]);
    run.assert_code(0);
    assert!(run.stdout.contains(&Phase::Finalize.marker()));

    let result = ws.result();
    // final launch.yml replaces bin/release (which would exit 9) and overrides the supplied web.
    assert_eq!(result.process_types["web"], "./finalized-web");
    assert_eq!(result.process_types["supplied-worker"], "./supplied-worker");
    assert_eq!(result.sidecars.len(), 1);
    assert_eq!(result.sidecars[0].name, "supplied-sidecar");
    assert_eq!(result.sidecars[0].process_types, vec!["web"]);
    assert_eq!(result.sidecars[0].memory, Some(32));
    assert!(!result.process_types.contains_key("supplied-sidecar"));

    let buildpacks = &result.lifecycle_metadata.buildpacks;
    assert_eq!(
        (
            buildpacks[0].name.as_str(),
            buildpacks[0].version.as_deref()
        ),
        ("Supply OK", Some("1.0.0"))
    );
    assert_eq!(
        buildpacks[0].output_metadata.as_ref().unwrap()["tool"],
        "supplied-tool"
    );
    assert_eq!(
        buildpacks[1].config.as_ref().unwrap()["entrypoint_prefix"],
        "env"
    );
    assert_eq!(
        result.lifecycle_metadata.detected_buildpack,
        "Finalize Profile"
    );
    assert_eq!(
        result.lifecycle_metadata.buildpack_key,
        "finalize-profile-d"
    );

    let droplet = ws.droplet();
    assert_eq!(
        text(&droplet, "./profile.d/finalize-profile-d.sh"),
        "export FINALIZED=yes\n"
    );
    assert_eq!(member(&droplet, "./deps/0/bin/supplied-tool").mode, 0o755);
    assert_eq!(
        text(&droplet, "./deps/1/supplied-by-final"),
        "supply before finalize\n"
    );
    assert_eq!(
        text(&droplet, "./app/finalized-marker"),
        "finalized with deps index 1\n"
    );
    let info: serde_json::Value =
        serde_json::from_str(&text(&droplet, "./staging_info.yml")).unwrap();
    assert_eq!(info["start_command"], "./finalized-web");
    assert_eq!(info["config"]["entrypoint_prefix"], "env");

    let cache = ws.cache_output();
    let supply_marker = format!(
        "./{}/supply-ok-cache-marker",
        buildpack_dir_name("supply-ok")
    );
    assert_eq!(text(&cache, &supply_marker), "supply-ok ran\n");
    assert!(names(&cache).contains(&"./final/"));
}

#[test]
fn legacy_compile_after_supply_warns_and_merges_processes() {
    let ws = Workspace::new("plain");
    ws.add_buildpack("supply-ok");
    ws.add_buildpack("detect-pass");
    let run = ws.stage("supply-ok,detect-pass", &["-skipDetect"]);
    run.assert_code(0);
    assert!(run
        .stderr
        .contains("Warning: the last buildpack is not compatible with multi-buildpack apps"));
    let result = ws.result();
    assert_eq!(
        result.process_types["web"], "./start.sh",
        "release replaces the supplied web"
    );
    assert_eq!(result.process_types["supplied-worker"], "./supplied-worker");
    assert_eq!(
        result.lifecycle_metadata.detected_buildpack, "",
        "skipDetect without config.yml has no name"
    );
    let droplet = ws.droplet();
    assert!(names(&droplet).contains(&"./deps/0/config.yml"));
    assert!(
        !names(&droplet).contains(&"./deps/1/"),
        "compile removes its own deps dir"
    );
}

#[test]
fn procfile_overrides_and_extends_buildpack_processes() {
    let ws = Workspace::new("with-procfile");
    ws.add_buildpack("detect-pass");
    ws.stage("detect-pass", &[]).assert_code(0);
    let result = ws.result();
    assert_eq!(result.process_types["web"], "./server --port $PORT");
    assert_eq!(result.process_types["worker"], "./worker.sh");
    let info = text(&ws.droplet(), "./staging_info.yml");
    assert!(
        info.contains("\"start_command\":\"./server --port $PORT\""),
        "{info}"
    );
}

#[test]
fn invalid_procfile_exits_1() {
    let ws = Workspace::new("bad-procfile");
    ws.add_buildpack("detect-pass");
    let run = ws.stage("detect-pass", &[]);
    run.assert_code(1);
    assert!(run
        .stderr
        .contains("Failed to read command from Procfile: invalid YAML"));
    assert_eq!(ws.details().failure.unwrap().exit_code, 1);
}

#[test]
fn missing_web_process_warns_but_stages() {
    let ws = Workspace::new("plain");
    ws.add_buildpack("no-web");
    let run = ws.stage("no-web", &[]);
    run.assert_code(0);
    assert!(run
        .stderr
        .contains("No start command specified by buildpack or via Procfile."));
    assert!(run
        .stderr
        .contains("App will not start unless a command is provided at runtime."));
    let result = ws.result();
    assert_eq!(result.process_types["worker"], "./work");
    assert!(!result.process_types.contains_key("web"));
    let info = text(&ws.droplet(), "./staging_info.yml");
    assert!(info.contains("\"start_command\":\"\""), "{info}");
}

#[test]
fn build_cache_round_trips_and_drops_stale_entries() {
    let first = Workspace::new("plain");
    first.add_buildpack("cache-counter");
    first.stage("cache-counter", &[]).assert_code(0);
    assert_eq!(text(&first.droplet(), "./app/cache-counter"), "1\n");

    let second = Workspace::new("plain");
    second.add_buildpack("cache-counter");
    fs::create_dir_all(second.cache()).unwrap();
    let archive = fs::File::open(first.cache_output_path()).unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(archive))
        .unpack(second.cache())
        .unwrap();
    fs::write(second.cache().join("pre-multi-buildpack-file"), "stale").unwrap();

    second.stage("cache-counter", &[]).assert_code(0);
    assert_eq!(text(&second.droplet(), "./app/cache-counter"), "2\n");
    let cache = second.cache_output();
    assert_eq!(text(&cache, "./final/counter"), "2\n");
    assert!(
        !names(&cache).contains(&"./pre-multi-buildpack-file"),
        "{:?}",
        names(&cache)
    );
}

#[test]
fn buildpacks_see_the_builders_environment() {
    let ws = Workspace::new("plain");
    ws.add_buildpack("env-dump");
    let env = [
        ("CF_STACK", "cflinuxfs4"),
        ("VCAP_SERVICES", "{\"db\":[]}"),
        ("MEMORY_LIMIT", "1024m"),
    ];
    ws.stage_with_env("env-dump", &[], &env).assert_code(0);
    let dumped = text(&ws.droplet(), "./app/staging-env");
    for line in [
        "CF_STACK=cflinuxfs4",
        "VCAP_SERVICES={\"db\":[]}",
        "MEMORY_LIMIT=1024m",
    ] {
        assert!(
            dumped.lines().any(|l| l == line),
            "{line} missing from\n{dumped}"
        );
    }
}

#[test]
fn ten_buildpacks_get_zero_padded_deps_indexes() {
    let ws = Workspace::new("plain");
    ws.add_buildpack("supply-ok");
    ws.add_buildpack("detect-pass");
    let order = format!("{}detect-pass", "supply-ok,".repeat(9));
    ws.stage(&order, &["-skipDetect"]).assert_code(0);
    let droplet = ws.droplet();
    for index in ["00", "05", "08"] {
        assert!(
            names(&droplet).contains(&format!("./deps/{index}/config.yml").as_str()),
            "{index}"
        );
    }
    let result = ws.result();
    assert_eq!(result.lifecycle_metadata.buildpacks.len(), 10);
    assert!(result.lifecycle_metadata.buildpacks[..9]
        .iter()
        .all(|b| b.name == "Supply OK"));
    // CF's quirk: launch.yml is looked up under the unpadded index, so deps/00/launch.yml is
    // not merged and only the final buildpack's release counts.
    assert!(!result.process_types.contains_key("supplied-worker"));
    assert_eq!(result.process_types["web"], "./start.sh");
}

#[test]
fn failure_after_supply_reports_known_buildpack_metadata() {
    let ws = Workspace::new("plain");
    ws.add_buildpack("supply-ok");
    ws.add_buildpack("compile-fail");
    ws.stage("supply-ok,compile-fail", &["-skipDetect"])
        .assert_code(223);
    let result = ws.result();
    assert_eq!(result.lifecycle_metadata.buildpacks[0].name, "Supply OK");
    assert_eq!(result.lifecycle_metadata.buildpack_key, "compile-fail");
    assert_eq!(ws.details().failure.unwrap().exit_code, 223);
}

/// The keys of a JSON object, checked against CF's `models.go`: every `required` key present,
/// nothing beyond `required` and `optional`.
fn assert_cf_keys(what: &str, value: &serde_json::Value, required: &[&str], optional: &[&str]) {
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object: {value}"));
    for key in object.keys() {
        assert!(
            required.contains(&key.as_str()) || optional.contains(&key.as_str()),
            "{what} has {key:?}, which Cloud Foundry's result.json does not: {value}"
        );
    }
    for key in required {
        assert!(object.contains_key(*key), "{what} lacks {key:?}: {value}");
    }
}

fn assert_cf_result_json(result: &serde_json::Value) {
    assert_cf_keys(
        "result.json",
        result,
        &[
            "lifecycle_type",
            "execution_metadata",
            "process_types",
            "lifecycle_metadata",
        ],
        &["processes", "sidecars"],
    );
    let lifecycle = &result["lifecycle_metadata"];
    assert_cf_keys(
        "lifecycle_metadata",
        lifecycle,
        &["buildpack_key", "detected_buildpack", "buildpacks"],
        &[],
    );
    for buildpack in lifecycle["buildpacks"].as_array().unwrap() {
        assert_cf_keys(
            "a buildpack",
            buildpack,
            &["key", "name"],
            &["version", "config", "output_metadata"],
        );
    }
    for process in result["processes"].as_array().into_iter().flatten() {
        assert_cf_keys("a process", process, &["type", "command"], &[]);
    }
    for sidecar in result["sidecars"].as_array().into_iter().flatten() {
        assert_cf_keys(
            "a sidecar",
            sidecar,
            &["name", "process_types", "command"],
            &["memory"],
        );
    }
}

#[test]
fn result_json_is_cloud_foundrys_document_and_nothing_more() {
    // Detect mode: what detect printed goes to ladle-staging.json, not result.json.
    let ws = Workspace::new("plain");
    ws.add_buildpack("detect-pass");
    ws.stage("detect-pass", &[]).assert_code(0);
    assert_cf_result_json(&ws.result_json());
    assert_eq!(
        ws.details().detect_output(0, "detect-pass"),
        Some("Detect Pass")
    );

    // Every optional field CF knows, filled: version, config, output_metadata, sidecars.
    let ws = Workspace::new("plain");
    ws.add_buildpack("supply-ok");
    ws.add_buildpack("finalize-profile-d");
    ws.stage("supply-ok,finalize-profile-d", &["-skipDetect"])
        .assert_code(0);
    let result = ws.result_json();
    assert_cf_result_json(&result);
    let buildpacks = &result["lifecycle_metadata"]["buildpacks"];
    for optional in ["version", "output_metadata"] {
        assert!(buildpacks[0].get(optional).is_some(), "{optional}");
    }
    assert!(buildpacks[1].get("config").is_some());
    assert!(result.get("sidecars").is_some());

    // Failures: the builder's words go to ladle-staging.json too.
    let ws = Workspace::new("plain");
    ws.add_buildpack("compile-fail");
    ws.stage("compile-fail", &[]).assert_code(223);
    assert_cf_result_json(&ws.result_json());
    assert_eq!(ws.details().failure.unwrap().exit_code, 223);
}

#[test]
fn unknown_flag_exits_2_and_empty_value_exits_1() {
    let ws = Workspace::new("plain");
    let mut args = ws.args("noop", &["-bogus=1"]);
    let run = common::run_builder(&args, &[]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("flag provided but not defined: -bogus"),
        "{}",
        run.stderr
    );

    args.pop();
    args[0] = "-buildDir=".into();
    let run = common::run_builder(&args, &[]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("missing flag: -buildDir"),
        "{}",
        run.stderr
    );
    assert!(!ws.path("output").exists(), "nothing staged");
}
