//! The `apps` table, and the one transaction that removes an app with everything it owns.

use std::collections::HashMap;

use serde_json::{Map, Value};
use sqlx::AnyConnection;

use super::processes::{self, ProcessRecord};
use super::query::{fetch_page, Where};
use super::readers::Readers;
use super::{DbPool, DbResult, JsonText};
use crate::domain::{Guid, Page};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppRecord {
    pub guid: Guid,
    pub name: String,
    pub space_guid: Guid,
    /// `STOPPED` or `STARTED`.
    pub desired_state: String,
    /// JSON object text.
    pub environment_variables: String,
    /// JSON array of buildpack names or URLs; empty means "detect".
    pub lifecycle_buildpacks: JsonText<Vec<String>>,
    pub lifecycle_stack: Option<String>,
    pub current_droplet_guid: Option<Guid>,
    pub created_at: String,
    pub updated_at: Option<String>,
    /// JSON `{"labels":{..},"annotations":{..}}`.
    pub metadata: String,
}

impl AppRecord {
    pub fn env_vars(&self) -> Map<String, Value> {
        match serde_json::from_str(&self.environment_variables) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    pub fn buildpacks(&self) -> Vec<String> {
        self.lifecycle_buildpacks.0.clone()
    }

    pub fn metadata_json(&self) -> Value {
        match serde_json::from_str(&self.metadata) {
            Ok(value @ Value::Object(_)) => value,
            _ => serde_json::json!({"labels": {}, "annotations": {}}),
        }
    }
}

pub async fn find(db: &DbPool, guid: &str) -> DbResult<Option<AppRecord>> {
    sqlx::query_as("SELECT * FROM apps WHERE guid = $1")
        .bind(guid)
        .fetch_optional(db)
        .await
}

/// An app with the sum of its processes' instances and one of the caller's roles that bear on
/// its space (one row per role, `role_type` NULL when there are none).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AppWithRole {
    #[sqlx(flatten)]
    pub app: AppRecord,
    pub total_instances: i64,
    pub role_type: Option<String>,
}

/// `GET /v3/apps/:guid` is the hottest read there is, so it is one query: the app, its instance
/// count, and the caller's space roles and org roles in the space's organization.
pub async fn find_with_roles(
    readers: &Readers,
    guid: &str,
    user_guid: &str,
) -> DbResult<Vec<AppWithRole>> {
    const SQL: &str = "SELECT a.*, \
           CAST((SELECT COALESCE(SUM(p.instances), 0) FROM processes p WHERE p.app_guid = a.guid) AS BIGINT) \
             AS total_instances, \
           r.role_type AS role_type \
         FROM apps a LEFT JOIN roles r ON r.user_guid = $2 AND (r.space_guid = a.space_guid OR \
           (r.space_guid IS NULL AND r.organization_guid = \
             (SELECT s.organization_guid FROM spaces s WHERE s.guid = a.space_guid))) \
         WHERE a.guid = $1";
    match readers {
        Readers::Pool(pool) => {
            sqlx::query_as(SQL)
                .bind(guid)
                .bind(user_guid)
                .fetch_all(pool)
                .await
        }
        Readers::Sqlite(readers) => {
            let mut reader = readers.acquire().await?;
            let found = sqlx::query_as(SQL)
                .bind(guid)
                .bind(user_guid)
                .fetch_all(reader.connection())
                .await;
            if let Err(err) = &found {
                reader.discard_after(err);
            }
            found
        }
    }
}

pub async fn list(db: &DbPool, filter: &Where, page: &Page) -> DbResult<(Vec<AppRecord>, u64)> {
    fetch_page(db, "apps", filter, page).await
}

/// Inserts the app and its `web` process together: an app never exists without one.
pub async fn insert_with_process(
    db: &DbPool,
    app: &AppRecord,
    web: &ProcessRecord,
) -> DbResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO apps (guid, name, space_guid, desired_state, environment_variables, \
         lifecycle_buildpacks, lifecycle_stack, current_droplet_guid, created_at, metadata) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&app.guid)
    .bind(&app.name)
    .bind(&app.space_guid)
    .bind(&app.desired_state)
    .bind(&app.environment_variables)
    .bind(&app.lifecycle_buildpacks)
    .bind(app.lifecycle_stack.clone())
    .bind(app.current_droplet_guid.clone())
    .bind(&app.created_at)
    .bind(&app.metadata)
    .execute(&mut *tx)
    .await?;
    processes::insert(&mut tx, web).await?;
    tx.commit().await
}

/// Writes the changeable columns of `after` if the row still holds `before`'s variables and
/// metadata, so that two merges racing on the same app never lose one another's keys. Returns
/// false when the row changed meanwhile (the caller reads again and retries).
pub async fn update_if_unchanged(
    db: &DbPool,
    before: &AppRecord,
    after: &AppRecord,
) -> DbResult<bool> {
    let result = sqlx::query(
        "UPDATE apps SET name = $1, environment_variables = $2, lifecycle_buildpacks = $3, \
         lifecycle_stack = $4, metadata = $5, updated_at = $6 \
         WHERE guid = $7 AND environment_variables = $8 AND metadata = $9",
    )
    .bind(&after.name)
    .bind(&after.environment_variables)
    .bind(&after.lifecycle_buildpacks)
    .bind(after.lifecycle_stack.clone())
    .bind(&after.metadata)
    .bind(after.updated_at.clone())
    .bind(&before.guid)
    .bind(&before.environment_variables)
    .bind(&before.metadata)
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Space of each app among `app_guids` (for links and permission checks of process lists).
pub async fn space_guids_of(
    db: &DbPool,
    app_guids: &[String],
) -> DbResult<HashMap<String, String>> {
    if app_guids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut filter = Where::new();
    filter.any_of("guid", app_guids);
    let sql = format!("SELECT guid, space_guid FROM apps{}", filter.sql());
    let rows: Vec<(String, String)> = filter.bind_all(sqlx::query_as(&sql)).fetch_all(db).await?;
    Ok(rows.into_iter().collect())
}

pub async fn buildpack_name_exists(db: &DbPool, name: &str) -> DbResult<bool> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM buildpacks WHERE name = $1")
        .bind(name)
        .fetch_one(db)
        .await?;
    Ok(n > 0)
}

/// Blobs that belonged to a deleted app; their rows are already gone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrphanedBlobs {
    pub package_guids: Vec<String>,
    pub droplet_guids: Vec<String>,
}

/// Deletes the app and every row it owns in one transaction, children first (the foreign keys
/// point at `apps`). Returns the blobs the caller must delete next: rows go before blobs, so
/// nobody is ever handed a row whose blob is missing.
pub async fn delete_with_children(db: &DbPool, guid: &str) -> DbResult<OrphanedBlobs> {
    let mut tx = db.begin().await?;
    let package_guids = guids_of_app(&mut tx, "packages", guid).await?;
    let droplet_guids = guids_of_app(&mut tx, "droplets", guid).await?;
    for sql in [
        "DELETE FROM staging_logs WHERE droplet_guid IN (SELECT guid FROM droplets WHERE app_guid = $1)",
        "DELETE FROM builds WHERE app_guid = $1",
        "DELETE FROM droplets WHERE app_guid = $1",
        "DELETE FROM packages WHERE app_guid = $1",
        "DELETE FROM processes WHERE app_guid = $1",
        "DELETE FROM app_build_caches WHERE app_guid = $1",
        "DELETE FROM apps WHERE guid = $1",
    ] {
        sqlx::query(sql).bind(guid).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(OrphanedBlobs {
        package_guids,
        droplet_guids,
    })
}

async fn guids_of_app(
    conn: &mut AnyConnection,
    table: &str,
    app_guid: &str,
) -> DbResult<Vec<String>> {
    let sql = format!("SELECT guid FROM {table} WHERE app_guid = $1");
    let rows: Vec<(String,)> = sqlx::query_as(&sql).bind(app_guid).fetch_all(conn).await?;
    Ok(rows.into_iter().map(|(g,)| g).collect())
}

/// Makes `droplet_guid` the app's current droplet, only if it is a STAGED droplet of this app
/// at the moment of the write; `false` otherwise.
pub async fn set_current_droplet(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    app_guid: &str,
    droplet_guid: &str,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE apps SET current_droplet_guid = $1, updated_at = $2 WHERE guid = $3 \
         AND EXISTS (SELECT 1 FROM droplets WHERE guid = $1 AND app_guid = $3 AND state = 'STAGED')",
    )
    .bind(droplet_guid)
    .bind(super::now())
    .bind(app_guid)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes the app's row lock in `tx`, so that two builds of one app serialise on the "one build
/// STAGING" check (PostgreSQL row lock; SQLite's write lock). Changes nothing in the row.
pub async fn lock(tx: &mut sqlx::Transaction<'_, sqlx::Any>, app_guid: &str) -> DbResult<()> {
    sqlx::query("UPDATE apps SET updated_at = updated_at WHERE guid = $1")
        .bind(app_guid)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
