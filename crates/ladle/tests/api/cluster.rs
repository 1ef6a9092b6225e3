//! A cluster as it runs in production: two API nodes without staging slots and three
//! `ladle worker`s, all on one database and one blobstore (the suite's S3 bucket when
//! `LADLE_TEST_BLOBSTORE` is set), staging 200 apps at once. Every staging ends, STAGED, with
//! one droplet, and none ran twice.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;

use crate::builds::post_build;
use crate::staging_recovery::Database;
use crate::support::{ServerOptions, TestServer};
use crate::worker::Worker;

const STAGINGS: usize = 200;
const DEV: &str = "cluster-dev";
/// What the `detect-pass` buildpack logs once per attempt, as its compile begins.
const COMPILING: &str = "-----> detect-pass compiling";
/// API nodes: no slots, and a long wait for a database connection, so that 100 requests at
/// once on a debug build queue for the pool instead of being turned away with a 503.
const API_NODE: &[(&str, &str)] = &[
    ("LADLE_STAGING_SLOTS", "0"),
    ("LADLE_DATABASE_WAIT_SECONDS", "60"),
];

/// A second `ladle serve` on `first`'s database and blobstore.
async fn second_api_node(first: &TestServer) -> TestServer {
    let mut env = API_NODE.to_vec();
    env.push(("LADLE_BLOBSTORE", &first.blobstore));
    TestServer::start_with_options(ServerOptions {
        env: &env,
        database_url: Some(first.database_url.clone()),
        ..ServerOptions::default()
    })
    .await
}

/// An app with a READY package in `space`, made through `node`; its package's guid.
async fn app_with_package(node: &TestServer, token: &str, space: &str, n: usize) -> String {
    let app = node
        .post(
            "/v3/apps",
            token,
            json!({"name": format!("app-{n}"), "relationships": {"space": {"data": {"guid": space}}}}),
        )
        .await;
    app.assert_status(201);
    let app_guid = app.body["guid"].as_str().unwrap().to_string();
    node.ready_package(token, &app_guid, "plain").await
}

async fn count(db: &Database, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql)
        .fetch_one(&db.pool)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    n
}

#[tokio::test]
#[ignore = "needs root and runc; run with --include-ignored"]
async fn two_api_nodes_and_three_workers_stage_200_apps_each_once() {
    let first = TestServer::start_with(API_NODE).await;
    let second = second_api_node(&first).await;
    let nodes = [&first, &second];
    first.admin_buildpack("once", "detect-pass").await;
    let (org, space) = first.org_and_space().await;
    first
        .grant(DEV, "organization_user", "organization", &org)
        .await;
    first.grant(DEV, "space_developer", "space", &space).await;
    let token = first.user_token(DEV);

    let packages: Vec<String> = futures::stream::iter(0..STAGINGS)
        .map(|n| app_with_package(nodes[n % 2], &token, &space, n))
        .buffer_unordered(16)
        .collect()
        .await;
    let workers: Vec<Worker> = (0..3)
        .map(|_| {
            Worker::start_with(
                &first,
                &[("LADLE_STAGING_SLOTS", "2")],
                tempfile::tempdir().unwrap(),
            )
        })
        .collect();

    // All at once, every other one through each API node.
    let started = Instant::now();
    let builds = futures::future::join_all(
        packages
            .iter()
            .enumerate()
            .map(|(n, package)| post_build(nodes[n % 2], &token, package, Some(&["once"]))),
    )
    .await;
    let mut build_guids = BTreeSet::new();
    for build in &builds {
        build.assert_status(201);
        build_guids.insert(build.body["guid"].as_str().unwrap().to_string());
    }
    assert_eq!(build_guids.len(), STAGINGS);

    let db = Database::open(&first).await;
    let deadline = started + Duration::from_secs(240);
    loop {
        let unfinished = count(
            &db,
            "SELECT COUNT(*) FROM builds WHERE state NOT IN ('STAGED', 'FAILED')",
        )
        .await;
        if unfinished == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{unfinished} of {STAGINGS} stagings still unfinished after 240 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "{STAGINGS} stagings on 3 workers (2 slots each) took {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Every build STAGED with a droplet of its own, as either API node tells it.
    let mut droplets = BTreeSet::new();
    for (n, guid) in build_guids.iter().enumerate() {
        let build = nodes[n % 2]
            .get(&format!("/v3/builds/{guid}"), &token)
            .await;
        build.assert_status(200);
        assert_eq!(build.body["state"], "STAGED", "{}", build.text);
        let droplet = build.body["droplet"]["guid"].as_str().unwrap().to_string();
        assert!(droplets.insert(droplet), "a droplet shared by two builds");
    }
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM droplets").await,
        STAGINGS as i64,
        "exactly one droplet per staging"
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM droplets WHERE state = 'STAGED'").await,
        STAGINGS as i64
    );
    for droplet in &droplets {
        assert!(
            first.has_blob(&format!("droplets/{droplet}")).await,
            "droplet {droplet} is STAGED without its blob"
        );
    }

    // No staging ran twice: one claim each, one compile each.
    let jobs: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT resource_guid, state, attempts FROM jobs WHERE kind = 'staging'")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(jobs.len(), STAGINGS);
    for (droplet, state, attempts) in &jobs {
        assert!(droplets.contains(droplet), "a job for another droplet");
        assert_eq!((state.as_str(), *attempts), ("COMPLETE", 1), "{droplet}");
    }
    let compiles: Vec<(String, i64)> = sqlx::query_as(
        "SELECT droplet_guid, COUNT(*) FROM staging_logs WHERE line LIKE $1 GROUP BY droplet_guid",
    )
    .bind(format!("{COMPILING}%"))
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let compiles: BTreeMap<String, i64> = compiles.into_iter().collect();
    assert_eq!(compiles.len(), STAGINGS, "every staging compiled");
    assert!(
        compiles.values().all(|&n| n == 1),
        "a staging compiled more than once: {compiles:?}"
    );
    drop(workers);
}
