use anyhow::Context;
use clap::{Parser, Subcommand};

use ladle::auth::token::{claims_for, TokenRequest};
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
    /// Users who log in with a password (`POST /oauth/token`).
    #[command(subcommand)]
    Users(UsersCommand),
    /// OAuth clients for the client_credentials grant (CI systems).
    #[command(subcommand)]
    Clients(ClientsCommand),
    #[command(flatten)]
    Client(ladle::cli::ClientCommand),
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create a user; prints its guid (its token's `user_id`, for CF roles).
    Create(UserCreateArgs),
}

#[derive(clap::Args)]
struct UserCreateArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The user name to log in with.
    name: String,
    /// Read the password from the first line of standard input (required: passwords never go
    /// on a command line).
    #[arg(long, required = true)]
    password_stdin: bool,
    #[arg(long)]
    email: Option<String>,
    /// Grant `cloud_controller.admin` and UAA's admin scopes (user management) on login.
    #[arg(long)]
    admin: bool,
}

#[derive(Subcommand)]
enum ClientsCommand {
    /// Create a confidential client for the client_credentials grant.
    Create(ClientCreateArgs),
}

#[derive(clap::Args)]
struct ClientCreateArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The client id.
    id: String,
    /// Read the client secret from the first line of standard input (required).
    #[arg(long, required = true)]
    secret_stdin: bool,
    /// Scopes the client's tokens carry (repeatable, or space- or comma-separated), e.g.
    /// `cloud_controller.read`.
    #[arg(long = "scope", required = true, num_args = 1..)]
    scopes: Vec<String>,
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
    match ladle::telemetry::LogFormat::from_env() {
        Ok(format) => ladle::telemetry::init_logging(format),
        Err(err) => return fail(anyhow::anyhow!(err)),
    }
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
            let keys = args.common.existing_token_keys()?;
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
            let token = keys.sign(&claims).context("cannot sign token")?;
            println!("{token}");
            Ok(())
        }
        Command::Users(UsersCommand::Create(args)) => create_user(args).await,
        Command::Clients(ClientsCommand::Create(args)) => create_client(args).await,
        Command::Client(command) => ladle::cli::run(command).await,
        Command::Migrate(args) => {
            args.prepare_data_dir()?;
            ladle::db::connect(&args.database_url()).await?;
            println!("database is up to date");
            Ok(())
        }
    }
}

/// The first line of standard input, without its line ending.
fn first_line_of_stdin(what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .with_context(|| format!("cannot read the {what} from standard input"))?;
    let line = line.trim_end_matches(['\n', '\r']).to_string();
    anyhow::ensure!(!line.is_empty(), "the {what} on standard input is empty");
    Ok(line)
}

async fn create_user(args: UserCreateArgs) -> anyhow::Result<()> {
    use ladle::messages::scim_user::{check_password, check_username, ScimUserCreate};
    check_username(&args.name)?;
    let password = first_line_of_stdin("password")?;
    check_password(&password)?;
    if let Some(email) = &args.email {
        anyhow::ensure!(
            email.contains('@'),
            "--email {email:?} is not an email address"
        );
    }
    args.common.prepare_data_dir()?;
    let db = ladle::db::connect(&args.common.database_url()).await?;
    let input = ScimUserCreate {
        username: args.name,
        password,
        email: args.email,
    };
    let user = ladle::actions::login_users::create(&db, input, args.admin).await?;
    println!("{}", user.user_guid);
    Ok(())
}

async fn create_client(args: ClientCreateArgs) -> anyhow::Result<()> {
    let secret = first_line_of_stdin("client secret")?;
    let scopes: Vec<String> = args
        .scopes
        .iter()
        .flat_map(|scopes| scopes.split([' ', ',']))
        .filter(|scope| !scope.is_empty())
        .map(str::to_string)
        .collect();
    anyhow::ensure!(!scopes.is_empty(), "--scope names no scope");
    args.common.prepare_data_dir()?;
    let db = ladle::db::connect(&args.common.database_url()).await?;
    let client = ladle::actions::oauth_clients::create(&db, &args.id, secret, scopes).await?;
    println!("{}", client.client_id);
    Ok(())
}
