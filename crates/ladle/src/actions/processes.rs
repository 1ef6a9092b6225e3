//! Process verbs: the read side (show, lists) and the sync from a droplet's process types that
//! assigning a droplet performs.

use std::collections::{BTreeMap, HashMap};

use sqlx::{Any, Transaction};

use crate::actions::access;
use crate::auth::permissions::{self, Visible};
use crate::auth::User;
use crate::db::processes::{self, ProcessRecord};
use crate::db::{self, apps, DbPool, DbResult};
use crate::domain::process::{DEFAULT_DISK_MB, DEFAULT_MEMORY_MB, WEB};
use crate::domain::{Guid, Page};
use crate::fetchers;
use crate::messages::filters::ProcessFilter;

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("process not found")]
    NotFound,
    #[error("app not found")]
    AppNotFound,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A process with what its view needs beside the row.
#[derive(Debug, Clone)]
pub struct ProcessDetails {
    pub process: ProcessRecord,
    pub space_guid: String,
    /// The caller may see the start command (a secret, as in CC).
    pub show_command: bool,
}

/// The `web` process every new app gets: its guid is the app's, one instance, no command yet.
pub fn new_web_process(app_guid: &str, created_at: &str) -> ProcessRecord {
    new_process(app_guid.into(), app_guid, WEB, None, 1, created_at)
}

fn new_process(
    guid: Guid,
    app_guid: &str,
    process_type: &str,
    command: Option<String>,
    instances: i64,
    created_at: &str,
) -> ProcessRecord {
    ProcessRecord {
        guid,
        app_guid: app_guid.into(),
        process_type: process_type.to_string(),
        command,
        instances,
        memory_in_mb: DEFAULT_MEMORY_MB,
        disk_in_mb: DEFAULT_DISK_MB,
        created_at: created_at.to_string(),
        updated_at: None,
    }
}

/// Makes the app's processes those of its new droplet, inside the caller's transaction: each
/// type gets the droplet's command (a new `web` runs 1 instance, any other new type 0; existing
/// processes keep their scale), and types the droplet does not declare are deleted, as CC does.
pub async fn replace_from_droplet(
    tx: &mut Transaction<'_, Any>,
    app_guid: &str,
    process_types: &BTreeMap<String, String>,
) -> DbResult<()> {
    let now = db::now();
    let existing = processes::for_app(tx, app_guid).await?;
    for process in &existing {
        if !process_types.contains_key(&process.process_type) {
            processes::delete(tx, &process.guid).await?;
        }
    }
    for (process_type, command) in process_types {
        let command = Some(command.as_str()).filter(|c| !c.trim().is_empty());
        match existing.iter().find(|p| &p.process_type == process_type) {
            Some(process) => processes::set_command(tx, &process.guid, command, &now).await?,
            None => {
                let process = created_from_droplet(app_guid, process_type, command, &now);
                processes::insert(tx, &process).await?;
            }
        }
    }
    Ok(())
}

fn created_from_droplet(
    app_guid: &str,
    process_type: &str,
    command: Option<&str>,
    now: &str,
) -> ProcessRecord {
    let (guid, instances) = if process_type == WEB {
        (Guid::from(app_guid), 1)
    } else {
        (db::new_guid(), 0)
    };
    new_process(
        guid,
        app_guid,
        process_type,
        command.map(str::to_string),
        instances,
        now,
    )
}

/// The process, if the caller can read its app.
pub async fn find_readable(
    db: &DbPool,
    user: &User,
    guid: &str,
) -> Result<ProcessDetails, ProcessError> {
    let process = processes::find(db, guid)
        .await?
        .ok_or(ProcessError::NotFound)?;
    let app = access::readable_app(db, user, &process.app_guid)
        .await?
        .ok_or(ProcessError::NotFound)?;
    Ok(ProcessDetails {
        process,
        space_guid: app.space.guid.into(),
        show_command: app.access.read_secrets,
    })
}

/// `GET /v3/apps/:guid/processes/:type`: "App not found" before "Process not found".
pub async fn find_by_type(
    db: &DbPool,
    user: &User,
    app_guid: &str,
    process_type: &str,
) -> Result<ProcessDetails, ProcessError> {
    let app = readable_app(db, user, app_guid).await?;
    let process = processes::find_by_type(db, &app.app.guid, process_type)
        .await?
        .ok_or(ProcessError::NotFound)?;
    Ok(ProcessDetails {
        process,
        space_guid: app.space.guid.into(),
        show_command: app.access.read_secrets,
    })
}

async fn readable_app(
    db: &DbPool,
    user: &User,
    app_guid: &str,
) -> Result<access::ReadableApp, ProcessError> {
    access::readable_app(db, user, app_guid)
        .await?
        .ok_or(ProcessError::AppNotFound)
}

/// `GET /v3/processes`: processes of apps in spaces the caller can read.
pub async fn list(
    db: &DbPool,
    user: &User,
    filter: &ProcessFilter,
    page: &Page,
) -> Result<(Vec<ProcessDetails>, u64), ProcessError> {
    let spaces = permissions::readable_spaces(db, user).await?;
    with_details(db, user, &spaces, filter, page).await
}

/// `GET /v3/apps/:guid/processes`: "App not found" unless the caller can read the app.
pub async fn list_for_app(
    db: &DbPool,
    user: &User,
    app_guid: &str,
    filter: &ProcessFilter,
    page: &Page,
) -> Result<(Vec<ProcessDetails>, u64), ProcessError> {
    let app = readable_app(db, user, app_guid).await?;
    let filter = ProcessFilter {
        app_guids: Some(vec![app.app.guid.into()]),
        ..filter.clone()
    };
    let spaces = Visible::Only(vec![app.space.guid.into()]);
    with_details(db, user, &spaces, &filter, page).await
}

/// One page, each process with its app's space and whether the caller may see its command.
async fn with_details(
    db: &DbPool,
    user: &User,
    spaces: &Visible,
    filter: &ProcessFilter,
    page: &Page,
) -> Result<(Vec<ProcessDetails>, u64), ProcessError> {
    let (records, total) = fetchers::processes::list(db, spaces, filter, page).await?;
    let app_guids: Vec<String> = records.iter().map(|p| p.app_guid.to_string()).collect();
    let space_of: HashMap<String, String> = apps::space_guids_of(db, &app_guids).await?;
    let spaces: Vec<String> = space_of.values().cloned().collect();
    let secret_spaces = access::spaces_with_secrets(db, user, &spaces).await?;
    let details = records
        .into_iter()
        .map(|process| {
            let space_guid = space_of
                .get(process.app_guid.as_str())
                .cloned()
                .unwrap_or_default();
            ProcessDetails {
                show_command: secret_spaces.contains(&space_guid),
                space_guid,
                process,
            }
        })
        .collect();
    Ok((details, total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::apps::AppRecord;

    /// A real SQLite database with one org, space and app (and its web process).
    async fn database_with_app(dir: &std::path::Path) -> (DbPool, String) {
        let url = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
        let db = db::connect(&url).await.unwrap();
        let now = db::now();
        for sql in [
            "INSERT INTO organizations (guid, name, created_at) VALUES ('o', 'o', $1)",
            "INSERT INTO spaces (guid, name, organization_guid, created_at) VALUES ('s', 's', 'o', $1)",
        ] {
            sqlx::query(sql).bind(&now).execute(&db).await.unwrap();
        }
        let app = AppRecord {
            guid: "app".into(),
            name: "app".into(),
            space_guid: "s".into(),
            desired_state: "STOPPED".into(),
            environment_variables: "{}".into(),
            lifecycle_buildpacks: crate::db::JsonText::default(),
            lifecycle_stack: None,
            current_droplet_guid: None,
            created_at: now.clone(),
            updated_at: None,
            metadata: "{}".into(),
        };
        apps::insert_with_process(&db, &app, &new_web_process("app", &now))
            .await
            .unwrap();
        (db, "app".into())
    }

    async fn sync(db: &DbPool, app: &str, types: &[(&str, &str)]) -> Vec<ProcessRecord> {
        let types: BTreeMap<String, String> = types
            .iter()
            .map(|(t, c)| (t.to_string(), c.to_string()))
            .collect();
        let mut tx = db.begin().await.unwrap();
        replace_from_droplet(&mut tx, app, &types).await.unwrap();
        tx.commit().await.unwrap();
        let mut conn = db.acquire().await.unwrap();
        let mut found = processes::for_app(&mut conn, app).await.unwrap();
        found.sort_by(|a, b| a.process_type.cmp(&b.process_type));
        found
    }

    #[tokio::test]
    async fn droplet_types_become_the_apps_processes() {
        let dir = tempfile::tempdir().unwrap();
        let (db, app) = database_with_app(dir.path()).await;
        let first = sync(&db, &app, &[("web", "./server"), ("worker", "./work")]).await;
        assert_eq!(first.len(), 2);
        assert_eq!(
            (first[0].process_type.as_str(), first[0].instances),
            ("web", 1)
        );
        assert_eq!(first[0].guid, app, "web keeps the app's guid");
        assert_eq!(first[0].command.as_deref(), Some("./server"));
        assert_eq!(
            (first[1].process_type.as_str(), first[1].instances),
            ("worker", 0)
        );
        assert_eq!(first[1].command.as_deref(), Some("./work"));

        // A later droplet without `web` drops it; `worker` keeps its guid, takes the new command.
        let second = sync(&db, &app, &[("worker", "./work --fast")]).await;
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].guid, first[1].guid);
        assert_eq!(second[0].command.as_deref(), Some("./work --fast"));
        assert!(second[0].updated_at.is_some());

        // A web process created again runs one instance; an empty command is no command.
        let third = sync(&db, &app, &[("web", ""), ("worker", "./work")]).await;
        assert_eq!(
            (third[0].process_type.as_str(), third[0].instances),
            ("web", 1)
        );
        assert_eq!(third[0].command, None);
    }
}
