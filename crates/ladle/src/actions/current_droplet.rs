//! An app's current droplet: choosing it (both dialects) and reading it. Choosing one makes the
//! app's processes those the droplet declares, in the same transaction. Unlike 2015's
//! `PUT /current_droplet`, the app does not have to be stopped first (today's CC does not ask).

use std::collections::BTreeMap;

use crate::actions::access::{self, ReadableApp};
use crate::actions::processes as process_actions;
use crate::auth::permissions::Access;
use crate::auth::User;
use crate::db::apps::{self, AppRecord};
use crate::db::droplets::{self, DropletRecord};
use crate::db::DbPool;
use crate::domain::process::WEB;
use crate::domain::{Dialect, DropletState};

#[derive(Debug, thiserror::Error)]
pub enum CurrentDropletError {
    #[error("App not found")]
    AppNotFound,
    #[error("Droplet not found")]
    DropletNotFound,
    #[error("not authorized")]
    NotAuthorized,
    #[error(
        "Unable to assign current droplet. Ensure the droplet exists and belongs to this app."
    )]
    UnableToAssign,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The app, if the caller can read it.
async fn readable_app(
    db: &DbPool,
    user: &User,
    app_guid: &str,
) -> Result<ReadableApp, CurrentDropletError> {
    access::readable_app(db, user, app_guid)
        .await?
        .ok_or(CurrentDropletError::AppNotFound)
}

/// Makes `droplet_guid` the app's current droplet and syncs its processes. The droplet must be
/// a STAGED droplet of this very app; what a miss answers depends on the dialect (2015: 404
/// "Droplet not found" for a missing or foreign droplet; today: 422 for any miss).
#[tracing::instrument(skip_all, fields(app_guid = %app_guid))]
pub async fn assign(
    db: &DbPool,
    user: &User,
    app_guid: &str,
    droplet_guid: Option<&str>,
    dialect: Dialect,
) -> Result<AppRecord, CurrentDropletError> {
    let ReadableApp { app, access, .. } = readable_app(db, user, app_guid).await?;
    if !access.manage_apps {
        return Err(CurrentDropletError::NotAuthorized);
    }
    let droplet = own_droplet(db, &app, droplet_guid).await?;
    let Some(droplet) = droplet else {
        return Err(match dialect {
            Dialect::Current => CurrentDropletError::UnableToAssign,
            Dialect::Experimental2015 => CurrentDropletError::DropletNotFound,
        });
    };
    if droplet.state != DropletState::Staged {
        return Err(CurrentDropletError::UnableToAssign);
    }
    let mut tx = db.begin().await?;
    // Guarded again in the write: the droplet may have been deleted since it was read.
    if !apps::set_current_droplet(&mut tx, &app.guid, &droplet.guid).await? {
        tx.rollback().await?;
        return Err(CurrentDropletError::UnableToAssign);
    }
    process_actions::replace_from_droplet(&mut tx, &app.guid, &declared_processes(&droplet))
        .await?;
    tx.commit().await?;
    apps::find(db, &app.guid)
        .await?
        .ok_or(CurrentDropletError::AppNotFound)
}

/// The droplet if it exists and belongs to `app` (its readability follows from the app's).
async fn own_droplet(
    db: &DbPool,
    app: &AppRecord,
    droplet_guid: Option<&str>,
) -> Result<Option<DropletRecord>, sqlx::Error> {
    let Some(guid) = droplet_guid else {
        return Ok(None);
    };
    Ok(droplets::find(db, guid)
        .await?
        .filter(|d| d.app_guid == app.guid))
}

/// The droplet's process types; every app keeps a `web` process, so one is declared (without
/// a command) when the droplet names none.
fn declared_processes(droplet: &DropletRecord) -> BTreeMap<String, String> {
    let mut types = droplet.process_types().unwrap_or_default();
    types.entry(WEB.to_string()).or_default();
    types
}

/// The app's current droplet and the caller's access to its space; "App not found" when the
/// app is unreadable, "Droplet not found" when it has none.
pub async fn current(
    db: &DbPool,
    user: &User,
    app_guid: &str,
) -> Result<(DropletRecord, Access), CurrentDropletError> {
    let ReadableApp { app, access, .. } = readable_app(db, user, app_guid).await?;
    let Some(guid) = app.current_droplet_guid else {
        return Err(CurrentDropletError::DropletNotFound);
    };
    let droplet = droplets::find(db, &guid)
        .await?
        .ok_or(CurrentDropletError::DropletNotFound)?;
    Ok((droplet, access))
}
