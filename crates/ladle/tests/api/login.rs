//! The built-in login, compatible with UAA: `POST /oauth/token` (password, refresh_token and
//! client_credentials grants and each of their failures), `GET /login`, `GET /token_keys`,
//! the user management subset (`/Users`) and its permissions, the lock-out, token lifetimes,
//! RS256 signing and an external UAA.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{ladle_bin, sign_claims, unix_time_in, Response, TestServer, SECRET};

pub const PASSWORD: &str = "correct horse battery staple";

/// Runs `ladle ARGS` on the server's data dir and database with `stdin`; its stdout.
pub fn ladle_cli(server: &TestServer, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(ladle_bin())
        .args(args)
        .arg(format!("--data-dir={}", server.data_dir.path().display()))
        .env("DATABASE_URL", &server.database_url)
        .env("LADLE_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ladle");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `ladle users create NAME --password-stdin [--admin]`; the new user's guid.
pub fn create_user(server: &TestServer, name: &str, admin: bool) -> String {
    let mut args = vec!["users", "create", name, "--password-stdin"];
    let email = format!("--email={name}@example.com");
    args.push(&email);
    if admin {
        args.push("--admin");
    }
    let out = ladle_cli(server, &args, &format!("{PASSWORD}\n"));
    assert!(
        out.status.success(),
        "ladle users create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `POST /oauth/token` with the form `params`, the client in HTTP Basic when given.
async fn token_request(
    server: &TestServer,
    basic: Option<(&str, &str)>,
    params: &[(&str, &str)],
) -> Response {
    let mut request = server
        .client
        .post(format!("{}/oauth/token", server.url))
        .header("Accept", "application/json")
        .form(params);
    if let Some((id, secret)) = basic {
        request = request.header(
            "Authorization",
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        );
    }
    Response::read(request.send().await.unwrap()).await
}

async fn password_grant(server: &TestServer, username: &str, password: &str) -> Response {
    token_request(
        server,
        Some(("cf", "")),
        &[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
            ("scope", ""),
        ],
    )
    .await
}

async fn refresh_grant(server: &TestServer, refresh_token: &str) -> Response {
    token_request(
        server,
        Some(("cf", "")),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("scope", ""),
        ],
    )
    .await
}

#[track_caller]
fn assert_oauth_error(response: &Response, status: u16, error: &str) {
    response.assert_status(status);
    assert_eq!(response.body["error"], error, "body: {}", response.text);
    assert!(
        response.body["error_description"].is_string(),
        "body: {}",
        response.text
    );
}

/// The claims of a JWT, unverified (the server's verification is what the tests exercise).
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

fn str_of<'a>(response: &'a Response, key: &str) -> &'a str {
    response.body[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {}", response.text))
}

#[tokio::test]
async fn the_password_grant_answers_as_uaa_and_the_token_works() {
    let server = TestServer::start().await;
    let guid = create_user(&server, "dana", false);
    let answer = password_grant(&server, "dana", PASSWORD).await;
    answer.assert_status(200);
    assert_eq!(answer.body["token_type"], "bearer");
    assert_eq!(answer.body["expires_in"], 600);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let scope = str_of(&answer, "scope");
    for expected in ["openid", "cloud_controller.read", "cloud_controller.write"] {
        assert!(scope.split(' ').any(|s| s == expected), "{scope}");
    }
    assert!(!scope.contains("cloud_controller.admin"), "{scope}");
    let access = str_of(&answer, "access_token");
    let claims = claims_of(access);
    assert_eq!(claims["jti"], answer.body["jti"]);
    assert_eq!(claims["user_id"], guid.as_str());
    assert_eq!(claims["sub"], guid.as_str());
    assert_eq!(claims["user_name"], "dana");
    assert_eq!(claims["email"], "dana@example.com");
    assert_eq!(claims["client_id"], "cf");
    assert_eq!(claims["grant_type"], "password");
    assert_eq!(claims["origin"], "uaa");
    assert_eq!(claims["iss"], format!("{}/oauth/token", server.url));
    assert!(claims["scope"].is_array());
    assert!(claims["aud"]
        .as_array()
        .unwrap()
        .contains(&json!("cloud_controller")));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    let refresh_claims = claims_of(str_of(&answer, "refresh_token"));
    assert!(refresh_claims["jti"].as_str().unwrap().ends_with("-r"));

    // The token is the user's: its guid is the caller, and CF roles given to it apply.
    let me = server.get(&format!("/v3/users/{guid}"), access).await;
    me.assert_status(200);
    assert_eq!(me.body["username"], "dana");
    let (org, _space) = server.org_and_space().await;
    let orgs = server.get("/v3/organizations", access).await;
    assert_eq!(orgs.body["pagination"]["total_results"], 0);
    server
        .grant(&guid, "organization_user", "organization", &org)
        .await;
    let orgs = server.get("/v3/organizations", access).await;
    assert_eq!(orgs.body["resources"][0]["guid"], org.as_str());
    // Not an admin: creating an organization is refused.
    server
        .post("/v3/organizations", access, json!({"name": "mine"}))
        .await
        .assert_status(403);

    // An admin user's token carries the admin scope.
    create_user(&server, "root", true);
    let admin = password_grant(&server, "root", PASSWORD).await;
    admin.assert_status(200);
    assert!(str_of(&admin, "scope").contains("cloud_controller.admin"));
    server
        .post(
            "/v3/organizations",
            str_of(&admin, "access_token"),
            json!({"name": "theirs"}),
        )
        .await
        .assert_status(201);
}

#[tokio::test]
async fn every_failure_of_the_token_endpoint_answers_as_uaa() {
    let server = TestServer::start().await;
    create_user(&server, "erin", false);
    // A wrong password and an unknown user: the same answer.
    let wrong = password_grant(&server, "erin", "nope").await;
    assert_oauth_error(&wrong, 401, "unauthorized");
    assert_eq!(wrong.body["error_description"], "Bad credentials");
    let unknown = password_grant(&server, "nobody", "nope").await;
    assert_eq!((unknown.status, &unknown.body), (wrong.status, &wrong.body));
    // Bad clients.
    let grant = [
        ("grant_type", "password"),
        ("username", "erin"),
        ("password", PASSWORD),
    ];
    for client in [Some(("cf", "secret")), Some(("nope", "")), None] {
        let answer = token_request(&server, client, &grant).await;
        assert_oauth_error(&answer, 401, "invalid_client");
    }
    let garbled = server
        .client
        .post(format!("{}/oauth/token", server.url))
        .header("Authorization", "Basic !!!")
        .form(&grant)
        .send()
        .await
        .unwrap();
    assert_oauth_error(&Response::read(garbled).await, 401, "invalid_client");
    // The CF CLI's client may not use client credentials.
    let answer = token_request(
        &server,
        Some(("cf", "")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_oauth_error(&answer, 401, "invalid_client");
    // Requests that cannot be understood.
    for params in [
        vec![],
        vec![("grant_type", "password"), ("password", "x")],
        vec![("grant_type", "refresh_token")],
    ] {
        let answer = token_request(&server, Some(("cf", "")), &params).await;
        assert_oauth_error(&answer, 400, "invalid_request");
    }
    for grant_type in [
        "implicit",
        "authorization_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    ] {
        let answer = token_request(&server, Some(("cf", "")), &[("grant_type", grant_type)]).await;
        assert_oauth_error(&answer, 400, "unsupported_grant_type");
    }
    // A scope the user does not have.
    let answer = token_request(
        &server,
        Some(("cf", "")),
        &[
            ("grant_type", "password"),
            ("username", "erin"),
            ("password", PASSWORD),
            ("scope", "cloud_controller.admin"),
        ],
    )
    .await;
    assert_oauth_error(&answer, 400, "invalid_scope");
    // Asked for, a subset is granted.
    let answer = token_request(
        &server,
        Some(("cf", "")),
        &[
            ("grant_type", "password"),
            ("username", "erin"),
            ("password", PASSWORD),
            ("scope", "cloud_controller.read"),
        ],
    )
    .await;
    answer.assert_status(200);
    assert_eq!(answer.body["scope"], "cloud_controller.read");
    // The failures above locked nothing: erin still logs in.
    password_grant(&server, "erin", PASSWORD)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn a_refresh_token_refreshes_and_is_never_an_access_token() {
    let server = TestServer::start().await;
    let guid = create_user(&server, "finn", false);
    let first = password_grant(&server, "finn", PASSWORD).await;
    let refresh_token = str_of(&first, "refresh_token").to_string();
    let access = str_of(&first, "access_token").to_string();

    let refreshed = refresh_grant(&server, &refresh_token).await;
    refreshed.assert_status(200);
    let new_access = str_of(&refreshed, "access_token");
    assert_ne!(new_access, access);
    assert_eq!(refreshed.body["refresh_token"], refresh_token.as_str());
    assert_eq!(refreshed.body["scope"], first.body["scope"]);
    assert_eq!(claims_of(new_access)["grant_type"], "refresh_token");
    assert_eq!(claims_of(new_access)["user_id"], guid.as_str());
    server
        .get("/v3/organizations", new_access)
        .await
        .assert_status(200);

    // A refresh token is refused as a bearer token, and an access token as a refresh token.
    server
        .get("/v3/organizations", &refresh_token)
        .await
        .assert_error(401, 1000, "InvalidAuthToken", "Invalid Auth Token");
    assert_oauth_error(&refresh_grant(&server, &access).await, 401, "invalid_token");
    assert_oauth_error(
        &refresh_grant(&server, "garbage").await,
        401,
        "invalid_token",
    );
    // One signed with another secret.
    let mut forged = claims_of(&refresh_token);
    forged["exp"] = json!(unix_time_in(3600));
    assert_oauth_error(
        &refresh_grant(&server, &sign_claims("another secret", &forged)).await,
        401,
        "invalid_token",
    );
    // Narrowing on refresh is allowed, widening is not.
    let narrowed = token_request(
        &server,
        Some(("cf", "")),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
            ("scope", "cloud_controller.read"),
        ],
    )
    .await;
    narrowed.assert_status(200);
    assert_eq!(narrowed.body["scope"], "cloud_controller.read");
    let widened = token_request(
        &server,
        Some(("cf", "")),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
            ("scope", "cloud_controller.admin"),
        ],
    )
    .await;
    assert_oauth_error(&widened, 400, "invalid_scope");
}

#[tokio::test]
async fn a_password_change_or_a_deleted_user_ends_the_refresh_tokens() {
    let server = TestServer::start().await;
    create_user(&server, "root", true);
    let admin = password_grant(&server, "root", PASSWORD).await;
    let admin = str_of(&admin, "access_token").to_string();
    let guid = create_user(&server, "gail", false);
    let before = password_grant(&server, "gail", PASSWORD).await;
    let old_refresh = str_of(&before, "refresh_token").to_string();
    server
        .put(
            &format!("/Users/{guid}/password"),
            &admin,
            json!({"password": "a new one"}),
        )
        .await
        .assert_status(200);
    assert_oauth_error(
        &refresh_grant(&server, &old_refresh).await,
        401,
        "invalid_token",
    );
    let after = password_grant(&server, "gail", "a new one").await;
    after.assert_status(200);
    let refresh = str_of(&after, "refresh_token").to_string();
    refresh_grant(&server, &refresh).await.assert_status(200);
    server
        .delete(&format!("/Users/{guid}"), &admin)
        .await
        .assert_status(200);
    assert_oauth_error(
        &refresh_grant(&server, &refresh).await,
        401,
        "invalid_token",
    );
    let gone = password_grant(&server, "gail", "a new one").await;
    assert_oauth_error(&gone, 401, "unauthorized");
}

#[tokio::test]
async fn short_lifetimes_expire_the_access_token_then_the_refresh_token() {
    let server = TestServer::start_with(&[
        ("LADLE_ACCESS_TOKEN_TTL_SECONDS", "1"),
        ("LADLE_REFRESH_TOKEN_TTL_SECONDS", "4"),
    ])
    .await;
    create_user(&server, "hana", false);
    let answer = password_grant(&server, "hana", PASSWORD).await;
    answer.assert_status(200);
    assert_eq!(answer.body["expires_in"], 1);
    let access = str_of(&answer, "access_token");
    let refresh = str_of(&answer, "refresh_token");
    let refresh_claims = claims_of(refresh);
    assert_eq!(
        refresh_claims["exp"].as_i64().unwrap() - refresh_claims["iat"].as_i64().unwrap(),
        4
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    server.get("/v3/organizations", access).await.assert_error(
        401,
        1000,
        "InvalidAuthToken",
        "Invalid Auth Token",
    );
    let refreshed = refresh_grant(&server, refresh).await;
    refreshed.assert_status(200);
    server
        .get("/v3/organizations", str_of(&refreshed, "access_token"))
        .await
        .assert_status(200);
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let expired = refresh_grant(&server, refresh).await;
    assert_oauth_error(&expired, 401, "invalid_token");
    assert!(expired.body["error_description"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

#[tokio::test]
async fn the_ttl_settings_are_checked_at_start() {
    let data_dir = tempfile::tempdir().unwrap();
    for bad in ["0", "-5", "ten"] {
        let out = crate::support::output_within(
            Command::new(ladle_bin())
                .arg("serve")
                .arg("--listen=127.0.0.1:0")
                .arg(format!("--data-dir={}", data_dir.path().display()))
                .arg(format!("--access-token-ttl-seconds={bad}")),
            crate::support::CLI_DEADLINE,
        );
        assert!(!out.status.success(), "{bad} accepted");
    }
}

#[tokio::test]
async fn confidential_clients_get_client_credentials_tokens() {
    let server = TestServer::start().await;
    let out = ladle_cli(
        &server,
        &[
            "clients",
            "create",
            "ci",
            "--secret-stdin",
            "--scope",
            "cloud_controller.read",
        ],
        "ci-secret\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same id twice, and the CF CLI's id, are refused.
    for id in ["ci", "cf"] {
        let again = ladle_cli(
            &server,
            &[
                "clients",
                "create",
                id,
                "--secret-stdin",
                "--scope",
                "openid",
            ],
            "x\n",
        );
        assert!(!again.status.success(), "{id}");
    }
    let grant = [("grant_type", "client_credentials")];
    let answer = token_request(&server, Some(("ci", "ci-secret")), &grant).await;
    answer.assert_status(200);
    assert!(
        answer.body.get("refresh_token").is_none(),
        "{}",
        answer.text
    );
    assert_eq!(answer.body["scope"], "cloud_controller.read");
    let token = str_of(&answer, "access_token");
    let claims = claims_of(token);
    assert_eq!(claims["client_id"], "ci");
    assert_eq!(claims["sub"], "ci");
    assert_eq!(claims["grant_type"], "client_credentials");
    assert!(claims.get("user_id").is_none());
    server
        .get("/v3/organizations", token)
        .await
        .assert_status(200);
    server
        .post("/v3/organizations", token, json!({"name": "x"}))
        .await
        .assert_status(403);
    // The client in the form, as the PyPI client sends it.
    let in_form = token_request(
        &server,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "ci"),
            ("client_secret", "ci-secret"),
        ],
    )
    .await;
    in_form.assert_status(200);
    // Wrong secret; a password grant for a confidential client.
    assert_oauth_error(
        &token_request(&server, Some(("ci", "wrong")), &grant).await,
        401,
        "invalid_client",
    );
    let password = token_request(
        &server,
        Some(("ci", "ci-secret")),
        &[
            ("grant_type", "password"),
            ("username", "a"),
            ("password", "b"),
        ],
    )
    .await;
    assert_oauth_error(&password, 401, "invalid_client");
    let too_wide = token_request(
        &server,
        Some(("ci", "ci-secret")),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "cloud_controller.write"),
        ],
    )
    .await;
    assert_oauth_error(&too_wide, 400, "invalid_scope");
}

#[tokio::test]
async fn five_wrong_passwords_in_a_minute_lock_the_user_name_out() {
    let server = TestServer::start().await;
    create_user(&server, "ivan", false);
    create_user(&server, "jill", false);
    for _ in 0..5 {
        let answer = password_grant(&server, "ivan", "wrong").await;
        assert_eq!(answer.body["error_description"], "Bad credentials");
    }
    // Now even the right password is refused, with UAA's words.
    let locked = password_grant(&server, "ivan", PASSWORD).await;
    assert_oauth_error(&locked, 401, "unauthorized");
    assert_eq!(
        locked.body["error_description"],
        "Your account has been locked because of too many failed attempts to login."
    );
    // Other names are not affected, and an unknown name locks the same way.
    password_grant(&server, "jill", PASSWORD)
        .await
        .assert_status(200);
    for _ in 0..5 {
        password_grant(&server, "ghost", "wrong").await;
    }
    assert_eq!(
        password_grant(&server, "ghost", "wrong").await.body,
        locked.body
    );
    // A right password resets the count: four failures, a success, four more: not locked.
    for _ in 0..4 {
        password_grant(&server, "jill", "wrong").await;
    }
    password_grant(&server, "jill", PASSWORD)
        .await
        .assert_status(200);
    for _ in 0..4 {
        password_grant(&server, "jill", "wrong").await;
    }
    password_grant(&server, "jill", PASSWORD)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn user_management_is_for_admins_and_answers_as_uaa() {
    let server = TestServer::start().await;
    create_user(&server, "root", true);
    let admin = password_grant(&server, "root", PASSWORD).await;
    let admin = str_of(&admin, "access_token").to_string();

    let created = server
        .post(
            "/Users",
            &admin,
            json!({"userName": "kim", "password": "kims password", "origin": "uaa",
                   "emails": [{"value": "kim@example.com", "primary": true}]}),
        )
        .await;
    created.assert_status(201);
    let id = str_of(&created, "id").to_string();
    assert_eq!(created.body["userName"], "kim");
    assert_eq!(created.body["emails"][0]["value"], "kim@example.com");
    assert_eq!(created.body["active"], true);
    assert!(created.body.get("password").is_none());
    // Its id is a CF user guid.
    server
        .get(&format!("/v3/users/{id}"), &admin)
        .await
        .assert_status(200);

    let taken = server
        .post(
            "/Users",
            &admin,
            json!({"userName": "kim", "password": "x"}),
        )
        .await;
    assert_oauth_error(&taken, 409, "scim_resource_already_exists");
    for bad in [
        json!({"password": "x"}),
        json!({"userName": "kim2"}),
        json!({"userName": "has space", "password": "x"}),
        json!({"userName": "kim2", "password": ""}),
        json!(["not", "an", "object"]),
    ] {
        let answer = server.post("/Users", &admin, bad.clone()).await;
        answer.assert_status(400);
        assert!(
            answer.body["error"]
                .as_str()
                .unwrap()
                .starts_with("invalid_"),
            "{bad}"
        );
    }

    let found = server
        .get("/Users?filter=userName%20eq%20%22kim%22", &admin)
        .await;
    found.assert_status(200);
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["startIndex"], 1);
    assert_eq!(found.body["resources"][0]["id"], id.as_str());
    assert!(found.body["schemas"].is_array());
    let none = server
        .get("/Users?filter=userName%20eq%20%22nobody%22", &admin)
        .await;
    assert_eq!(none.body["totalResults"], 0);
    let all = server.get("/Users", &admin).await;
    assert_eq!(all.body["totalResults"], 2);
    let bad_filter = server
        .get("/Users?filter=email%20eq%20%22x%22", &admin)
        .await;
    assert_oauth_error(&bad_filter, 400, "invalid_filter");

    // The new user logs in, may not manage users, and changes its own password.
    let kim = password_grant(&server, "kim", "kims password").await;
    kim.assert_status(200);
    let kim = str_of(&kim, "access_token").to_string();
    for denied in [
        server.get("/Users", &kim).await,
        server
            .post("/Users", &kim, json!({"userName": "x", "password": "y"}))
            .await,
        server.delete(&format!("/Users/{id}"), &kim).await,
    ] {
        assert_oauth_error(&denied, 403, "access_denied");
    }
    let root_id = server
        .get("/Users?filter=userName%20eq%20%22root%22", &admin)
        .await
        .body["resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let others = server
        .put(
            &format!("/Users/{root_id}/password"),
            &kim,
            json!({"password": "mine now", "oldPassword": PASSWORD}),
        )
        .await;
    assert_oauth_error(&others, 403, "access_denied");
    let wrong_old = server
        .put(
            &format!("/Users/{id}/password"),
            &kim,
            json!({"password": "new", "oldPassword": "not it"}),
        )
        .await;
    assert_oauth_error(&wrong_old, 401, "unauthorized");
    let no_old = server
        .put(
            &format!("/Users/{id}/password"),
            &kim,
            json!({"password": "new"}),
        )
        .await;
    assert_oauth_error(&no_old, 401, "unauthorized");
    server
        .put(
            &format!("/Users/{id}/password"),
            &kim,
            json!({"password": "kims new password", "oldPassword": "kims password"}),
        )
        .await
        .assert_status(200);
    password_grant(&server, "kim", "kims password")
        .await
        .assert_status(401);
    password_grant(&server, "kim", "kims new password")
        .await
        .assert_status(200);

    // Without a token, or with a bad one.
    let anonymous = server.request(Method::GET, "/Users", None, None).await;
    assert_oauth_error(&anonymous, 401, "unauthorized");
    let bad_token = server.get("/Users", "garbage").await;
    assert_oauth_error(&bad_token, 401, "invalid_token");
    // A CC admin token (no UAA scopes) does not manage users.
    let cc_admin = server.get("/Users", &server.admin_token()).await;
    assert_oauth_error(&cc_admin, 403, "access_denied");

    // Delete: the user, its CF user and its roles go; again is a 404.
    let deleted = server.delete(&format!("/Users/{id}"), &admin).await;
    deleted.assert_status(200);
    assert_eq!(deleted.body["id"], id.as_str());
    let again = server.delete(&format!("/Users/{id}"), &admin).await;
    assert_oauth_error(&again, 404, "scim_resource_not_found");
    let missing = server
        .put(
            &format!("/Users/{id}/password"),
            &admin,
            json!({"password": "x"}),
        )
        .await;
    assert_oauth_error(&missing, 404, "scim_resource_not_found");
    server
        .get(&format!("/v3/users/{id}"), &admin)
        .await
        .assert_status(404);
}

#[tokio::test]
async fn the_cli_creates_users_and_refuses_bad_input() {
    let server = TestServer::start().await;
    let guid = create_user(&server, "lee", false);
    assert_eq!(guid.len(), 36, "{guid}");
    let taken = ladle_cli(
        &server,
        &["users", "create", "lee", "--password-stdin"],
        "pw\n",
    );
    assert!(!taken.status.success());
    assert!(String::from_utf8_lossy(&taken.stderr).contains("already in use"));
    let empty = ladle_cli(
        &server,
        &["users", "create", "max", "--password-stdin"],
        "\n",
    );
    assert!(!empty.status.success());
    let spaced = ladle_cli(
        &server,
        &["users", "create", "a b", "--password-stdin"],
        "pw\n",
    );
    assert!(!spaced.status.success());
    let no_stdin = ladle_cli(&server, &["users", "create", "max"], "pw\n");
    assert!(!no_stdin.status.success());
    // Nothing of those was created.
    assert_oauth_error(
        &password_grant(&server, "max", "pw").await,
        401,
        "unauthorized",
    );
}

#[tokio::test]
async fn discovery_links_login_and_uaa_here_and_login_answers() {
    let server = TestServer::start().await;
    let root = server.request(Method::GET, "/", None, None).await;
    assert_eq!(root.body["links"]["login"]["href"], server.url.as_str());
    assert_eq!(root.body["links"]["uaa"]["href"], server.url.as_str());
    let v2 = server.request(Method::GET, "/v2/info", None, None).await;
    assert_eq!(v2.body["token_endpoint"], server.url.as_str());
    let login = server.request(Method::GET, "/login", None, None).await;
    login.assert_status(200);
    assert!(login.body["app"]["version"].is_string());
    assert_eq!(login.body["links"]["login"], server.url.as_str());
    assert_eq!(login.body["links"]["uaa"], server.url.as_str());
    assert_eq!(login.body["prompts"]["username"][0], "text");
    assert_eq!(login.body["prompts"]["password"][0], "password");
    // HS256: no public key to publish.
    let keys = server.request(Method::GET, "/token_keys", None, None).await;
    keys.assert_status(200);
    assert_eq!(keys.body["keys"], json!([]));
    // GET on the token endpoint is not served.
    server
        .request(Method::GET, "/oauth/token", None, None)
        .await
        .assert_status(404);
}

/// Verifies `token` with the RSA key `/token_keys` of `issuer` lists, as another service would.
async fn verify_with_published_key(issuer: &TestServer, token: &str) -> Value {
    let keys = issuer.request(Method::GET, "/token_keys", None, None).await;
    keys.assert_status(200);
    let key = &keys.body["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    assert!(key["value"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(header_of(token)["kid"], key["kid"]);
    let decoding = jsonwebtoken::DecodingKey::from_rsa_components(
        key["n"].as_str().unwrap(),
        key["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["cloud_controller"]);
    jsonwebtoken::decode::<Value>(token, &decoding, &validation)
        .expect("verifies with the published key")
        .claims
}

#[tokio::test]
async fn rs256_signs_with_a_key_kept_in_the_data_dir_and_publishes_it() {
    let server = TestServer::start_with(&[("LADLE_TOKEN_SIGNING", "rs256")]).await;
    create_user(&server, "nia", false);
    let answer = password_grant(&server, "nia", PASSWORD).await;
    answer.assert_status(200);
    let access = str_of(&answer, "access_token");
    assert_eq!(header_of(access)["alg"], "RS256");
    let claims = verify_with_published_key(&server, access).await;
    assert_eq!(claims["user_name"], "nia");
    server
        .get("/v3/organizations", access)
        .await
        .assert_status(200);
    refresh_grant(&server, str_of(&answer, "refresh_token"))
        .await
        .assert_status(200);
    // The key is private to the server; HS256 tokens are not accepted in this mode.
    let key_file = server.data_dir.path().join("token-signing-key.pem");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let hs256 = sign_claims(
        SECRET,
        &json!({"user_id": "u", "aud": ["cloud_controller"], "scope": ["cloud_controller.read"], "exp": unix_time_in(600)}),
    );
    server
        .get("/v3/organizations", &hs256)
        .await
        .assert_status(401);
    // `ladle token` signs with the same key.
    let out_env = Command::new(ladle_bin())
        .args(["token", "--user-id=cli-user", "--token-signing=rs256"])
        .arg(format!("--data-dir={}", server.data_dir.path().display()))
        .output()
        .unwrap();
    assert!(out_env.status.success());
    let cli_token_rs = String::from_utf8(out_env.stdout)
        .unwrap()
        .trim()
        .to_string();
    server
        .get("/v3/organizations", &cli_token_rs)
        .await
        .assert_status(200);
}

#[tokio::test]
async fn an_external_uaa_issues_the_tokens_and_its_keys_are_fetched() {
    let uaa = TestServer::start_with(&[("LADLE_TOKEN_SIGNING", "rs256")]).await;
    let api = TestServer::start_with(&[("LADLE_UAA_URL", uaa.url.as_str())]).await;
    let root = api.request(Method::GET, "/", None, None).await;
    assert_eq!(root.body["links"]["login"]["href"], uaa.url.as_str());
    assert_eq!(root.body["links"]["uaa"]["href"], uaa.url.as_str());
    // The built-in login is off: nothing is advertised that is not served.
    for path in ["/login", "/token_keys", "/Users"] {
        api.request(Method::GET, path, None, None)
            .await
            .assert_status(404);
    }
    assert_eq!(password_grant(&api, "x", "y").await.status.as_u16(), 404);
    // A token from the UAA is accepted (its key fetched on first sight of its kid).
    create_user(&uaa, "olga", false);
    let answer = password_grant(&uaa, "olga", PASSWORD).await;
    let access = str_of(&answer, "access_token");
    api.get("/v3/organizations", access)
        .await
        .assert_status(200);
    // The UAA's refresh token is not an access token here either.
    api.get("/v3/organizations", str_of(&answer, "refresh_token"))
        .await
        .assert_status(401);
    // A token signed by a key the UAA does not list, and an HS256 token, are refused.
    let stranger = TestServer::start_with(&[("LADLE_TOKEN_SIGNING", "rs256")]).await;
    create_user(&stranger, "olga", false);
    let foreign = password_grant(&stranger, "olga", PASSWORD).await;
    api.get("/v3/organizations", str_of(&foreign, "access_token"))
        .await
        .assert_status(401);
    let hs256 = sign_claims(
        SECRET,
        &json!({"user_id": "u", "aud": ["cloud_controller"], "scope": ["cloud_controller.read"], "exp": unix_time_in(600)}),
    );
    api.get("/v3/organizations", &hs256)
        .await
        .assert_status(401);
}
