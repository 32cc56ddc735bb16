//! The `botbuilder` command line: `serve` (the default), `demo`, `migrate`, `chat`, `kb
//! create|list|ingest`, `admin create-user`, `config print-default` and `extract`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use botbuilder_core::auth::PasswordHasher;
use botbuilder_core::credentials::CredentialService;
use botbuilder_core::domain::{NewOrganization, NewUser};
use botbuilder_core::secrets::SecretCipher as _;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::auth::{Argon2Hasher, HashCost};
use crate::config::{
    DEFAULT_DATABASE_URL, EXAMPLE_CONFIG, LogFormat, PartialSettings, Settings, SettingsNotice,
};
use crate::state::{AppState, document_extractor, embedder, open_store};

/// BotBuilder-rs: a multi-tenant chatbot platform server.
#[derive(Debug, Parser)]
#[command(name = "botbuilder", version, about, long_about = None)]
pub struct Cli {
    /// TOML configuration file [default: ./botbuilder.toml when present].
    #[arg(long, env = "BOTBUILDER_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Settings (each also read from the environment).
    #[command(flatten)]
    pub settings: PartialSettings,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the HTTP server (the default command).
    Serve,
    /// Serves a seeded demo (organization, bot, knowledge base from the README) on a fresh
    /// temporary database, and prints how to talk to it.
    Demo,
    /// Applies pending database migrations and exits.
    Migrate,
    /// Talks to a bot in the terminal (runs the engine in-process on the configured database).
    Chat {
        /// The bot's id.
        #[arg(long)]
        bot: String,
        /// Your user id on the `terminal` channel.
        #[arg(long, default_value = "terminal")]
        user: String,
    },
    /// Knowledge bases.
    #[command(subcommand)]
    Kb(KbCommand),
    /// Administrative tasks.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Reads one document (a file, or stdin) the way ingestion does, with limits on memory
    /// and CPU time, and prints its text. The server runs this in a separate process for
    /// every PDF and HTML document, so a hostile file cannot take it down.
    Extract(ExtractArgs),
}

/// Arguments of `botbuilder extract`.
#[derive(Debug, clap::Args)]
pub struct ExtractArgs {
    /// The document [default: stdin].
    pub path: Option<PathBuf>,
    /// Its media type [default: from the file name; required for stdin].
    #[arg(long)]
    pub content_type: Option<String>,
    /// Answer in the server's JSON protocol instead of printing the text.
    #[arg(long)]
    pub json: bool,
    /// CPU seconds before the process is stopped.
    #[arg(long, default_value_t = crate::config::DEFAULT_EXTRACT_TIMEOUT_SECS)]
    pub timeout_secs: u64,
    /// Address space the process may use, in MiB.
    #[arg(long, default_value_t = crate::config::DEFAULT_EXTRACT_MEMORY_MIB)]
    pub memory_mib: u64,
}

/// Runs `botbuilder extract` (synchronously: no async runtime, so the limits apply to this
/// work alone).
pub fn extract(args: &ExtractArgs) -> anyhow::Result<()> {
    use botbuilder_core::knowledge::extract::content_type_for_name;
    use std::io::Write;

    let content_type = match (&args.content_type, &args.path) {
        (Some(given), _) => given.clone(),
        (None, Some(path)) => content_type_for_name(&path.to_string_lossy())
            .with_context(|| {
                format!(
                    "cannot tell the type of {}; pass --content-type",
                    path.display()
                )
            })?
            .to_owned(),
        (None, None) => anyhow::bail!("reading stdin needs --content-type"),
    };
    let mut input: Box<dyn std::io::Read> = match &args.path {
        Some(path) => Box::new(
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
        ),
        None => Box::new(std::io::stdin().lock()),
    };
    let answer = crate::isolation::run_child(
        &content_type,
        &mut input,
        args.memory_mib.max(16).saturating_mul(1024 * 1024),
        args.timeout_secs.max(1),
    )?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &answer)?;
    } else {
        let read = answer?;
        if let Some(title) = &read.title {
            writeln!(out, "# {title}\n")?;
        }
        writeln!(out, "{}", read.text)?;
    }
    out.flush()?;
    Ok(())
}

/// Administrative tasks.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Creates a user and an organization they own.
    CreateUser {
        /// Email address.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long, default_value = "Administrator")]
        name: String,
        /// Password (at least 8 characters, not common or easily guessed).
        #[arg(long, env = "BOTBUILDER_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
        /// Name of the organization to create.
        #[arg(long, default_value = "Default")]
        org_name: String,
    },
    /// Re-encrypts every stored secret under a new master key. With the master key in the
    /// development secrets file, the file is updated; otherwise set BOTBUILDER_MASTER_KEY to
    /// the new key (printed when generated) before the next start, and keep the old one in
    /// BOTBUILDER_PREVIOUS_MASTER_KEYS while instances restart.
    RotateMasterKey {
        /// The new key (32 bytes, base64 or hex) [default: a random one, printed].
        #[arg(long, env = "BOTBUILDER_NEW_MASTER_KEY", hide_env_values = true)]
        new_key: Option<crate::config::Secret>,
    },
}

/// Organizations' own provider credentials for a command, opened with the master key the
/// settings resolve to (the development secrets file, or `BOTBUILDER_MASTER_KEY`); without
/// one, stored credentials stay shut (see [`crate::credential_source::DeferredCredentials`]).
fn organization_credentials(
    partial: &PartialSettings,
) -> std::sync::Arc<crate::credential_source::DeferredCredentials> {
    let url = partial
        .database_url
        .clone()
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
    // Read a development secrets file, never create one: a new key opens nothing stored.
    let secrets_file = partial
        .secrets_file
        .clone()
        .unwrap_or_else(|| crate::config::DEFAULT_SECRETS_FILE.into());
    let resolved = if partial.master_key.is_some() || secrets_file.exists() {
        Settings::resolve(partial.clone())
    } else {
        Err(anyhow::anyhow!(
            "neither BOTBUILDER_MASTER_KEY nor a secrets file"
        ))
    };
    let cipher = resolved
        .and_then(|(settings, _)| settings.cipher())
        .map(|c| {
            std::sync::Arc::new(c) as std::sync::Arc<dyn botbuilder_core::secrets::SecretCipher>
        })
        .inspect_err(|e| {
            tracing::debug!(
                "no master key ({e:#}): organizations' own provider credentials cannot be used"
            );
        })
        .ok();
    std::sync::Arc::new(crate::credential_source::DeferredCredentials::new(
        &url, cipher,
    ))
}

/// The embedders a settings layer names (see [`crate::state::embedder`]); knowledge bases
/// that chose their own embedder reach it as the server does, with their organization's
/// credentials first.
fn partial_embedders(
    partial: &PartialSettings,
    credentials: std::sync::Arc<crate::credential_source::DeferredCredentials>,
) -> anyhow::Result<crate::state::Embedders> {
    let llm = crate::config::LlmSettings::resolve(partial)?;
    let proxy = partial.fetch_proxy.as_deref();
    let operator = crate::state::operator_fetcher(proxy)?;
    let allow = partial.fetch_allow.clone().unwrap_or_default();
    let tenant = crate::state::fetcher(&allow, proxy)?;
    let registry = crate::state::provider_registry(&llm, tenant, proxy)?
        .with_organization_credentials(credentials);
    Ok(crate::state::Embedders {
        default: embedder(partial.embedding_model_dir.as_deref(), &llm, operator)?,
        chosen: Some(std::sync::Arc::new(registry)),
    })
}

/// `admin rotate-master-key` (see [`AdminCommand::RotateMasterKey`]).
async fn rotate_master_key(
    partial: PartialSettings,
    new_key: Option<crate::config::Secret>,
) -> anyhow::Result<()> {
    let (settings, _) = Settings::resolve(partial)?;
    let generated = new_key.is_none();
    let new_key = match new_key {
        Some(key) => key,
        None => crate::config::generate_master_key()?,
    };
    let mut next = settings.clone();
    next.master_key = new_key.clone();
    // The new cipher still opens what the old keys sealed, so a rotation that stops half way
    // can be run again.
    next.previous_master_keys = std::iter::once(settings.master_key.clone())
        .chain(settings.previous_master_keys.iter().cloned())
        .collect();
    let to = next.cipher()?;
    let store = open_store(&settings.database_url).await?;
    let from = std::sync::Arc::new(settings.cipher()?);
    let service = CredentialService::new(store.clone(), from.clone());
    let resealed = service.reseal_all(&to).await?
        + botbuilder_core::channel::reseal_channels(store.as_ref(), from.as_ref(), &to).await?
        + botbuilder_core::webhook::reseal_webhooks(store.as_ref(), from.as_ref(), &to).await?;
    println!(
        "re-encrypted {resealed} secret(s) under key {}",
        to.key_id()
    );
    match &settings.master_key_file {
        Some(path) => {
            crate::config::replace_dev_master_key(path, &new_key)?;
            println!("the new key is in {}", path.display());
        }
        None if generated => println!(
            "set BOTBUILDER_MASTER_KEY={} before the next start (and keep the old key in \
             BOTBUILDER_PREVIOUS_MASTER_KEYS while instances restart)",
            new_key.expose()
        ),
        None => println!(
            "set BOTBUILDER_MASTER_KEY to the new key before the next start (and keep the old \
             key in BOTBUILDER_PREVIOUS_MASTER_KEYS while instances restart)"
        ),
    }
    Ok(())
}

/// Knowledge base tasks (straight on the configured database, also while a server runs on it).
#[derive(Debug, Subcommand)]
pub enum KbCommand {
    /// Creates a knowledge base in an organization and prints its id.
    Create {
        /// The organization's id (`admin create-user` prints it).
        #[arg(long)]
        org: String,
        /// Name.
        #[arg(long)]
        name: String,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Lists an organization's knowledge bases: id, documents, name.
    List {
        /// The organization's id.
        #[arg(long)]
        org: String,
    },
    /// Adds files and folders (recursively) to a knowledge base and ingests them, with a
    /// progress bar; unchanged files are left alone. Fails when a document fails.
    Ingest {
        /// The knowledge base's id.
        #[arg(long)]
        kb: String,
        /// Files and folders (.txt, .csv, .md, .html, .pdf).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

/// Configuration helpers.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Prints a configuration file with every default, documented.
    PrintDefault,
}

fn init_tracing(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal: logs piped to a file or a collector stay plain.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _already_set = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Config(ConfigCommand::PrintDefault) = command {
        print!("{EXAMPLE_CONFIG}");
        return Ok(());
    }
    let partial = cli
        .settings
        .or(PartialSettings::from_file(cli.config.as_deref())?);
    match command {
        Command::Serve => serve(partial, false).await,
        Command::Demo => {
            let mut partial = partial;
            if partial.database_url.is_none() {
                let path = std::env::temp_dir().join(format!(
                    "botbuilder-demo-{}.db",
                    uuid::Uuid::now_v7().simple()
                ));
                partial.database_url = Some(format!("sqlite://{}", path.display()));
            }
            serve(partial, true).await
        }
        Command::Migrate => {
            init_tracing(partial.log_format.unwrap_or_default(), "warn");
            let url = partial
                .database_url
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
            open_store(&url).await?;
            println!("migrations applied to {url}");
            Ok(())
        }
        Command::Admin(AdminCommand::RotateMasterKey { new_key }) => {
            init_tracing(partial.log_format.unwrap_or_default(), "warn");
            rotate_master_key(partial, new_key).await
        }
        Command::Admin(AdminCommand::CreateUser {
            email,
            name,
            password,
            org_name,
        }) => {
            init_tracing(partial.log_format.unwrap_or_default(), "warn");
            botbuilder_core::validate::password(&password, &[&email, &name])
                .map_err(|why| anyhow::anyhow!("the password is refused ({why})"))?;
            let url = partial
                .database_url
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
            let store = open_store(&url).await?;
            let hasher = Argon2Hasher::new(HashCost::RECOMMENDED)?;
            let (user, org) = store
                .create_user_with_org(
                    NewUser {
                        email,
                        name,
                        password_hash: hasher.hash(&password).await?,
                    },
                    NewOrganization { name: org_name },
                )
                .await
                .context("cannot create the user")?;
            println!(
                "created user {} ({}) owning organization {} ({})",
                user.email, user.id, org.name, org.id
            );
            Ok(())
        }
        Command::Chat { bot, user } => {
            init_tracing(partial.log_format.unwrap_or_default(), "warn");
            let credentials = organization_credentials(&partial);
            let embedders = partial_embedders(&partial, credentials.clone())?;
            let llm = crate::config::LlmSettings::resolve(&partial)?;
            let (program, limits) = partial.extract_settings();
            let url = partial
                .database_url
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
            let allow = partial.fetch_allow.unwrap_or_default();
            let proxy = partial.fetch_proxy;
            let extractor = document_extractor(program, limits);
            let options = crate::chat::ChatOptions {
                database_url: &url,
                bot: &bot,
                user: &user,
                fetch_allow: &allow,
                fetch_proxy: proxy.as_deref(),
                llm: &llm,
                credentials,
            };
            crate::chat::chat(options, embedders, extractor).await
        }
        Command::Kb(KbCommand::Create {
            org,
            name,
            description,
        }) => {
            init_tracing(partial.log_format.unwrap_or_default(), "warn");
            let embedders = partial_embedders(&partial, organization_credentials(&partial))?;
            let url = partial
                .database_url
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
            let org = org.parse().context("--org must be an organization id")?;
            let kb = crate::ingest::create_knowledge_base(&url, embedders, org, name, description)
                .await?;
            println!("{}", kb.id);
            eprintln!(
                "created knowledge base {} ({}); add documents with `botbuilder kb ingest --kb {} PATH...`",
                kb.name, kb.id, kb.id
            );
            Ok(())
        }
        Command::Kb(KbCommand::List { org }) => {
            init_tracing(partial.log_format.unwrap_or_default(), "warn");
            let url = partial
                .database_url
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
            let org = org.parse().context("--org must be an organization id")?;
            for kb in crate::ingest::list_knowledge_bases(&url, org).await? {
                println!("{}  {:>5} documents  {}", kb.0.id, kb.1, kb.0.name);
            }
            Ok(())
        }
        Command::Kb(KbCommand::Ingest { kb, paths }) => {
            init_tracing(partial.log_format.unwrap_or_default(), "warn");
            let embedders = partial_embedders(&partial, organization_credentials(&partial))?;
            let (program, limits) = partial.extract_settings();
            let url = partial
                .database_url
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
            let kb = kb.parse().context("--kb must be a knowledge base id")?;
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let extractor = document_extractor(program, limits);
            let report =
                crate::ingest::ingest(&url, embedders, extractor, kb, &paths, progress).await?;
            print!("{}", report.summary());
            anyhow::ensure!(
                report.failed.is_empty(),
                "{} document(s) failed",
                report.failed.len()
            );
            Ok(())
        }
        Command::Config(_) => Ok(()),
        Command::Extract(args) => extract(&args),
    }
}

async fn serve(partial: PartialSettings, demo: bool) -> anyhow::Result<()> {
    init_tracing(
        partial.log_format.unwrap_or_default(),
        partial.log.as_deref().unwrap_or("info"),
    );
    let (settings, notices) = Settings::resolve(partial)?;
    for notice in notices {
        match notice {
            SettingsNotice::GeneratedSecrets(path) => tracing::warn!(
                "no BOTBUILDER_JWT_SECRET / BOTBUILDER_MASTER_KEY given: generated development \
                 secrets into {} (production refuses to start without them)",
                path.display()
            ),
            SettingsNotice::LoadedSecrets(path) => tracing::warn!(
                "using development secrets from {} (production refuses to start without \
                 BOTBUILDER_JWT_SECRET and BOTBUILDER_MASTER_KEY)",
                path.display()
            ),
        }
    }
    let state = AppState::from_settings(&settings).await?;
    let seeded = if demo {
        let seeding = crate::demo::seed(&state);
        Some(
            tokio::time::timeout(crate::demo::SEED_TIMEOUT, seeding)
                .await
                .context("seeding the demo took too long")??,
        )
    } else {
        None
    };
    let fd_limit = crate::edge::raise_fd_limit();
    let mut state = state;
    let mut http = (*state.http).clone();
    http.edge = crate::edge::clamp_to_fd_limit(http.edge, fd_limit);
    state.http = Arc::new(http);
    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .with_context(|| format!("cannot listen on {}", settings.bind))?;
    if let Some(metrics_bind) = settings.metrics_bind {
        let metrics_listener = tokio::net::TcpListener::bind(metrics_bind)
            .await
            .with_context(|| format!("cannot listen on {metrics_bind} for metrics"))?;
        let app = crate::routes::health::metrics_router(settings.metrics_token.clone());
        tracing::info!(addr = %metrics_listener.local_addr()?, "metrics");
        let limits = state.http.edge;
        tokio::spawn(async move {
            let forever = std::future::pending();
            if let Err(e) =
                crate::edge::serve_connections(metrics_listener, app, limits, forever).await
            {
                tracing::error!("metrics server stopped: {e}");
            }
        });
    }
    let shutdown = crate::shutdown_signal(); // installed before anyone learns the address
    let addr = listener.local_addr()?;
    tracing::info!(%addr, database = %crate::state::redact_password(&settings.database_url), env = ?settings.env, "serving");
    eprintln!("botbuilder listening on http://{addr} (docs: http://{addr}/docs)");
    if let Some(demo) = &seeded {
        println!(
            "{}",
            crate::demo::instructions(&format!("http://{addr}"), demo)
        );
    }
    crate::serve(listener, state, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}
