//! `taylordash`: serve (default), migrate, config check, healthcheck, user (add, list, passwd,
//! disable, enable), auth (show, password-sign-in), artifacts reconcile, backup, completions.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use domain::Role;
use taylordash::config::{Config, Flags};
use taylordash::startup::{self, ApiKeySource};
use taylordash::{healthcheck, telemetry};

/// `--version`: the package version and the commit it was built from.
static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{} (commit {})",
        env!("CARGO_PKG_VERSION"),
        api::BUILD_COMMIT
    )
});

#[derive(Parser)]
#[command(
    name = "taylordash",
    version = VERSION.as_str(),
    about = "Mission control for home-lab projects"
)]
struct Cli {
    /// TOML configuration file (environment variables and flags override it).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [env: TAYLORDASH_BIND] [default: 127.0.0.1:8000].
    #[arg(long, global = true, value_name = "ADDR")]
    bind: Option<String>,
    /// Data directory for SQLite and the generated API key [env: TAYLORDASH_DATA_DIR] [default: ./data].
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<String>,
    /// Log filter, e.g. info or debug [env: TAYLORDASH_LOG].
    #[arg(long, global = true, value_name = "FILTER")]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Sign-in settings, changed on the server itself: the way back in when single sign-on is
    /// broken and password sign-in was turned off.
    Auth {
        #[command(subcommand)]
        action: AuthAction,
    },
    /// Artifacts (files attached to projects).
    Artifacts {
        #[command(subcommand)]
        action: ArtifactsAction,
    },
    /// Backups: every table and every artifact, with a verified manifest.
    Backup {
        #[command(subcommand)]
        action: BackupAction,
    },
    /// Print a completion script for a shell, e.g.
    /// `taylordash completions bash > /etc/bash_completion.d/taylordash`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Exit 0 if the server at the configured address is ready, 1 otherwise.
    Healthcheck {
        /// Server address to probe (default: the configured bind address).
        #[arg(long, value_name = "ADDR")]
        addr: Option<std::net::SocketAddr>,
        /// Seconds to wait for an answer.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Create a user. The password is prompted for, or read from standard input when it is not
    /// a terminal (e.g. `taylordash user add --role admin alice < password.txt`).
    Add {
        /// viewer (read), editor (also change) or admin (also administer).
        #[arg(long, default_value = "viewer", value_parser = parse_role)]
        role: Role,
        /// The username (unique regardless of letter case).
        name: String,
    },
    /// List the accounts: name, role, whether active, last sign-in.
    List,
    /// Set a user's password (prompted, or read from standard input); ends their sessions. The
    /// way back in for an admin who lost theirs.
    Passwd { name: String },
    /// Deactivate a user: they cannot sign in and their sessions end (the last active admin
    /// cannot be deactivated).
    Disable { name: String },
    /// Reactivate a deactivated user.
    Enable { name: String },
}

#[derive(Subcommand)]
enum AuthAction {
    /// Print the sign-in settings (as Admin → Sign-in shows them).
    Show,
    /// Turn password sign-in on (`enable`: break-glass, when single sign-on is broken) or off
    /// (`disable`, as Admin → Sign-in does; only with single sign-on configured and a
    /// break-glass account named). Takes effect at once, also on a running server.
    PasswordSignIn {
        #[arg(value_enum)]
        switch: Switch,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Switch {
    Enable,
    Disable,
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse().map_err(|e: domain::UnknownStatus| e.to_string())
}

#[derive(Subcommand)]
enum ArtifactsAction {
    /// Find objects in the store that no artifact record refers to and delete them; report
    /// records whose object is missing (exit 1 then).
    Reconcile {
        /// Only report; delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Leave objects younger than this many seconds alone (uploads in flight).
        #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
        grace: u64,
    },
}

#[derive(Subcommand)]
enum BackupAction {
    /// Write a backup to the object store (or to a local directory with --to).
    Create {
        /// Local directory to write the backup into instead of the object store.
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
        /// Backup name (default: taylordash-<UTC time>).
        #[arg(long)]
        name: Option<String>,
    },
    /// List the backups in the object store (or in a local directory with --from).
    List {
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
    },
    /// Re-read a backup and check every file against its manifest.
    Verify {
        name: String,
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
    },
    /// Restore a backup into an empty database (and its artifacts into the object store).
    Restore {
        name: String,
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
        /// Replace everything in a database that is not empty.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Validate the configuration and print the effective values (secrets redacted).
    Check,
}

fn main() -> ExitCode {
    taylordash::memory::cap_malloc_arenas();
    let cli = Cli::parse();
    if let Some(Command::Completions { shell }) = cli.command {
        // Needs no configuration: it describes the command line only.
        use clap::CommandFactory;
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "taylordash",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    let flags = Flags {
        bind: cli.bind.clone(),
        data_dir: cli.data_dir.clone(),
        log_level: cli.log_level.clone(),
    };
    let config = match Config::load(cli.config.as_deref(), &flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("taylordash: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = startup::trust_stack_ca(&config) {
        eprintln!("taylordash: configuration error: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("taylordash: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Completions { .. } => ExitCode::SUCCESS,
        Command::Config {
            action: ConfigAction::Check,
        } => {
            print!("{}", config.describe());
            println!("# configuration is valid");
            ExitCode::SUCCESS
        }
        Command::Healthcheck { addr, timeout } => {
            let addr = addr.unwrap_or_else(|| healthcheck::probe_address(config.bind));
            match runtime.block_on(healthcheck::check(addr, Duration::from_secs(timeout))) {
                Ok(()) => {
                    println!("ready");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("not ready: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::User { action } => {
            telemetry::init(&config);
            finish(runtime.block_on(user_command(&config, action)))
        }
        Command::Auth { action } => {
            telemetry::init(&config);
            finish(runtime.block_on(auth_command(&config, action)))
        }
        Command::Artifacts {
            action: ArtifactsAction::Reconcile { dry_run, grace },
        } => {
            telemetry::init(&config);
            let grace = Duration::from_secs(grace);
            finish(runtime.block_on(taylordash::files::reconcile(&config, grace, dry_run)))
        }
        Command::Backup { action } => {
            telemetry::init(&config);
            use taylordash::backups;
            let result = runtime.block_on(async {
                match action {
                    BackupAction::Create { to, name } => backups::create(&config, to, name).await,
                    BackupAction::List { from } => backups::list(&config, from).await,
                    BackupAction::Verify { name, from } => {
                        backups::verify(&config, &name, from).await
                    }
                    BackupAction::Restore { name, from, force } => {
                        backups::restore(&config, &name, from, force).await
                    }
                }
            });
            finish(result)
        }
        Command::Migrate => {
            telemetry::init(&config);
            let migrated = runtime.block_on(async {
                let store = startup::connect_store(&config).await?;
                // One at a time behind a progress bar, then the full pass that also verifies
                // the checksums of applied migrations.
                let bar = taylordash::backups::stage_bar("migrations", 0);
                let result = store
                    .migrate_stepwise(&|done, pending| {
                        bar.set_length(pending);
                        bar.set_position(done);
                    })
                    .await
                    .map_err(startup::StartupError::Migrate);
                taylordash::backups::finish_bar(&bar);
                store.close().await;
                result.map(|()| store.backend())
            });
            finish(migrated.map(|backend| format!("migrations applied ({})\n", backend.as_str())))
        }
        Command::Serve => {
            telemetry::init(&config);
            finish(runtime.block_on(serve(config)).map(|()| ""))
        }
    }
}

/// The new user's password: prompted for twice on a terminal, else the first line of stdin.
fn read_password(name: &str) -> Result<String, String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("Password for {name}: "))
            .map_err(|e| format!("cannot read the password: {e}"))?;
        let again = rpassword::prompt_password("Repeat the password: ")
            .map_err(|e| format!("cannot read the password: {e}"))?;
        if first != again {
            return Err("the passwords differ".into());
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

/// Runs a `user` subcommand against the configured database; returns what it prints.
/// Prints what a command reports (its error to standard error) and says how it ended.
fn finish(result: Result<impl std::fmt::Display, impl std::fmt::Display>) -> ExitCode {
    match result {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("taylordash: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn user_command(config: &Config, action: UserAction) -> Result<String, String> {
    // Read before connecting, so a prompt does not hold a database connection open.
    let password = match &action {
        UserAction::Add { name, .. } | UserAction::Passwd { name } => Some(read_password(name)?),
        _ => None,
    };
    let (identity, store) = startup::maintenance_identity(config)
        .await
        .map_err(|e| e.to_string())?;
    let done = run_user_action(&identity, store.as_ref(), action, password).await;
    store.close().await;
    done
}

async fn run_user_action(
    identity: &services::identity::Identity,
    store: &dyn storage::Store,
    action: UserAction,
    password: Option<String>,
) -> Result<String, String> {
    use services::identity::{Party, UserUpdate};
    const VIA: &str = "command line";
    let update = |name: String, update: UserUpdate, done: &'static str| async move {
        let user = identity
            .find_user(&name)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no user is named {name} (see `taylordash user list`)"))?;
        identity
            .update_user(
                user.id,
                update,
                &Party::named(VIA),
                &services::identity::ClientMeta::default(),
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(format!("{done} {}\n", user.username))
    };
    match action {
        UserAction::Add { role, name } => {
            let password = password.unwrap_or_default();
            identity
                .provision(&name, password, role, VIA)
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!("created {role} user {name}\n"))
        }
        UserAction::List => {
            let users = store.list_users().await.map_err(|e| e.to_string())?;
            Ok(user_table(&users))
        }
        UserAction::Passwd { name } => {
            let change = UserUpdate {
                password,
                ..UserUpdate::default()
            };
            update(name, change, "changed the password of (sessions ended)").await
        }
        UserAction::Disable { name } => {
            let change = UserUpdate {
                is_active: Some(false),
                ..UserUpdate::default()
            };
            update(name, change, "deactivated").await
        }
        UserAction::Enable { name } => {
            let change = UserUpdate {
                is_active: Some(true),
                ..UserUpdate::default()
            };
            update(name, change, "reactivated").await
        }
    }
}

/// Runs an `auth` subcommand against the configured database; returns what it prints. The
/// server reads these settings at every sign-in, so a change needs no restart.
async fn auth_command(config: &Config, action: AuthAction) -> Result<String, String> {
    use services::identity::{ClientMeta, Party, SignInSettingsPatch};
    let auth = startup::auth_config(config);
    if let AuthAction::PasswordSignIn {
        switch: Switch::Disable,
    } = action
        && let Some(why) = auth.password_sign_in_must_stay()
    {
        return Err(why.to_owned());
    }
    let (identity, store) = startup::maintenance_identity(config)
        .await
        .map_err(|e| e.to_string())?;
    let done = async {
        let settings = match action {
            AuthAction::Show => identity.sign_in_settings().await,
            AuthAction::PasswordSignIn { switch } => {
                let patch = SignInSettingsPatch {
                    password_sign_in: Some(matches!(switch, Switch::Enable)),
                    ..SignInSettingsPatch::default()
                };
                identity
                    .update_sign_in_settings(patch, &Party::named("command line"), &ClientMeta::default())
                    .await
            }
        }
        .map_err(|e| e.to_string())?;
        let on_off = |b: bool| if b { "on" } else { "off" };
        let break_glass = if auth.break_glass.is_empty() {
            "none".to_owned()
        } else {
            auth.break_glass.join(", ")
        };
        Ok(format!(
            "password sign-in: {}\nsecond factor required of admins: {}\nbreak-glass accounts: {}\n",
            on_off(settings.password_sign_in),
            on_off(settings.second_factor_for_admins),
            break_glass,
        ))
    }
    .await;
    store.close().await;
    done
}

/// The accounts as an aligned table, one per line.
fn user_table(users: &[domain::User]) -> String {
    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(
            || "never".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
        )
    };
    let rows: Vec<[String; 4]> = users
        .iter()
        .map(|u| {
            [
                u.username.clone(),
                u.role.to_string(),
                if u.is_active { "yes" } else { "no" }.to_owned(),
                when(u.last_login),
            ]
        })
        .collect();
    let header = ["USERNAME", "ROLE", "ACTIVE", "LAST SIGN-IN"].map(str::to_owned);
    let width = |i: usize| {
        std::iter::once(&header)
            .chain(&rows)
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2)];
    std::iter::once(&header)
        .chain(&rows)
        .map(|r| {
            format!(
                "{:w0$}  {:w1$}  {:w2$}  {}\n",
                r[0],
                r[1],
                r[2],
                r[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2]
            )
        })
        .collect()
}

async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let started = std::time::Instant::now();
    let app = startup::build(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| {
            format!(
                "cannot listen on {}: {e} (set TAYLORDASH_BIND or --bind)",
                config.bind
            )
        })?;
    let addr = listener.local_addr()?;
    let url = format!("http://{}", healthcheck::probe_address(addr));
    match &app.api_key_source {
        ApiKeySource::Generated(path) => {
            let key = std::fs::read_to_string(path)?;
            // Printed once, to the terminal only — never to the log.
            eprintln!(
                "\nGenerated an API key (shown only this once): {}\n\
                 It is stored in {} (readable only by you). Send it as the X-API-Key header.\n",
                key.trim(),
                path.display()
            );
        }
        ApiKeySource::File(path) => {
            tracing::info!(path = %path.display(), "API key read from file");
        }
        ApiKeySource::Configured => tracing::info!("API key from configuration"),
    }
    if config.alertmanager_token.is_some() {
        tracing::info!(
            "Alertmanager's token is set: POST /api/v1/alerts/alertmanager accepts it, no other \
             route does"
        );
    }
    if let Some(token) = &app.setup_token {
        let base = config.public_url.clone().unwrap_or_else(|| url.clone());
        let setup_url = format!("{base}/setup?token={token}");
        // Logged once per start while no admin exists; the token dies with its first use.
        tracing::warn!(
            %setup_url,
            "no admin account exists yet: open the setup URL to create the first admin \
             (or run `taylordash user add --role admin NAME`)"
        );
        eprintln!(
            "\nNo admin account exists yet. Create the first admin at\n  {setup_url}\n\
             (the link works once; or run `taylordash user add --role admin NAME`)\n"
        );
    }
    // Startup's scratch memory (migrations, parsing, the first queries) is free by now.
    let _ = tokio::task::spawn_blocking(taylordash::memory::release_free_memory).await;
    tracing::info!(
        %url,
        docs = %format!("{url}/docs"),
        backend = app.store.backend().as_str(),
        startup_ms = started.elapsed().as_millis() as u64,
        "TaylorDash is ready"
    );
    eprintln!("TaylorDash is listening on {url} (API docs at {url}/docs)");
    app.serve(
        listener,
        startup::shutdown_signal(),
        config.shutdown_timeout,
    )
    .await?;
    Ok(())
}
