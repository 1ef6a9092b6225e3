//! The read checks other verbs build on: is the app there for this caller (with its space and
//! what the caller may do in it), and may the caller see a space's secrets. Each verb says
//! "not found" in its own words, so these answer `None` rather than an error.

use std::collections::HashSet;

use crate::auth::permissions::{self, Access};
use crate::auth::User;
use crate::db::apps::{self, AppRecord};
use crate::db::spaces::{self, SpaceRecord};
use crate::db::{DbPool, DbResult};

/// An app the caller can read, with its space and the caller's access to it.
#[derive(Debug, Clone)]
pub struct ReadableApp {
    pub app: AppRecord,
    pub space: SpaceRecord,
    pub access: Access,
}

/// The app, if it exists and the caller can read it.
pub async fn readable_app(db: &DbPool, user: &User, guid: &str) -> DbResult<Option<ReadableApp>> {
    let Some(app) = apps::find(db, guid).await? else {
        return Ok(None);
    };
    let Some(space) = spaces::find(db, &app.space_guid).await? else {
        return Ok(None);
    };
    let access = permissions::space_access(db, user, &space.guid).await?;
    Ok(access.read.then_some(ReadableApp { app, space, access }))
}

/// The caller's access to the space of app `app_guid`, if the app exists and the caller can
/// read it (for what belongs to an app: packages, droplets, builds).
pub async fn app_access(db: &DbPool, user: &User, app_guid: &str) -> DbResult<Option<Access>> {
    let Some(app) = apps::find(db, app_guid).await? else {
        return Ok(None);
    };
    let access = permissions::space_access(db, user, &app.space_guid).await?;
    Ok(access.read.then_some(access))
}

/// Of `space_guids`, those whose secrets (env vars, commands) the caller may see.
pub async fn spaces_with_secrets(
    db: &DbPool,
    user: &User,
    space_guids: &[String],
) -> DbResult<HashSet<String>> {
    let mut checked = HashSet::new();
    let mut allowed = HashSet::new();
    for space_guid in space_guids {
        if checked.insert(space_guid.as_str())
            && permissions::space_access(db, user, space_guid)
                .await?
                .read_secrets
        {
            allowed.insert(space_guid.clone());
        }
    }
    Ok(allowed)
}
