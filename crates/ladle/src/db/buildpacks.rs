//! The `buildpacks` table. Positions always run 1..N without gaps: every write that moves,
//! adds or removes a buildpack shifts the others in the same transaction.

use sqlx::{Any, Transaction};

use super::query::{fetch_page_ordered, order_by, Where};
use super::{now, DbPool, DbResult};
use crate::domain::{BuildpackState, Guid, MetadataPatch, Page};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BuildpackRecord {
    pub guid: Guid,
    pub name: String,
    /// `None`: usable on any stack.
    pub stack: Option<String>,
    /// 1-based; lower runs detection first.
    pub position: i64,
    /// 0 or 1.
    pub enabled: i64,
    /// 0 or 1; a locked buildpack's bits cannot be replaced.
    pub locked: i64,
    pub state: BuildpackState,
    pub filename: Option<String>,
    /// Of the uploaded zip, hex; set when READY.
    pub sha256: Option<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
    /// JSON `{"labels":{..},"annotations":{..}}`.
    pub metadata: String,
}

impl BuildpackRecord {
    pub fn is_enabled(&self) -> bool {
        self.enabled != 0
    }

    pub fn is_locked(&self) -> bool {
        self.locked != 0
    }

    pub fn is(&self, state: BuildpackState) -> bool {
        self.state == state
    }
}

/// Fields a PATCH changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct BuildpackChanges {
    pub name: Option<String>,
    pub stack: Option<Option<String>>,
    pub position: Option<i64>,
    pub enabled: Option<bool>,
    pub locked: Option<bool>,
    pub metadata: Option<MetadataPatch>,
}

pub async fn find(db: &DbPool, guid: &str) -> DbResult<Option<BuildpackRecord>> {
    sqlx::query_as("SELECT * FROM buildpacks WHERE guid = $1")
        .bind(guid)
        .fetch_optional(db)
        .await
}

/// The buildpack staging means by `name` on `stack`: one made for that stack first, else one
/// for any stack. Without a stack, a buildpack for any stack is preferred.
pub async fn find_by_name(
    db: &DbPool,
    name: &str,
    stack: Option<&str>,
) -> DbResult<Option<BuildpackRecord>> {
    match stack {
        Some(stack) => {
            sqlx::query_as(
                "SELECT * FROM buildpacks WHERE name = $1 AND (stack = $2 OR stack IS NULL) \
                 ORDER BY CASE WHEN stack IS NULL THEN 1 ELSE 0 END LIMIT 1",
            )
            .bind(name)
            .bind(stack)
            .fetch_optional(db)
            .await
        }
        None => {
            sqlx::query_as(
                "SELECT * FROM buildpacks WHERE name = $1 \
                 ORDER BY CASE WHEN stack IS NULL THEN 0 ELSE 1 END, position LIMIT 1",
            )
            .bind(name)
            .fetch_optional(db)
            .await
        }
    }
}

/// The buildpacks automatic detection tries on `stack`, in order: enabled, with bits uploaded,
/// made for that stack or for any stack.
pub async fn list_enabled_for_stack(db: &DbPool, stack: &str) -> DbResult<Vec<BuildpackRecord>> {
    sqlx::query_as(
        "SELECT * FROM buildpacks WHERE enabled = 1 AND state = $1 \
         AND (stack = $2 OR stack IS NULL) ORDER BY position, guid",
    )
    .bind(BuildpackState::Ready)
    .bind(stack)
    .fetch_all(db)
    .await
}

/// One page, ordered by position unless the client asked for another order.
pub async fn list(
    db: &DbPool,
    filter: &Where,
    page: &Page,
) -> DbResult<(Vec<BuildpackRecord>, u64)> {
    let order = if page.order.by.is_some() {
        order_by(&page.order)
    } else if page.order.descending {
        "ORDER BY position DESC, guid DESC".to_string()
    } else {
        "ORDER BY position ASC, guid ASC".to_string()
    };
    fetch_page_ordered(db, "buildpacks", filter, page, &order).await
}

/// Starts a transaction that holds the table's write lock before anything is read, so that
/// concurrent position changes queue instead of interleaving (SQLite takes its write lock,
/// PostgreSQL locks every existing row).
async fn begin_positions(db: &DbPool) -> DbResult<Transaction<'static, Any>> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE buildpacks SET position = position")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

async fn count(tx: &mut Transaction<'static, Any>) -> DbResult<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM buildpacks")
        .fetch_one(&mut **tx)
        .await?;
    Ok(n)
}

/// Inserts at `position` (clamped to 1..=N+1; `None` is last), shifting later ones down.
/// Returns the record as stored.
pub async fn insert_at(
    db: &DbPool,
    mut buildpack: BuildpackRecord,
    position: Option<i64>,
) -> DbResult<BuildpackRecord> {
    let mut tx = begin_positions(db).await?;
    let last = count(&mut tx).await? + 1;
    buildpack.position = position.map_or(last, |p| p.clamp(1, last));
    sqlx::query("UPDATE buildpacks SET position = position + 1 WHERE position >= $1")
        .bind(buildpack.position)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO buildpacks (guid, name, stack, position, enabled, locked, state, created_at, \
         metadata) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&buildpack.guid)
    .bind(&buildpack.name)
    .bind(buildpack.stack.clone())
    .bind(buildpack.position)
    .bind(buildpack.enabled)
    .bind(buildpack.locked)
    .bind(buildpack.state)
    .bind(&buildpack.created_at)
    .bind(&buildpack.metadata)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(buildpack)
}

/// Applies `changes`; a new position is clamped to 1..=N and the buildpacks between the old and
/// the new place move by one. `None` when the buildpack is gone.
pub async fn update(
    db: &DbPool,
    guid: &str,
    changes: &BuildpackChanges,
) -> DbResult<Option<BuildpackRecord>> {
    let mut tx = begin_positions(db).await?;
    let current: Option<BuildpackRecord> =
        sqlx::query_as("SELECT * FROM buildpacks WHERE guid = $1")
            .bind(guid)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(mut buildpack) = current else {
        return Ok(None);
    };
    if let Some(wanted) = changes.position {
        let target = wanted.clamp(1, count(&mut tx).await?);
        move_others(&mut tx, buildpack.position, target).await?;
        buildpack.position = target;
    }
    apply(&mut buildpack, changes);
    sqlx::query(
        "UPDATE buildpacks SET name = $1, stack = $2, position = $3, enabled = $4, locked = $5, \
         metadata = $6, updated_at = $7 WHERE guid = $8",
    )
    .bind(&buildpack.name)
    .bind(buildpack.stack.clone())
    .bind(buildpack.position)
    .bind(buildpack.enabled)
    .bind(buildpack.locked)
    .bind(&buildpack.metadata)
    .bind(buildpack.updated_at.clone())
    .bind(guid)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(buildpack))
}

fn apply(buildpack: &mut BuildpackRecord, changes: &BuildpackChanges) {
    if let Some(name) = &changes.name {
        buildpack.name = name.clone();
    }
    if let Some(stack) = &changes.stack {
        buildpack.stack = stack.clone();
    }
    if let Some(enabled) = changes.enabled {
        buildpack.enabled = i64::from(enabled);
    }
    if let Some(locked) = changes.locked {
        buildpack.locked = i64::from(locked);
    }
    if let Some(metadata) = &changes.metadata {
        buildpack.metadata = metadata.apply(&buildpack.metadata);
    }
    buildpack.updated_at = Some(now());
}

/// Makes room at `to` for the buildpack leaving `from`.
async fn move_others(tx: &mut Transaction<'static, Any>, from: i64, to: i64) -> DbResult<()> {
    let sql = if to < from {
        "UPDATE buildpacks SET position = position + 1 WHERE position >= $1 AND position < $2"
    } else {
        "UPDATE buildpacks SET position = position - 1 WHERE position > $2 AND position <= $1"
    };
    sqlx::query(sql)
        .bind(to)
        .bind(from)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Deletes the row and closes the gap it leaves; false when it was already gone.
pub async fn delete(db: &DbPool, guid: &str) -> DbResult<bool> {
    let mut tx = begin_positions(db).await?;
    let row: Option<(i64,)> = sqlx::query_as("SELECT position FROM buildpacks WHERE guid = $1")
        .bind(guid)
        .fetch_optional(&mut *tx)
        .await?;
    let Some((position,)) = row else {
        return Ok(false);
    };
    sqlx::query("DELETE FROM buildpacks WHERE guid = $1")
        .bind(guid)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE buildpacks SET position = position - 1 WHERE position > $1")
        .bind(position)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Records uploaded bits (already in the blobstore); false when the buildpack is gone.
pub async fn finish_upload(
    db: &DbPool,
    guid: &str,
    filename: &str,
    sha256: &str,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE buildpacks SET state = $1, filename = $2, sha256 = $3, updated_at = $4 \
         WHERE guid = $5",
    )
    .bind(BuildpackState::Ready)
    .bind(filename)
    .bind(sha256)
    .bind(now())
    .bind(guid)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
