-- Built-in login (UAA's token endpoint and user management). The users table stays what CF roles
-- refer to; a user who logs in with a password also has a row here, with the same guid.
CREATE TABLE login_users (
    user_guid TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    email TEXT,
    -- argon2id, PHC string form (auth/password.rs).
    password_hash TEXT NOT NULL,
    -- 1: granted cloud_controller.admin and UAA's admin scopes on login.
    admin BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT,
    password_changed_at TEXT NOT NULL
);

-- Confidential OAuth clients for the client_credentials grant (`ladle clients create`). The
-- public client `cf` is built in and not stored.
CREATE TABLE oauth_clients (
    client_id TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL,
    -- JSON list of the scopes the client's tokens carry.
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- Wrong passwords, per user name (whether or not such a user exists), in milliseconds since the
-- epoch; only the last minute's are kept.
CREATE TABLE login_failures (
    username TEXT NOT NULL,
    failed_at BIGINT NOT NULL
);
CREATE INDEX login_failures_username ON login_failures (username, failed_at);

CREATE TABLE login_lockouts (
    username TEXT PRIMARY KEY,
    locked_until BIGINT NOT NULL
);
