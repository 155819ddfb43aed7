//! The command line (docs/operations.md "Command line"). No subcommand means `serve`.

use crate::app::{Application, Options, StartupError};
use crate::config::{Config, ConfigSource};
use crate::openapi;
use crate::report::Report;
use crate::services::{command_line, ServiceError, Services};
use chrono::Utc;
use clap::{Parser, Subcommand};
use domain::config::Duration;
use domain::ids::UserId;
use domain::model::{LegalHold, NewEmail};
use domain::ports::{ChangeOutcome, DeletionChangeKind, StoreError};
use persistence::{Database, OffloadError};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "api", version, about = "Hanko-compatible account service")]
pub struct Cli {
    /// Configuration file (default: config/config.yaml if present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the public and admin APIs (the default).
    Serve {
        /// Do not apply pending migrations first.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Users.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// The inactivity policy (account.retention).
    Retention {
        #[command(subcommand)]
        action: RetentionAction,
    },
    /// Session tokens.
    Jwt {
        #[command(subcommand)]
        action: JwtAction,
    },
    /// Signing keys.
    Jwk {
        #[command(subcommand)]
        action: JwkAction,
    },
    /// The secrets that encrypt the signing keys at rest.
    Secrets {
        #[command(subcommand)]
        action: SecretsAction,
    },
    /// Print a listener's OpenAPI document (needs no configuration).
    Openapi {
        #[arg(value_enum)]
        listener: OpenapiListener,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum OpenapiListener {
    Public,
    Admin,
}

#[derive(Subcommand, Debug)]
pub enum SecretsAction {
    /// Re-encrypt every stored key under the first secret of secrets.keys, so the others can be
    /// removed from the list afterwards.
    Reencrypt,
}

#[derive(Subcommand, Debug)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Revert the last applied migration.
    Down,
    /// List migrations and whether each is applied.
    Status,
}

#[derive(Subcommand, Debug)]
pub enum ConfigAction {
    /// Print the effective configuration (secrets as ***), or the error (exit 2).
    Check,
}

#[derive(Subcommand, Debug)]
pub enum UserAction {
    /// Create a user with one primary address; prints the id.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        verified: bool,
    },
    /// Cancel the scheduled deletion of a user.
    Restore { user_id: String },
    /// Put a user under legal hold (never purged, never deleted), or release it.
    Hold {
        user_id: String,
        #[arg(long)]
        reason: Option<String>,
        /// Release the hold instead.
        #[arg(long, conflicts_with = "reason")]
        release: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum RetentionAction {
    /// Print what a pass would do (how many users it would warn and delete, and the first 100),
    /// changing nothing.
    Preview {
        /// The instant of the pass (RFC 3339, e.g. 2027-01-01T00:00:00Z); now unless given.
        #[arg(long)]
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
}

#[derive(Subcommand, Debug)]
pub enum JwtAction {
    /// Create a session for the user and print its token.
    Create { user_id: String },
}

#[derive(Subcommand, Debug)]
pub enum JwkAction {
    /// Add a new key (of secrets.algorithm) that signs from now, or from now + --stage.
    Rotate {
        /// Publish now, sign from now + this. At least secrets.jwks_max_age, so every cached
        /// copy of the JWKS holds the key before it signs.
        #[arg(long, value_name = "DURATION")]
        stage: Option<Duration>,
        /// Accept a --stage shorter than secrets.jwks_max_age.
        #[arg(long)]
        force: bool,
    },
    /// List keys: kid, alg, created_at, not_before, retired_at, published, signing.
    List,
    /// Remove keys created longer ago than --older-than.
    Prune {
        #[arg(long, value_name = "DURATION")]
        older_than: Duration,
        /// Also remove keys that may have signed still-live tokens.
        #[arg(long)]
        force: bool,
    },
}

/// Exit code for an invalid configuration.
const CONFIG_ERROR: u8 = 2;

fn load_config(path: Option<&PathBuf>) -> Result<Config, ExitCode> {
    let source = match path {
        Some(p) => ConfigSource::File(p),
        None => ConfigSource::Default,
    };
    Config::load(source).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(CONFIG_ERROR)
    })
}

fn init_logging(config: &Config) {
    let env = env_logger::Env::default().default_filter_or(config.log.level.clone());
    let _ = env_logger::Builder::from_env(env).try_init();
}

fn fail(context: &str, e: impl std::fmt::Display) -> ExitCode {
    eprintln!("{context}: {e}");
    ExitCode::FAILURE
}

/// Runs the command line; returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    if let Some(Command::Openapi { listener }) = &cli.command {
        let listener = match listener {
            OpenapiListener::Public => openapi::Listener::Public,
            OpenapiListener::Admin => openapi::Listener::Admin,
        };
        println!("{}", openapi::to_json(&openapi::document(listener)));
        return ExitCode::SUCCESS;
    }
    let config = match load_config(cli.config.as_ref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Some(Command::Config {
        action: ConfigAction::Check,
    }) = &cli.command
    {
        print!("{}", config.to_redacted_yaml());
        return ExitCode::SUCCESS;
    }
    init_logging(&config);
    match cli.command.unwrap_or(Command::Serve { no_migrate: false }) {
        Command::Serve { no_migrate } => serve(config, !no_migrate),
        Command::Migrate { action } => migrate(&config, action),
        Command::Config { .. } => ExitCode::SUCCESS,
        Command::User {
            action: UserAction::Create { email, verified },
        } => with_services(config, |s| create_user(s, email, verified)),
        Command::User {
            action: UserAction::Restore { user_id },
        } => with_services(config, |s| async move {
            change_deletion(s, &user_id, DeletionChangeKind::Restore).await
        }),
        Command::User {
            action:
                UserAction::Hold {
                    user_id,
                    reason,
                    release,
                },
        } => {
            let hold = (!release).then_some(LegalHold { reason });
            with_services(config, |s| async move {
                change_deletion(s, &user_id, DeletionChangeKind::Hold(hold)).await
            })
        }
        Command::Jwt {
            action: JwtAction::Create { user_id },
        } => with_services(config, |s| async move { create_jwt(s, &user_id).await }),
        Command::Jwk { action } => with_services(config, |s| jwk(s, action)),
        Command::Retention {
            action: RetentionAction::Preview { at },
        } => with_services(config, move |s| retention_preview(s, at)),
        Command::Secrets {
            action: SecretsAction::Reencrypt,
        } => with_services(config, reencrypt),
        Command::Openapi { .. } => ExitCode::SUCCESS,
    }
}

fn serve(config: Config, migrate: bool) -> ExitCode {
    if config.uses_dev_secret() {
        log::warn!(
            "secrets.keys holds the development secret from config/config.yaml: \
             set HANKO_SECRETS__KEYS before running this anywhere but your machine"
        );
    }
    log::info!(
        "database {}, public API on {}, admin API on {}",
        config.database.url.redacted(),
        config.server.public.address,
        config.server.admin.address
    );
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let app = match Application::build(
            config,
            Options {
                migrate,
                workers: None,
            },
        )
        .await
        {
            Ok(app) => app,
            // Stored keys that no configured secret opens: a configuration error, like a bad key.
            Err(StartupError::Keys(e)) if e.is_secrets_mismatch() => {
                eprintln!("invalid configuration: secrets.keys: {e}");
                return ExitCode::from(CONFIG_ERROR);
            }
            Err(e) => return fail("cannot start", Report(&e)),
        };
        match app.run_until_stopped().await {
            Ok(()) => {
                log::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(e) => fail("server failed", e),
        }
    })
}

fn migrate(config: &Config, action: MigrateAction) -> ExitCode {
    let db = Database::connect(&config.database);
    match action {
        MigrateAction::Up => match db.migrate_up() {
            Ok(applied) if applied.is_empty() => {
                println!("nothing to apply");
                ExitCode::SUCCESS
            }
            Ok(applied) => {
                for v in applied {
                    println!("applied {v}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail("migrate up", e),
        },
        MigrateAction::Down => match db.migrate_down() {
            Ok(v) => {
                println!("reverted {v}");
                ExitCode::SUCCESS
            }
            Err(e) => fail("migrate down", e),
        },
        MigrateAction::Status => match db.migration_status() {
            Ok(list) => {
                for m in list {
                    println!(
                        "{} {}",
                        if m.applied { "applied" } else { "pending" },
                        m.version
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail("migrate status", e),
        },
    }
}

/// Runs one use case for the command line on a runtime of its own.
fn with_services<F, Fut>(config: Config, f: F) -> ExitCode
where
    F: FnOnce(Services) -> Fut,
    Fut: std::future::Future<Output = ExitCode>,
{
    actix_web::rt::System::new().block_on(f(Services::standalone(config)))
}

async fn create_user(services: Services, email: String, verified: bool) -> ExitCode {
    let emails = vec![NewEmail {
        address: email,
        is_primary: true,
        is_verified: verified,
    }];
    match services.create_user(emails).await {
        Ok(Ok(user)) => {
            println!("{}", user.id);
            ExitCode::SUCCESS
        }
        Ok(Err(_)) => fail("user create", "not an e-mail address"),
        Err(ServiceError::Storage(OffloadError::Store {
            source: StoreError::Conflict(_),
            ..
        })) => fail("user create", "that address is already taken"),
        Err(e) => fail("user create", Report(&e)),
    }
}

async fn change_deletion(
    services: Services,
    user_id: &str,
    change: DeletionChangeKind,
) -> ExitCode {
    let Ok(user_id) = user_id.parse::<UserId>() else {
        return fail("user", "not a user id (UUID)");
    };
    match services
        .change_deletion(user_id, change, command_line())
        .await
    {
        Ok(ChangeOutcome::Changed(user)) => {
            let d = &user.deletion;
            match (&d.scheduled, &d.hold) {
                (None, None) => println!("{}: active", user.id),
                (scheduled, hold) => println!(
                    "{}: {}{}",
                    user.id,
                    scheduled.map_or("no deletion scheduled".to_owned(), |s| format!(
                        "deletion scheduled, purge after {}",
                        s.purge_after.to_rfc3339()
                    )),
                    if hold.is_some() {
                        ", on legal hold"
                    } else {
                        ""
                    }
                ),
            }
            ExitCode::SUCCESS
        }
        Ok(ChangeOutcome::NotFound) => fail("user", "no such user"),
        Ok(ChangeOutcome::NotScheduled) => fail("user restore", "no deletion is scheduled"),
        Err(e) => fail("user", Report(&e)),
    }
}

async fn retention_preview(
    services: Services,
    at: Option<chrono::DateTime<chrono::Utc>>,
) -> ExitCode {
    let at = at.unwrap_or_else(chrono::Utc::now);
    let preview = match services.retention_preview(at).await {
        Ok(Ok(preview)) => preview,
        Ok(Err(refused)) => return fail("retention preview", refused),
        Err(e) => return fail("retention preview", Report(&e)),
    };
    let time = domain::time::rfc3339_micros;
    println!(
        "at {}: {} to warn, {} to delete",
        time(&preview.at),
        preview.warn,
        preview.delete
    );
    for user in &preview.users {
        let action = match user.action {
            domain::retention::RetentionAction::Warn => "warn",
            domain::retention::RetentionAction::Delete => "delete",
        };
        let warned = user
            .inactivity_warned_at
            .map_or_else(|| "-".to_owned(), |t| time(&t));
        println!(
            "{action}\t{}\t{}\tlast active {}\twarned {warned}",
            user.id,
            user.email.as_deref().unwrap_or("-"),
            time(&user.last_active_at),
        );
    }
    ExitCode::SUCCESS
}

async fn create_jwt(services: Services, user_id: &str) -> ExitCode {
    let Ok(user_id) = user_id.parse::<UserId>() else {
        return fail("jwt create", "not a user id (UUID)");
    };
    if let Err(e) = services.ensure_signing_key().await {
        return fail("jwt create", e);
    }
    match services
        .issue_session(user_id, Some("api jwt create".into()), None)
        .await
    {
        Ok(Ok(issued)) => {
            println!("{}", issued.session_token);
            ExitCode::SUCCESS
        }
        Ok(Err(_)) => fail("jwt create", "no such user"),
        Err(e) => fail("jwt create", Report(&e)),
    }
}

/// Re-encrypts the signing keys and re-seals the SSF push authorization headers under the
/// first secret, each all or nothing.
async fn reencrypt(services: Services) -> ExitCode {
    match services.reencrypt().await {
        Ok(done) => {
            println!(
                "re-encrypted {} keys under the first secret of secrets.keys",
                done.keys
            );
            println!(
                "re-sealed {} SSF push authorization headers under the same secret",
                done.push_authorizations
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail("secrets reencrypt", Report(&e)),
    }
}

async fn jwk(services: Services, action: JwkAction) -> ExitCode {
    match action {
        JwkAction::Rotate { stage, force } => {
            match services.rotate_key_staged_by(stage, force).await {
                Ok(kid) => {
                    println!("{kid}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail("jwk rotate", Report(&e)),
            }
        }
        JwkAction::List => match services.list_keys().await {
            Ok(list) => {
                let time =
                    |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                let yes_no = |b: bool| if b { "yes" } else { "no" };
                println!(
                    "{:<43} {:<5} {:<20} {:<20} {:<20} {:<9} signing",
                    "kid", "alg", "created_at", "not_before", "retired_at", "published"
                );
                for k in list {
                    println!(
                        "{:<43} {:<5} {:<20} {:<20} {:<20} {:<9} {}",
                        k.kid,
                        k.alg.name(),
                        time(k.created_at),
                        time(k.not_before),
                        k.retired_at.map(time).unwrap_or_else(|| "-".to_owned()),
                        yes_no(k.published),
                        yes_no(k.signing)
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail("jwk list", Report(&e)),
        },
        JwkAction::Prune { older_than, force } => {
            match services.prune_keys(older_than, force).await {
                Ok(removed) => {
                    for kid in &removed {
                        println!("removed {kid}");
                    }
                    if removed.is_empty() {
                        println!("nothing to prune");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail("jwk prune", Report(&e)),
            }
        }
    }
}
