//! The wire format, one reviewed snapshot per body: every resource view (each carries today's
//! fields and the 2015 fields side by side, ADR 0003), the list envelope and the discovery
//! documents, rendered from fixed records so that the files change only when a body does.
//! The error body's snapshots live beside `ApiError` in `api/error.rs`.

use serde_json::Value;

use super::*;
use crate::db::apps::AppRecord;
use crate::db::buildpacks::BuildpackRecord;
use crate::db::builds::BuildRecord;
use crate::db::droplets::DropletRecord;
use crate::db::jobs::JobRecord;
use crate::db::organizations::OrganizationRecord;
use crate::db::packages::PackageRecord;
use crate::db::processes::ProcessRecord;
use crate::db::roles::RoleRecord;
use crate::db::spaces::SpaceRecord;
use crate::db::stacks::StackRecord;
use crate::db::staging_logs::LogRow;
use crate::db::users::UserRecord;
use crate::messages::list::ListParams;

const ORG: &str = "7d3c1a52-0a4e-4f57-9d3e-000000000001";
const SPACE: &str = "7d3c1a52-0a4e-4f57-9d3e-000000000002";
const USER: &str = "7d3c1a52-0a4e-4f57-9d3e-000000000003";
const ROLE: &str = "7d3c1a52-0a4e-4f57-9d3e-000000000004";
const STACK: &str = "7d3c1a52-0a4e-4f57-9d3e-000000000005";
const APP: &str = "7d3c1a52-0a4e-4f57-9d3e-000000000006";
const WORKER: &str = "7d3c1a52-0a4e-4f57-9d3e-000000000007";
const PACKAGE: &str = "7d3c1a52-0a4e-4f57-9d3e-000000000008";
const BUILDPACK: &str = "7d3c1a52-0a4e-4f57-9d3e-000000000009";
const DROPLET: &str = "7d3c1a52-0a4e-4f57-9d3e-00000000000a";
const BUILD: &str = "7d3c1a52-0a4e-4f57-9d3e-00000000000b";
const JOB: &str = "7d3c1a52-0a4e-4f57-9d3e-00000000000c";

const CREATED: &str = "2026-01-02T03:04:05.000001Z";
const UPDATED: &str = "2026-01-02T03:09:07.654321Z";
const SHA1: &str = "4c6f2e3fa1b0a6d0c3b2b1f0e9d8c7b6a5f4e3d2";
const SHA256: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// The snapshot file holds the body alone (no test expression), so rewriting a test around an
/// unchanged body leaves the file as it is.
fn snapshot(name: &str, body: Value) {
    insta::with_settings!({ omit_expression => true }, {
        insta::assert_json_snapshot!(name, body);
    });
}

fn links() -> Links {
    Links::new("https://api.ladle.example/")
}

fn org() -> OrganizationRecord {
    OrganizationRecord {
        guid: ORG.into(),
        name: "acme".into(),
        suspended: 0,
        created_at: CREATED.into(),
        updated_at: None,
    }
}

fn space() -> SpaceRecord {
    SpaceRecord {
        guid: SPACE.into(),
        name: "dev".into(),
        organization_guid: ORG.into(),
        created_at: CREATED.into(),
        updated_at: Some(UPDATED.into()),
    }
}

fn app(current_droplet: Option<&str>) -> AppRecord {
    AppRecord {
        guid: APP.into(),
        name: "hello".into(),
        space_guid: SPACE.into(),
        desired_state: "STOPPED".into(),
        environment_variables: r#"{"GREETING":"hello","DEBUG":"1"}"#.into(),
        lifecycle_buildpacks: r#"["ruby","https://github.com/cloudfoundry/go-buildpack"]"#.into(),
        lifecycle_stack: Some("cflinuxfs4".into()),
        current_droplet_guid: current_droplet.map(str::to_string),
        created_at: CREATED.into(),
        updated_at: Some(UPDATED.into()),
        metadata: r#"{"labels":{"team":"a"},"annotations":{"owner":"ann"}}"#.into(),
    }
}

fn web(command: Option<&str>) -> ProcessRecord {
    ProcessRecord {
        guid: APP.into(),
        app_guid: APP.into(),
        process_type: "web".into(),
        command: command.map(str::to_string),
        instances: 1,
        memory_in_mb: 1024,
        disk_in_mb: 1024,
        created_at: CREATED.into(),
        updated_at: None,
    }
}

fn droplet(state: &str) -> DropletRecord {
    DropletRecord {
        guid: DROPLET.into(),
        app_guid: APP.into(),
        package_guid: Some(PACKAGE.into()),
        build_guid: None,
        state: state.into(),
        error_id: None,
        error_message: None,
        buildpack_guid: None,
        buildpack_git_url: None,
        requested_buildpacks: "[]".into(),
        stack: Some("cflinuxfs4".into()),
        memory_limit_mb: 1024,
        disk_limit_mb: 4096,
        environment_variables: r#"{"CUSTOM_STAGING_VAR":"hello","CF_STACK":"cflinuxfs4"}"#.into(),
        sha1: None,
        sha256: None,
        detected_start_command: None,
        process_types: None,
        buildpacks_metadata: None,
        execution_metadata: None,
        created_at: CREATED.into(),
        updated_at: None,
    }
}

fn staged_droplet() -> DropletRecord {
    DropletRecord {
        state: "STAGED".into(),
        buildpack_guid: Some(BUILDPACK.into()),
        requested_buildpacks: r#"["ruby"]"#.into(),
        sha1: Some(SHA1.into()),
        sha256: Some(SHA256.into()),
        detected_start_command: Some("bundle exec rackup".into()),
        process_types: Some(r#"{"web":"bundle exec rackup","worker":"bundle exec sidekiq"}"#.into()),
        buildpacks_metadata: Some(
            r#"[{"name":"ruby","detect_output":"ruby 3.3","buildpack_name":"ruby_buildpack","version":"1.10.0"}]"#
                .into(),
        ),
        execution_metadata: Some("".into()),
        updated_at: Some(UPDATED.into()),
        ..droplet("STAGED")
    }
}

fn build(state: &str, error: Option<&str>) -> BuildRecord {
    BuildRecord {
        guid: BUILD.into(),
        app_guid: APP.into(),
        package_guid: PACKAGE.into(),
        droplet_guid: Some(DROPLET.into()),
        state: state.into(),
        error: error.map(str::to_string),
        lifecycle: r#"{"type":"buildpack","data":{"buildpacks":["ruby"],"stack":"cflinuxfs4"}}"#
            .into(),
        staging_memory_in_mb: 1024,
        staging_disk_in_mb: 4096,
        created_by: format!(r#"{{"guid":"{USER}","name":"ann","email":"ann@example.com"}}"#),
        metadata: r#"{"labels":{},"annotations":{}}"#.into(),
        created_at: CREATED.into(),
        updated_at: Some(UPDATED.into()),
    }
}

fn package(kind: &str, state: &str) -> PackageRecord {
    let docker = kind == "docker";
    let ready_bits = !docker && state == "READY";
    PackageRecord {
        guid: PACKAGE.into(),
        app_guid: APP.into(),
        package_type: kind.into(),
        state: state.into(),
        sha1: ready_bits.then(|| SHA1.to_string()),
        sha256: ready_bits.then(|| SHA256.to_string()),
        error: None,
        docker_image: docker.then(|| "registry.example/hello:1".to_string()),
        docker_username: docker.then(|| "robot".to_string()),
        docker_password: docker.then(|| "hunter2".to_string()),
        created_at: CREATED.into(),
        updated_at: ready_bits.then(|| UPDATED.to_string()),
        metadata: "{}".into(),
    }
}

fn job(state: &str, errors: &str) -> JobRecord {
    JobRecord {
        guid: JOB.into(),
        kind: "user".into(),
        operation: "app.delete".into(),
        state: state.into(),
        resource_guid: Some(APP.into()),
        payload: format!(r#"{{"user_guid":"{USER}"}}"#),
        errors: errors.into(),
        attempts: 0,
        lease_owner: None,
        lease_expires_at: None,
        created_at: CREATED.into(),
        updated_at: Some(UPDATED.into()),
    }
}

#[test]
fn organization_view() {
    snapshot("organization", organization::present(&org(), &links()));
}

#[test]
fn space_view() {
    snapshot("space", space::present(&space(), &links()));
}

#[test]
fn user_views() {
    let named = UserRecord {
        guid: USER.into(),
        username: Some("ann".into()),
        email: Some("ann@example.com".into()),
        created_at: CREATED.into(),
        updated_at: None,
    };
    snapshot("user", user::present(&named, &links()));
    let client = UserRecord {
        username: None,
        email: None,
        ..named
    };
    snapshot("user_client", user::present(&client, &links()));
}

#[test]
fn role_views() {
    let in_space = RoleRecord {
        guid: ROLE.into(),
        role_type: "space_developer".into(),
        user_guid: USER.into(),
        organization_guid: None,
        space_guid: Some(SPACE.into()),
        created_at: CREATED.into(),
        updated_at: None,
    };
    snapshot("role_space", role::present(&in_space, &links()));
    let in_org = RoleRecord {
        role_type: "organization_manager".into(),
        organization_guid: Some(ORG.into()),
        space_guid: None,
        ..in_space
    };
    snapshot("role_organization", role::present(&in_org, &links()));
}

#[test]
fn stack_views() {
    let default = StackRecord {
        guid: STACK.into(),
        name: "cflinuxfs4".into(),
        description: Some("Cloud Foundry Linux-based filesystem (Ubuntu 22.04)".into()),
        rootfs: None,
        created_at: CREATED.into(),
        updated_at: None,
    };
    snapshot(
        "stack_default",
        stack::present(&default, "cflinuxfs4", &links()),
    );
    let custom = StackRecord {
        name: "busybox".into(),
        description: None,
        rootfs: Some("/var/lib/ladle/stacks/busybox".into()),
        ..default
    };
    snapshot(
        "stack_custom",
        stack::present(&custom, "cflinuxfs4", &links()),
    );
}

#[test]
fn app_views() {
    snapshot(
        "app_for_developer",
        app::present(&app(Some(DROPLET)), 3, true, "cflinuxfs4", &links()),
    );
    let auditor = AppRecord {
        lifecycle_stack: None,
        lifecycle_buildpacks: "[]".into(),
        updated_at: None,
        metadata: "{}".into(),
        ..app(None)
    };
    snapshot(
        "app_for_auditor",
        app::present(&auditor, 0, false, "cflinuxfs4", &links()),
    );
}

#[test]
fn app_variable_views() {
    snapshot(
        "app_environment_variables",
        app::present_env_vars(&app(None), &links()),
    );
    let web = ProcessRecord {
        memory_in_mb: 256,
        disk_in_mb: 512,
        ..web(Some("./server"))
    };
    snapshot(
        "app_env",
        app::present_env(
            &app(Some(DROPLET)),
            &space(),
            Some(&org()),
            Some(&web),
            &links(),
        ),
    );
}

#[test]
fn process_views() {
    let shown = web(Some("bundle exec rackup"));
    snapshot("process", process::present(&shown, SPACE, true, &links()));
    let hidden = ProcessRecord {
        guid: WORKER.into(),
        process_type: "worker".into(),
        instances: 0,
        updated_at: Some(UPDATED.into()),
        ..web(Some("bundle exec sidekiq"))
    };
    snapshot(
        "process_redacted",
        process::present(&hidden, SPACE, false, &links()),
    );
}

#[test]
fn package_views() {
    snapshot(
        "package_bits_ready",
        package::present(&package("bits", "READY"), &links()),
    );
    snapshot(
        "package_bits_awaiting_upload",
        package::present(&package("bits", "AWAITING_UPLOAD"), &links()),
    );
    let failed = PackageRecord {
        error: Some("Package upload failed: the zip is invalid".into()),
        ..package("bits", "FAILED")
    };
    snapshot("package_bits_failed", package::present(&failed, &links()));
    snapshot(
        "package_docker",
        package::present(&package("docker", "READY"), &links()),
    );
}

#[test]
fn buildpack_view() {
    let ready = BuildpackRecord {
        guid: BUILDPACK.into(),
        name: "ruby".into(),
        stack: Some("cflinuxfs4".into()),
        position: 1,
        enabled: 1,
        locked: 0,
        state: "READY".into(),
        filename: Some("ruby_buildpack-cflinuxfs4-v1.10.0.zip".into()),
        sha256: Some(SHA256.into()),
        created_at: CREATED.into(),
        updated_at: Some(UPDATED.into()),
        metadata: r#"{"labels":{"tier":"1"},"annotations":{}}"#.into(),
    };
    snapshot("buildpack", buildpack::present(&ready, &links()));
}

#[test]
fn droplet_views() {
    snapshot(
        "droplet_staged",
        droplet::present(&staged_droplet(), &links(), true),
    );
    snapshot(
        "droplet_staged_redacted",
        droplet::present(&staged_droplet(), &links(), false),
    );
    let failed = DropletRecord {
        state: "FAILED".into(),
        build_guid: Some(BUILD.into()),
        buildpack_git_url: Some("https://github.com/cloudfoundry/go-buildpack".into()),
        error_id: Some("BuildpackCompileFailed".into()),
        error_message: Some(
            "App staging failed in the buildpack compile phase: exit status 3".into(),
        ),
        updated_at: Some(UPDATED.into()),
        ..droplet("FAILED")
    };
    snapshot("droplet_failed", droplet::present(&failed, &links(), true));
    snapshot(
        "droplet_pending",
        droplet::present(&droplet("PENDING"), &links(), true),
    );
    snapshot(
        "droplet_current_relationship",
        droplet::present_current_relationship(APP, Some(DROPLET), &links()),
    );
}

#[test]
fn build_views() {
    snapshot(
        "build_staged",
        build::present(&build("STAGED", None), &links()),
    );
    snapshot(
        "build_staging",
        build::present(&build("STAGING", None), &links()),
    );
    let error = "BuildpackCompileFailed - App staging failed in the buildpack compile phase";
    snapshot(
        "build_failed",
        build::present(&build("FAILED", Some(error)), &links()),
    );
}

/// A buildpack URL with credentials, as a developer may give it; no view shows them.
const CREDENTIALED_URL: &str = "https://bp-user:s3cret-pw@git.example/org/bp.git#v1";

#[test]
fn credentialed_buildpack_url_views() {
    let app = AppRecord {
        lifecycle_buildpacks: format!(r#"["ruby","{CREDENTIALED_URL}"]"#),
        ..app(None)
    };
    let build = BuildRecord {
        lifecycle: format!(
            r#"{{"type":"buildpack","data":{{"buildpacks":["{CREDENTIALED_URL}"],"stack":"cflinuxfs4"}}}}"#
        ),
        ..build("STAGED", None)
    };
    let droplet = DropletRecord {
        buildpack_guid: None,
        buildpack_git_url: Some(CREDENTIALED_URL.into()),
        requested_buildpacks: format!(r#"["{CREDENTIALED_URL}"]"#),
        buildpacks_metadata: Some(format!(
            r#"[{{"name":"{CREDENTIALED_URL}","detect_output":null,"buildpack_name":"bp","version":"1.0.0"}}]"#
        )),
        ..staged_droplet()
    };
    let views = [
        (
            "app_credentialed_buildpack_url",
            app::present(&app, 1, true, "cflinuxfs4", &links()),
        ),
        (
            "build_credentialed_buildpack_url",
            build::present(&build, &links()),
        ),
        (
            "droplet_credentialed_buildpack_url",
            droplet::present(&droplet, &links(), true),
        ),
    ];
    for (name, view) in views {
        assert!(!view.to_string().contains("s3cret-pw"), "{name}: {view}");
        snapshot(name, view);
    }
}

#[test]
fn job_views() {
    snapshot(
        "job_complete",
        job::present(&job("COMPLETE", "[]"), &links()),
    );
    let errors = r#"[{"code":10001,"title":"UnknownError","detail":"An unknown error occurred."}]"#;
    snapshot("job_failed", job::present(&job("FAILED", errors), &links()));
}

#[test]
fn list_envelope() {
    let params = ListParams::parse(
        Some("names=hello,world&space_guids[]=s1&order_by=-created_at&per_page=2&page=2"),
        &["names", "space_guids"],
    )
    .unwrap();
    let resources = vec![
        organization::present(&org(), &links()),
        space::present(&space(), &links()),
    ];
    snapshot(
        "list_middle_page",
        pagination::present(resources, 5, &params, "/v3/apps", &links()),
    );
    let first = ListParams::parse(None, &[]).unwrap();
    snapshot(
        "list_empty",
        pagination::present(vec![], 0, &first, "/v3/organizations", &links()),
    );
}

#[test]
fn discovery_documents() {
    snapshot("root", root::root(&links()));
    snapshot("v3", root::v3(&links()));
    snapshot("v3_info", root::v3_info(&links()));
    snapshot("v2_info", root::v2_info(&links()));
}

#[test]
fn staging_log_lines() {
    let line = |seq, phase: &str, stream: &str, text: &str| LogRow {
        seq,
        phase: phase.into(),
        stream: stream.into(),
        line: text.into(),
        created_at: CREATED.into(),
    };
    let chunk = staging_log::present(&[
        line(0, "detect", "stdout", "-----> ruby 3.3"),
        line(1, "compile", "stderr", "warning: no Gemfile.lock"),
    ]);
    let text = String::from_utf8(chunk.to_vec()).unwrap();
    insta::with_settings!({ omit_expression => true }, {
        insta::assert_snapshot!("staging_log", text);
    });
}

#[test]
fn staging_log_events() {
    let row = LogRow {
        seq: 7,
        phase: "compile".into(),
        stream: "stderr".into(),
        line: "half\rline".into(),
        created_at: CREATED.into(),
    };
    let events = String::from_utf8(staging_log::sse_lines(&[row]).to_vec()).unwrap();
    assert_eq!(
        events,
        format!("id: 7\ndata: {CREATED} [STG/compile] ERR halfline\n\n")
    );
    let end = staging_log::sse_end("FAILED", Some("StagingError - Staging error: x"));
    assert_eq!(
        String::from_utf8(end.to_vec()).unwrap(),
        "event: end\ndata: {\"state\":\"FAILED\",\"error\":\"StagingError - Staging error: x\"}\n\n"
    );
    assert_eq!(&staging_log::sse_keepalive()[..], b": keepalive\n\n");
}
