-- One schema for SQLite and PostgreSQL: only TEXT and BIGINT columns (booleans are 0/1: sqlx's Any driver cannot read SQLite BOOLEAN), timestamps as
-- RFC 3339 text with microseconds (sortable), JSON as text. Rows are ordered by (created_at, guid).

CREATE TABLE organizations (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    suspended BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT
);

CREATE TABLE spaces (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    organization_guid TEXT NOT NULL REFERENCES organizations(guid),
    created_at TEXT NOT NULL,
    updated_at TEXT,
    UNIQUE (organization_guid, name)
);

CREATE TABLE users (
    guid TEXT PRIMARY KEY,
    username TEXT,
    email TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT
);

CREATE TABLE roles (
    guid TEXT PRIMARY KEY,
    role_type TEXT NOT NULL,
    user_guid TEXT NOT NULL REFERENCES users(guid),
    organization_guid TEXT REFERENCES organizations(guid),
    space_guid TEXT REFERENCES spaces(guid),
    created_at TEXT NOT NULL,
    updated_at TEXT,
    UNIQUE (role_type, user_guid, organization_guid, space_guid)
);
CREATE INDEX roles_user ON roles (user_guid);

CREATE TABLE stacks (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    rootfs TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT
);

CREATE TABLE apps (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    space_guid TEXT NOT NULL REFERENCES spaces(guid),
    desired_state TEXT NOT NULL DEFAULT 'STOPPED',
    environment_variables TEXT NOT NULL DEFAULT '{}',
    lifecycle_buildpacks TEXT NOT NULL DEFAULT '[]',
    lifecycle_stack TEXT,
    current_droplet_guid TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT,
    UNIQUE (space_guid, name)
);

CREATE TABLE processes (
    guid TEXT PRIMARY KEY,
    app_guid TEXT NOT NULL REFERENCES apps(guid),
    process_type TEXT NOT NULL,
    command TEXT,
    instances BIGINT NOT NULL DEFAULT 0,
    memory_in_mb BIGINT NOT NULL DEFAULT 1024,
    disk_in_mb BIGINT NOT NULL DEFAULT 1024,
    created_at TEXT NOT NULL,
    updated_at TEXT,
    UNIQUE (app_guid, process_type)
);

CREATE TABLE packages (
    guid TEXT PRIMARY KEY,
    app_guid TEXT NOT NULL REFERENCES apps(guid),
    package_type TEXT NOT NULL,
    state TEXT NOT NULL,
    sha1 TEXT,
    sha256 TEXT,
    error TEXT,
    docker_image TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT
);
CREATE INDEX packages_app ON packages (app_guid);

CREATE TABLE buildpacks (
    guid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    stack TEXT,
    position BIGINT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    locked BIGINT NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    filename TEXT,
    sha256 TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT
);

CREATE TABLE droplets (
    guid TEXT PRIMARY KEY,
    app_guid TEXT NOT NULL REFERENCES apps(guid),
    package_guid TEXT,
    build_guid TEXT,
    state TEXT NOT NULL,
    error_id TEXT,
    error_message TEXT,
    buildpack_guid TEXT,
    buildpack_git_url TEXT,
    requested_buildpacks TEXT NOT NULL DEFAULT '[]',
    stack TEXT,
    memory_limit_mb BIGINT NOT NULL,
    disk_limit_mb BIGINT NOT NULL,
    environment_variables TEXT NOT NULL DEFAULT '{}',
    sha1 TEXT,
    sha256 TEXT,
    detected_start_command TEXT,
    process_types TEXT,
    buildpacks_metadata TEXT,
    execution_metadata TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT
);
CREATE INDEX droplets_app ON droplets (app_guid);

CREATE TABLE builds (
    guid TEXT PRIMARY KEY,
    app_guid TEXT NOT NULL REFERENCES apps(guid),
    package_guid TEXT NOT NULL,
    droplet_guid TEXT,
    state TEXT NOT NULL,
    error TEXT,
    lifecycle TEXT NOT NULL,
    staging_memory_in_mb BIGINT NOT NULL,
    staging_disk_in_mb BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT
);
CREATE INDEX builds_app ON builds (app_guid);

-- Durable work: user-visible jobs (/v3/jobs) and internal queues (staging) in one table.
-- A worker claims a row by setting lease_owner/lease_expires_at; an expired lease is claimable again.
CREATE TABLE jobs (
    guid TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    operation TEXT NOT NULL,
    state TEXT NOT NULL,
    resource_guid TEXT,
    payload TEXT NOT NULL DEFAULT '{}',
    errors TEXT NOT NULL DEFAULT '[]',
    attempts BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_expires_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT
);
CREATE INDEX jobs_claim ON jobs (kind, state, created_at);

-- Staging log lines, kept so that a person can read or follow a staging after the fact.
CREATE TABLE staging_logs (
    droplet_guid TEXT NOT NULL,
    seq BIGINT NOT NULL,
    phase TEXT NOT NULL,
    stream TEXT NOT NULL,
    line TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (droplet_guid, seq)
);

CREATE TABLE app_build_caches (
    app_guid TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT
);
