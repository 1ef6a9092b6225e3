use anyhow::Context;
use clap::{Parser, Subcommand};

use ladle::auth::token::{claims_for, TokenRequest};
use ladle::auth::TokenKeys;
use ladle::config::{CommonArgs, ServeArgs, WorkerArgs};

#[derive(Parser)]
#[command(
    name = "ladle",
    version,
    about = "A Cloud Foundry v3 API that stages apps with real buildpacks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a working single node: API plus staging slots.
    Serve(Box<ServeArgs>),
    /// Run staging slots only, on the API nodes' database and blobstore.
    Worker(Box<WorkerArgs>),
    /// Print a bearer token signed with the server's secret (never makes one).
    Token(TokenArgs),
    /// Bring the database schema up to date and exit.
    Migrate(CommonArgs),
    #[command(flatten)]
    Client(ladle::cli::ClientCommand),
}

#[derive(clap::Args)]
struct TokenArgs {
    #[command(flatten)]
    common: CommonArgs,
    #[arg(long, default_value = "ladle-admin")]
    user_id: String,
    #[arg(long)]
    email: Option<String>,
    /// Scopes to grant (repeatable); default `cloud_controller.read cloud_controller.write`.
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Add `cloud_controller.admin`.
    #[arg(long)]
    admin: bool,
    #[arg(long, default_value_t = 12 * 3600)]
    expires_in: i64,
}

fn main() -> std::process::ExitCode {
    // Before any file exists: the database (and its -wal/-shm), blobs, uploads and the token
    // secret are created readable by the server's user only. The stager opens up explicitly
    // what the staging user must reach.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => return fail(err.into()),
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => fail(err),
    }
}

fn fail(err: anyhow::Error) -> std::process::ExitCode {
    eprintln!("ladle: {err:#}");
    std::process::ExitCode::FAILURE
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => {
            let server = ladle::server::Server::build(&args).await?;
            let addr = server.listener.local_addr()?;
            // Tests and scripts read this line to learn the port when listening on port 0.
            println!("ladle listening on http://{addr}");
            tracing::info!(%addr, "listening");
            server.run().await
        }
        Command::Worker(args) => ladle::server::run_worker(&args).await,
        Command::Token(args) => {
            let secret = args.common.existing_token_secret()?;
            let mut scopes = if args.scopes.is_empty() {
                vec![
                    "cloud_controller.read".to_string(),
                    "cloud_controller.write".to_string(),
                ]
            } else {
                args.scopes
            };
            if args.admin {
                scopes.push("cloud_controller.admin".to_string());
            }
            let claims = claims_for(TokenRequest {
                user_id: args.user_id,
                email: args.email,
                scopes,
                expires_in_seconds: args.expires_in,
                issuer: "ladle".to_string(),
            });
            let token = TokenKeys::new(&secret)
                .sign(&claims)
                .context("cannot sign token")?;
            println!("{token}");
            Ok(())
        }
        Command::Client(command) => ladle::cli::run(command).await,
        Command::Migrate(args) => {
            args.prepare_data_dir()?;
            ladle::db::connect(&args.database_url()).await?;
            println!("database is up to date");
            Ok(())
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LADLE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // Colour codes only for a person at a terminal, never into a file or a log collector.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
}
