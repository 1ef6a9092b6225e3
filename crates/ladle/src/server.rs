//! Start-up: open the database and blobstore, make sure the default stack exists, bind, serve.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::auth::TokenKeys;
use crate::blobstore::Blobstore;
use crate::config::{Config, ServeArgs};
use crate::db;
use crate::presenters::Links;
use crate::state::{AppState, UsersSeen};

/// A bound, ready server; `run` serves until the future is dropped or the process ends.
pub struct Server {
    pub listener: TcpListener,
    pub state: AppState,
}

impl Server {
    pub async fn build(args: &ServeArgs) -> anyhow::Result<Server> {
        args.common.prepare_data_dir()?;
        let secret = args.common.token_secret()?;
        let listener = TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let bound = listener.local_addr()?;
        let config = Config::from_args(args, bound);
        let pool = db::connect(&args.common.database_url())
            .await
            .context("cannot open the database")?;
        ensure_default_stack(&pool, &config.default_stack).await?;
        let blob_spec = args
            .blobstore
            .clone()
            .unwrap_or_else(|| config.data_dir.join("blobs").display().to_string());
        let blobs = Blobstore::open(&blob_spec)
            .with_context(|| format!("cannot open blobstore {blob_spec}"))?;
        let state = AppState {
            db: pool,
            blobs,
            tokens: Arc::new(TokenKeys::new(&secret)),
            links: Links::new(&config.external_url),
            config: Arc::new(config),
            users_seen: Arc::new(UsersSeen::default()),
            staging_wakeup: Arc::new(tokio::sync::Notify::new()),
        };
        Ok(Server { listener, state })
    }

    pub async fn run(self) -> anyhow::Result<()> {
        let app = crate::routes::router(self.state.clone());
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        Ok(())
    }
}

async fn ensure_default_stack(pool: &db::DbPool, name: &str) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO stacks (guid, name, description, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(db::new_guid())
    .bind(name)
    .bind("the default stack: the host's /usr, /bin, /lib and /etc, read-only")
    .bind(db::now())
    .execute(pool)
    .await
    .context("cannot create the default stack")?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        if let Ok(mut sig) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            sig.recv().await;
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
