//! Every link a response carries leads somewhere: a walker starts at `/` and `/v3`, follows
//! every `links`, `_links` and pagination link of every resource the API serves, and fails on
//! a link that is null, malformed, or answered by the route table as unknown (404 `CF-NotFound`
//! 10000, or 405).

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

use reqwest::{Method, Url};
use serde_json::{json, Value};

use crate::support::{Response, TestServer};

const DEV: &str = "links-developer";

/// Kinds of resource whose show route the walk must reach, so a walk that finds nothing fails.
const RESOURCE_KINDS: &[&str] = &[
    "organizations",
    "spaces",
    "users",
    "roles",
    "stacks",
    "apps",
    "processes",
    "packages",
    "buildpacks",
    "droplets",
    "builds",
    "jobs",
];

/// Safety net against a walk that never ends (links that keep making new links).
const MAX_REQUESTS: usize = 2000;

#[tokio::test]
async fn every_link_of_every_resource_leads_somewhere() {
    let server = TestServer::start().await;
    let job_location = resources_of_every_kind(&server).await;

    let mut walker = Walker::new(&server);
    walker.queue_get("/", "the test");
    walker.queue_get("/v3", "the test");
    walker.queue_get(&job_location, "the Location of a 202");
    walker.walk().await;
    walker.probe_actions().await;

    assert!(
        walker.problems.is_empty(),
        "dead or malformed links:\n{}",
        walker.problems.join("\n")
    );
    walker.assert_reached_everything();
}

/// The walker really fails: a dead GET link, a dead action link and a null link, fed to it
/// as one made-up document, are each reported.
#[tokio::test]
async fn the_walker_reports_dead_and_null_links() {
    let server = TestServer::start().await;
    let url = &server.url;
    let mut walker = Walker::new(&server);
    let document = json!({
        "guid": "made-up",
        "links": {
            "tasks": { "href": format!("{url}/v3/apps/made-up/tasks") },
            "start": { "href": format!("{url}/v3/apps/made-up/actions/start"), "method": "POST" },
            "quota": null,
        },
        "_links": { "space": { "href": "/v2/spaces/made-up" } },
    });
    walker.collect(&document, "a made-up document", false);
    walker.walk().await;
    walker.probe_actions().await;
    let problems = walker.problems.join("\n");
    for dead in [
        "/v3/apps/made-up/tasks",
        "actions/start",
        "null",
        "/v2/spaces/made-up",
    ] {
        assert!(problems.contains(dead), "{dead} not reported:\n{problems}");
    }
    assert_eq!(walker.problems.len(), 4, "{problems}");
}

/// An org, a space, users and roles, the default stack, an admin buildpack, two apps, packages,
/// a droplet staged the 2015 way with that buildpack, a build, and a job. Returns the job's
/// `Location`.
async fn resources_of_every_kind(server: &TestServer) -> String {
    let admin = server.admin_token();
    let buildpack = server
        .admin_buildpack("links-detect-pass", "detect-pass")
        .await;
    let (app, package) = server.app_with_package(DEV, "plain").await;
    let token = server.user_token(DEV);

    let droplet = server
        .post(
            &format!("/v3/packages/{package}/droplets"),
            &token,
            json!({ "buildpack_guid": buildpack }),
        )
        .await;
    droplet.assert_status(201);
    let droplet_guid = droplet.body["guid"].as_str().unwrap().to_string();
    let staged = server
        .wait_final(&format!("/v3/droplets/{droplet_guid}"), &token)
        .await;
    assert_eq!(staged["state"], "STAGED", "{staged}");
    server
        .patch(
            &format!("/v3/apps/{app}/relationships/current_droplet"),
            &token,
            json!({ "data": { "guid": droplet_guid } }),
        )
        .await
        .assert_status(200);

    let second_package = server.ready_package(&token, &app, "plain").await;
    let build = server
        .post(
            "/v3/builds",
            &token,
            json!({ "package": { "guid": second_package } }),
        )
        .await;
    build.assert_status(201);
    let build_path = format!("/v3/builds/{}", build.body["guid"].as_str().unwrap());
    let built = server.wait_final(&build_path, &token).await;
    assert_eq!(built["state"], "STAGED", "{built}");

    // A second app, without droplets, so app lists have a second page and an app's current
    // droplet can be missing.
    let space = staged_space(server, &app, &admin).await;
    server
        .post(
            "/v3/apps",
            &token,
            json!({ "name": "second", "relationships": { "space": { "data": { "guid": space } } } }),
        )
        .await
        .assert_status(201);

    let job = server
        .post(
            &format!("/v3/apps/{app}/actions/clear_buildpack_cache"),
            &token,
            json!({}),
        )
        .await;
    job.assert_status(202);
    job.header("location")
        .expect("a 202 names its job")
        .to_string()
}

async fn staged_space(server: &TestServer, app: &str, admin: &str) -> String {
    let app = server.get(&format!("/v3/apps/{app}"), admin).await;
    app.body["relationships"]["space"]["data"]["guid"]
        .as_str()
        .unwrap()
        .to_string()
}

struct Walker<'a> {
    server: &'a TestServer,
    token: String,
    /// GET links still to follow: (absolute URL, where the link was found).
    queue: VecDeque<(String, String)>,
    queued: HashSet<String>,
    /// Links with another method, (method, absolute URL) → where first found, probed without
    /// a token.
    actions: BTreeMap<(String, String), String>,
    /// Paths answered with 200, to check that the walk reached every kind of resource.
    answered: BTreeSet<String>,
    /// Whether `_links` (2015) and each pagination link were seen at least once, not null.
    seen: BTreeSet<&'static str>,
    problems: Vec<String>,
    requests: usize,
}

impl<'a> Walker<'a> {
    fn new(server: &'a TestServer) -> Walker<'a> {
        Walker {
            server,
            token: server.admin_token(),
            queue: VecDeque::new(),
            queued: HashSet::new(),
            actions: BTreeMap::new(),
            answered: BTreeSet::new(),
            seen: BTreeSet::new(),
            problems: Vec::new(),
            requests: 0,
        }
    }

    /// `href` as an absolute URL on this server: 2015 links are relative paths, today's are
    /// absolute. A link off this server cannot be checked and is a problem here.
    fn resolve(&mut self, href: &str, found_at: &str) -> Option<String> {
        if href.starts_with('/') {
            return Some(format!("{}{href}", self.server.url));
        }
        if href == self.server.url || href.starts_with(&format!("{}/", self.server.url)) {
            return Some(href.to_string());
        }
        self.problems
            .push(format!("{found_at}: link {href} leaves this server"));
        None
    }

    fn queue_get(&mut self, href: &str, found_at: &str) {
        if let Some(url) = self.resolve(href, found_at) {
            if self.queued.insert(url.clone()) {
                self.queue.push_back((url, found_at.to_string()));
            }
        }
    }

    /// Every link in `document`, at any depth: members of `links` and `_links`, and the
    /// pagination links. `root_document` is true only for `GET /`, where CC's null link means
    /// "this feature is off"; a list's `next`/`previous` are null on its last/first page, as
    /// CC documents. Anywhere else, null is a problem.
    fn collect(&mut self, document: &Value, found_at: &str, root_document: bool) {
        match document {
            Value::Object(fields) => {
                for (key, value) in fields {
                    match (key.as_str(), value) {
                        ("links" | "_links", Value::Object(links)) => {
                            if key == "_links" {
                                self.seen.insert("_links");
                            }
                            for (name, link) in links {
                                let at = format!("{found_at} {key}.{name}");
                                self.check_link(link, &at, root_document);
                            }
                        }
                        ("links" | "_links", other) => self
                            .problems
                            .push(format!("{found_at}: {key} is not an object: {other}")),
                        ("pagination", Value::Object(pages)) => {
                            for page in ["first", "last", "next", "previous"] {
                                let at = format!("{found_at} pagination.{page}");
                                let link = pages.get(page).unwrap_or(&Value::Null);
                                let may_be_null = matches!(page, "next" | "previous");
                                if !link.is_null() {
                                    self.seen.insert(page);
                                }
                                self.check_link(link, &at, may_be_null);
                            }
                        }
                        _ => self.collect(value, found_at, false),
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.collect(item, found_at, false);
                }
            }
            _ => {}
        }
    }

    fn check_link(&mut self, link: &Value, at: &str, null_allowed: bool) {
        if link.is_null() {
            if !null_allowed {
                self.problems.push(format!("{at} is null"));
            }
            return;
        }
        let Some(href) = link.get("href").and_then(Value::as_str) else {
            self.problems
                .push(format!("{at} has no string href: {link}"));
            return;
        };
        let method = match link.get("method") {
            None => "GET".to_string(),
            Some(Value::String(method)) => method.clone(),
            Some(other) => {
                self.problems
                    .push(format!("{at} has a method that is not a string: {other}"));
                return;
            }
        };
        if method == "GET" {
            self.queue_get(href, at);
        } else if let Some(url) = self.resolve(href, at) {
            self.actions
                .entry((method, url))
                .or_insert_with(|| at.to_string());
        }
    }

    /// Follows GET links breadth first, collecting the links of every JSON answer. A list is
    /// also read one item per page, so that its `next` and `previous` links exist and are
    /// followed.
    async fn walk(&mut self) {
        while let Some((url, found_at)) = self.queue.pop_front() {
            self.requests += 1;
            assert!(self.requests <= MAX_REQUESTS, "the walk does not end");
            let response = self.send(Method::GET, &url, true).await;
            if let Some(why) = dead(&response) {
                self.problems.push(format!("{found_at}: GET {url} {why}"));
                continue;
            }
            if response.status.is_server_error() {
                self.problems.push(format!(
                    "{found_at}: GET {url} fails with {}: {}",
                    response.status, response.text
                ));
                continue;
            }
            let parsed = Url::parse(&url).expect("walked URLs are absolute");
            if response.status.is_success() {
                self.answered.insert(parsed.path().to_string());
            }
            self.collect(&response.body, &format!("GET {url}"), parsed.path() == "/");
            if response.body.get("pagination").is_some() && parsed.query().is_none() {
                self.queue_get(&format!("{url}?per_page=1"), &format!("GET {url}"));
            }
        }
    }

    /// Checks every link with a method other than GET without changing anything: the request
    /// carries no token, so a route that exists refuses it with 401 before reading the body
    /// or doing anything, while a missing route or method still answers CF-NotFound 10000.
    /// The probe is first shown to tell the two apart on a route we do not serve.
    async fn probe_actions(&mut self) {
        let unserved = format!("{}/v3/apps/any/actions/start", self.server.url);
        let control = self.send(Method::POST, &unserved, false).await;
        assert!(
            dead(&control).is_some(),
            "a token-less POST to a route we do not serve must answer CF-NotFound, got {} {}",
            control.status,
            control.text
        );
        for ((method, url), found_at) in std::mem::take(&mut self.actions) {
            let Ok(verb) = Method::from_bytes(method.as_bytes()) else {
                self.problems
                    .push(format!("{found_at}: unknown method {method}"));
                continue;
            };
            let response = self.send(verb, &url, false).await;
            if let Some(why) = dead(&response) {
                self.problems
                    .push(format!("{found_at}: {method} {url} {why}"));
            } else if response.status != 401 {
                self.problems.push(format!(
                    "{found_at}: {method} {url} without a token answered {} {}",
                    response.status, response.text
                ));
            }
        }
    }

    async fn send(&self, method: Method, url: &str, with_token: bool) -> Response {
        let mut request = self.server.client.request(method, url);
        if with_token {
            request = request.header("Authorization", format!("bearer {}", self.token));
        }
        Response::read(request.send().await.expect("request")).await
    }

    fn assert_reached_everything(&self) {
        for path in ["/", "/v3", "/v3/info"] {
            assert!(
                self.answered.contains(path),
                "the walk never reached {path}"
            );
        }
        for kind in RESOURCE_KINDS {
            let list = format!("/v3/{kind}");
            let one = format!("/v3/{kind}/");
            assert!(
                kind == &"jobs" || self.answered.contains(&list),
                "the walk never listed {kind}"
            );
            let shows_one = |path: &String| {
                path.strip_prefix(&one)
                    .is_some_and(|guid| !guid.is_empty() && !guid.contains('/'))
            };
            assert!(
                self.answered.iter().any(shows_one),
                "the walk never showed one of {kind}: {:?}",
                self.answered
            );
        }
        for seen in ["_links", "first", "last", "next", "previous"] {
            assert!(self.seen.contains(seen), "the walk never saw {seen}");
        }
    }
}

/// Why `response` shows that its route does not exist, if it does.
fn dead(response: &Response) -> Option<String> {
    let unknown_route = response.status == 404 && response.body["errors"][0]["code"] == 10000;
    (unknown_route || response.status == 405).then(|| {
        let title = response.body["errors"][0]["title"].as_str().unwrap_or("");
        format!("is not served ({} {title})", response.status)
    })
}
