//! Recording a staging's outcome on its droplet (and build). Idempotent on the droplet guid:
//! only a droplet still PENDING/STAGING changes, so a staging completed twice (a lost lease, a
//! retried job) cannot flip a final state.

use ladle_stager::{FailureKind, StagingFailure, StagingSuccess};

use crate::db::droplets::{self, DropletRecord, StagedBuildpack, StagedFields};
use crate::db::{build_caches, buildpacks, builds, DbResult};
use crate::domain::{BuildState, BuildpackUrl, Guid};
use crate::state::AppState;

pub enum Outcome {
    Staged {
        success: Box<StagingSuccess>,
        sha1: String,
        sha256: String,
        /// Of the build cache stored beside the droplet, if the staging made one.
        cache_sha256: Option<String>,
    },
    Failed(StagingFailure),
}

#[tracing::instrument(skip_all, fields(droplet_guid = %droplet.guid))]
pub async fn record(state: &AppState, droplet: &DropletRecord, outcome: &Outcome) -> DbResult<()> {
    match outcome {
        Outcome::Staged {
            success,
            sha1,
            sha256,
            cache_sha256,
        } => {
            succeed(
                state,
                droplet,
                success,
                (sha1, sha256),
                cache_sha256.as_deref(),
            )
            .await
        }
        Outcome::Failed(failure) => fail(state, droplet, failure).await,
    }
}

async fn succeed(
    state: &AppState,
    droplet: &DropletRecord,
    success: &StagingSuccess,
    (sha1, sha256): (&str, &str),
    cache_sha256: Option<&str>,
) -> DbResult<()> {
    let result = &success.result;
    let buildpack_guid =
        admin_buildpack_guid(state, &result.lifecycle_metadata.buildpack_key).await?;
    let fields = StagedFields {
        sha1: sha1.to_string(),
        sha256: sha256.to_string(),
        detected_start_command: result.process_types.get("web").cloned().unwrap_or_default(),
        process_types: result.process_types.clone(),
        buildpacks: staged_buildpacks(success),
        execution_metadata: result.execution_metadata.clone(),
        buildpack_guid,
    };
    let mut tx = state.db.begin().await?;
    if droplets::mark_staged(&mut tx, &droplet.guid, &fields).await? {
        builds::complete(&mut tx, &droplet.guid, BuildState::Staged, None).await?;
        if let Some(cache_sha256) = cache_sha256 {
            build_caches::upsert(&mut tx, &droplet.app_guid, cache_sha256).await?;
        }
        tx.commit().await?;
        state.staging_log_appended.notify_waiters();
        tracing::info!(executor = %success.executor, "staged");
    }
    Ok(())
}

async fn fail(state: &AppState, droplet: &DropletRecord, failure: &StagingFailure) -> DbResult<()> {
    let message = describe(failure.kind, &failure.message);
    let mut tx = state.db.begin().await?;
    if droplets::mark_failed(&mut tx, &droplet.guid, failure.kind.cc_name(), &message).await? {
        builds::complete(
            &mut tx,
            &droplet.guid,
            BuildState::Failed,
            Some(&build_error(failure.kind, &message)),
        )
        .await?;
        tx.commit().await?;
        state.staging_log_appended.notify_waiters();
        tracing::info!(error_id = failure.kind.cc_name(), %message, "staging failed");
    }
    Ok(())
}

/// A build whose droplet was deleted before its staging finished fails (StagerError), so that
/// its app may build again; nothing changes when the build was already final or there is none.
#[tracing::instrument(skip_all, fields(droplet_guid = %droplet_guid))]
pub async fn fail_build_of_deleted_droplet(state: &AppState, droplet_guid: &str) -> DbResult<()> {
    let kind = FailureKind::StagerError;
    let message = describe(kind, "the droplet was deleted before its staging finished");
    let mut tx = state.db.begin().await?;
    builds::complete(
        &mut tx,
        droplet_guid,
        BuildState::Failed,
        Some(&build_error(kind, &message)),
    )
    .await?;
    tx.commit().await
}

/// A failed build's `error`: `"<ErrorId> - <message>"`, as Cloud Controller writes it.
fn build_error(kind: FailureKind, message: &str) -> String {
    format!("{} - {message}", kind.cc_name())
}

/// CC's catalogue text for the error id, followed by our own detail so a person can act on it
/// (CC drops the detail for the three buildpack phases; we keep it after a colon).
pub fn describe(kind: FailureKind, detail: &str) -> String {
    let catalogue = match kind {
        FailureKind::NoAppDetected => {
            "An app was not successfully detected by any available buildpack"
        }
        FailureKind::BuildpackCompileFailed => "App staging failed in the buildpack compile phase",
        FailureKind::BuildpackReleaseFailed => "App staging failed in the buildpack release phase",
        FailureKind::InsufficientResources => "Insufficient resources",
        FailureKind::StagingError => return format!("Staging error: {detail}"),
        FailureKind::StagingTimeExpired => return format!("Staging time expired: {detail}"),
        FailureKind::StagerError => return format!("Stager error: {detail}"),
    };
    if detail.is_empty() {
        catalogue.to_string()
    } else {
        format!("{catalogue}: {detail}")
    }
}

/// The buildpacks that ran: admin name or URL, what detect printed (from ladle-staging.json),
/// and the name and version the buildpack reported about itself.
fn staged_buildpacks(success: &StagingSuccess) -> Vec<StagedBuildpack> {
    success
        .result
        .lifecycle_metadata
        .buildpacks
        .iter()
        .enumerate()
        .map(|(index, bp)| StagedBuildpack {
            name: bp.key.clone(),
            detect_output: success
                .details
                .detect_output(index, &bp.key)
                .map(str::to_string),
            buildpack_name: Some(bp.name.clone()).filter(|name| !name.is_empty()),
            version: bp.version.clone(),
        })
        .collect()
}

/// The admin buildpack a key names (CC records `buildpack_guid` from the buildpack key).
async fn admin_buildpack_guid(state: &AppState, key: &str) -> DbResult<Option<Guid>> {
    if key.is_empty() || BuildpackUrl::is_url(key) {
        return Ok(None);
    }
    Ok(buildpacks::find_by_name(&state.db, key, None)
        .await?
        .map(|b| b.guid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_failures_in_cc_words_with_our_detail() {
        assert_eq!(
            describe(
                FailureKind::StagingError,
                "staging exceeded its memory limit of 1024 MB"
            ),
            "Staging error: staging exceeded its memory limit of 1024 MB"
        );
        assert_eq!(
            describe(FailureKind::NoAppDetected, ""),
            "An app was not successfully detected by any available buildpack"
        );
        assert!(describe(FailureKind::BuildpackCompileFailed, "exit 3")
            .ends_with("compile phase: exit 3"));
    }
}
