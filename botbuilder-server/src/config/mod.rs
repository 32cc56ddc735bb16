//! Server settings, layered flags > `BOTBUILDER_*` environment > TOML file > defaults, and
//! the handling of secrets (generated in development, required and strong in production).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use botbuilder_core::knowledge::EXPANSION_SEARCH;
use serde::{Deserialize, Serialize};

pub mod database;
mod llm;
mod secrets;

pub use llm::LlmSettings;
use secrets::{DevSecrets, check_jwt_secret, check_master_key, decode_key};
pub use secrets::{generate_master_key, replace_dev_master_key};

/// The example configuration, which also documents every default.
pub const EXAMPLE_CONFIG: &str = include_str!("../../botbuilder.example.toml");
/// Config file read when present and none is named.
pub const DEFAULT_CONFIG_FILE: &str = "botbuilder.toml";
/// Default listen address.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Default database.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://botbuilder.db";
/// Default file for generated development secrets.
pub const DEFAULT_SECRETS_FILE: &str = "botbuilder-secrets.toml";
/// Default request body limit (1 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// The largest vector graph search expansion accepted (at 1M chunks, 1,024 already takes
/// 21 ms at p99 for recall@10 0.97).
pub const MAX_VECTOR_SEARCH_EXPANSION: usize = 4096;
/// Minimum length of the JWT secret, in bytes.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// Deployment environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Generates missing secrets (with a warning) and allows insecure cookies over HTTP.
    #[default]
    Development,
    /// Requires strong secrets and secure cookies.
    Production,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, colored when a terminal.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

/// A secret string whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(s))
    }
}

/// Settings where every value is optional: one layer (flags + environment, or the file).
#[derive(Debug, Clone, Default, clap::Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialSettings {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "BOTBUILDER_BIND", global = true)]
    pub bind: Option<SocketAddr>,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB [default: sqlite://botbuilder.db].
    #[arg(long, env = "BOTBUILDER_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Connections in the database pool (Postgres) [default: 16].
    #[arg(long, env = "BOTBUILDER_DATABASE_MAX_CONNECTIONS", global = true)]
    pub database_max_connections: Option<u32>,
    /// Longest one database statement may run, in seconds (Postgres) [default: 30].
    #[arg(
        long,
        env = "BOTBUILDER_DATABASE_STATEMENT_TIMEOUT_SECS",
        global = true
    )]
    pub database_statement_timeout_secs: Option<u64>,
    /// A Postgres read replica for lag-tolerant reads (usage, audit log) [default: none].
    #[arg(long, env = "BOTBUILDER_DATABASE_REPLICA_URL", global = true)]
    pub database_replica_url: Option<String>,
    /// Directory where large knowledge bases' vector graphs are saved, so a restart reloads
    /// them instead of rebuilding (a cache, safe to delete) [default: PATH.indexes beside a
    /// SQLite database file, else none].
    #[arg(long, env = "BOTBUILDER_INDEX_DIR", global = true)]
    pub index_dir: Option<PathBuf>,
    /// Candidates a search of a large knowledge base's vector graph considers (HNSW's `ef`,
    /// 1–4096): more finds more of the exact best chunks and takes longer; a search gathers
    /// at least the rows it re-ranks (80 for a top 5), so less changes nothing [default: 256].
    #[arg(long, env = "BOTBUILDER_VECTOR_SEARCH_EXPANSION", global = true)]
    pub vector_search_expansion: Option<usize>,
    /// Deployment environment [default: development].
    #[arg(long, env = "BOTBUILDER_ENV", value_enum, global = true)]
    pub env: Option<Environment>,
    /// HS256 signing secret for access tokens (at least 32 bytes).
    #[arg(
        long,
        env = "BOTBUILDER_JWT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub jwt_secret: Option<Secret>,
    /// 32-byte key (base64 or hex) encrypting secrets at rest.
    #[arg(
        long,
        env = "BOTBUILDER_MASTER_KEY",
        hide_env_values = true,
        global = true
    )]
    pub master_key: Option<Secret>,
    /// Earlier master keys (comma separated), still accepted for opening secrets while
    /// `admin rotate-master-key` has not re-sealed everything [default: none].
    #[arg(
        long,
        env = "BOTBUILDER_PREVIOUS_MASTER_KEYS",
        hide_env_values = true,
        value_delimiter = ',',
        global = true
    )]
    pub previous_master_keys: Option<Vec<Secret>>,
    /// Where development secrets are generated and kept [default: botbuilder-secrets.toml].
    #[arg(long, env = "BOTBUILDER_SECRETS_FILE", global = true)]
    pub secrets_file: Option<PathBuf>,
    /// Redis URL for multi-instance deployments (absent: in-process).
    #[arg(long, env = "BOTBUILDER_REDIS_URL", global = true)]
    pub redis_url: Option<String>,
    /// Log format [default: pretty].
    #[arg(long, env = "BOTBUILDER_LOG_FORMAT", value_enum, global = true)]
    pub log_format: Option<LogFormat>,
    /// tracing filter directives [default: info].
    #[arg(long, env = "BOTBUILDER_LOG", global = true)]
    pub log: Option<String>,
    /// Largest accepted request body in bytes [default: 1048576].
    #[arg(long, env = "BOTBUILDER_BODY_LIMIT", global = true)]
    pub body_limit: Option<usize>,
    /// Origins allowed to call the API from browsers, comma separated.
    #[arg(
        long,
        env = "BOTBUILDER_CORS_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    pub cors_origins: Option<Vec<String>>,
    /// Anonymous requests per minute per client IP [default: 600].
    #[arg(long, env = "BOTBUILDER_RATE_LIMIT_PER_MINUTE", global = true)]
    pub rate_limit_per_minute: Option<u32>,
    /// Requests per minute per user or API key [default: 6000].
    #[arg(
        long,
        env = "BOTBUILDER_RATE_LIMIT_PER_CREDENTIAL_PER_MINUTE",
        global = true
    )]
    pub rate_limit_per_credential_per_minute: Option<u32>,
    /// Requests per minute per organization, all its users and keys together [default: 30000].
    #[arg(long, env = "BOTBUILDER_RATE_LIMIT_PER_ORG_PER_MINUTE", global = true)]
    pub rate_limit_per_org_per_minute: Option<u32>,
    /// Web chat sessions a client IP may start per minute [default: 30].
    #[arg(
        long,
        env = "BOTBUILDER_WEBCHAT_SESSIONS_PER_IP_PER_MINUTE",
        global = true
    )]
    pub webchat_sessions_per_ip_per_minute: Option<u32>,
    /// Login/sign-up attempts per minute per IP [default: 20].
    #[arg(long, env = "BOTBUILDER_AUTH_RATE_LIMIT_PER_IP", global = true)]
    pub auth_rate_limit_per_ip: Option<u32>,
    /// Failed logins per 15 minutes per account from one client address [default: 10].
    #[arg(long, env = "BOTBUILDER_AUTH_RATE_LIMIT_PER_EMAIL", global = true)]
    pub auth_rate_limit_per_email: Option<u32>,
    /// Failed logins per 15 minutes per client address, on any account [default: 30].
    #[arg(long, env = "BOTBUILDER_AUTH_FAILURES_PER_IP", global = true)]
    pub auth_failures_per_ip: Option<u32>,
    /// Take the client IP from X-Forwarded-For, as written by one trusted proxy (see
    /// `trusted_proxies` for more) [default: false].
    #[arg(long, env = "BOTBUILDER_TRUST_FORWARDED_FOR", global = true)]
    pub trust_forwarded_for: Option<bool>,
    /// How many proxies in front of the server append to X-Forwarded-For (a CDN and a load
    /// balancer: 2); the client IP is the entry the outermost one wrote [default: 0, or 1
    /// with trust_forwarded_for].
    #[arg(long, env = "BOTBUILDER_TRUSTED_PROXIES", global = true)]
    pub trusted_proxies: Option<usize>,
    /// Non-public `ip:port` targets outbound requests (flow HTTP nodes, documents by URL) may
    /// reach anyway, comma separated (an on-premises service; tests) [default: none].
    #[arg(
        long,
        env = "BOTBUILDER_FETCH_ALLOW",
        value_delimiter = ',',
        global = true
    )]
    pub fetch_allow: Option<Vec<SocketAddr>>,
    /// Proxy for outbound requests, e.g. `http://proxy.internal:3128` (proxy environment
    /// variables are ignored) [default: none; direct].
    #[arg(long, env = "BOTBUILDER_FETCH_PROXY", global = true)]
    pub fetch_proxy: Option<String>,
    /// The server's address as messaging platforms reach it, e.g. `https://bots.example.com`:
    /// channel webhooks are `{public_url}/hooks/{type}/{channel}`, and Telegram is told so
    /// when a channel connects; without it Telegram channels long-poll [default: none].
    #[arg(long, env = "BOTBUILDER_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Directory of a sentence-transformers model (config.json, tokenizer.json,
    /// model.safetensors) to embed knowledge with, e.g. all-MiniLM-L6-v2; needs a build with
    /// the `minilm` feature [default: the offline hashed embedder].
    #[arg(long, env = "BOTBUILDER_EMBEDDING_MODEL_DIR", global = true)]
    pub embedding_model_dir: Option<PathBuf>,
    /// The program that reads PDF and HTML documents in a separate process (it is run as
    /// `PROGRAM extract --json ...`) [default: this `botbuilder` binary].
    #[arg(long, env = "BOTBUILDER_EXTRACT_PROGRAM", global = true)]
    pub extract_program: Option<PathBuf>,
    /// Longest one document may take to read, in seconds [default: 120].
    #[arg(long, env = "BOTBUILDER_EXTRACT_TIMEOUT_SECS", global = true)]
    pub extract_timeout_secs: Option<u64>,
    /// Most memory (address space) the document reader may use, in MiB [default: 1024].
    #[arg(long, env = "BOTBUILDER_EXTRACT_MEMORY_MIB", global = true)]
    pub extract_memory_mib: Option<u64>,
    /// Seconds in-flight requests get to finish after SIGTERM/Ctrl-C before the server stops
    /// anyway; background work is abandoned (and resumed by the next start) [default: 30].
    #[arg(long, env = "BOTBUILDER_SHUTDOWN_GRACE_SECS", global = true)]
    pub shutdown_grace_secs: Option<u64>,
    /// Seconds a request head may take from its first byte [default: 10].
    #[arg(long, env = "BOTBUILDER_HEADER_TIMEOUT_SECS", global = true)]
    pub header_timeout_secs: Option<u64>,
    /// Seconds a request body may take to arrive in full [default: 120].
    #[arg(long, env = "BOTBUILDER_BODY_TIMEOUT_SECS", global = true)]
    pub body_timeout_secs: Option<u64>,
    /// Seconds an idle keep-alive connection stays open [default: 75].
    #[arg(long, env = "BOTBUILDER_IDLE_TIMEOUT_SECS", global = true)]
    pub idle_timeout_secs: Option<u64>,
    /// Most connections at once (kept below the open-file limit) [default: 10000].
    #[arg(long, env = "BOTBUILDER_MAX_CONNECTIONS", global = true)]
    pub max_connections: Option<usize>,
    /// Most connections at once from one address; 0 for no cap (behind a proxy, every
    /// client has the proxy's address) [default: 256].
    #[arg(long, env = "BOTBUILDER_MAX_CONNECTIONS_PER_IP", global = true)]
    pub max_connections_per_ip: Option<usize>,
    /// Bearer token `/metrics` requires [default: none; open].
    #[arg(
        long,
        env = "BOTBUILDER_METRICS_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub metrics_token: Option<Secret>,
    /// Serve `/metrics` on this address only (not on `bind`) [default: on `bind`].
    #[arg(long, env = "BOTBUILDER_METRICS_BIND", global = true)]
    pub metrics_bind: Option<SocketAddr>,
    /// OpenAI API key serving every organization without its own [default: none].
    #[arg(
        long,
        env = "BOTBUILDER_OPENAI_API_KEY",
        hide_env_values = true,
        global = true
    )]
    pub openai_api_key: Option<Secret>,
    /// OpenAI API root, for a proxy or an Azure-style deployment URL
    /// [default: https://api.openai.com/v1].
    #[arg(long, env = "BOTBUILDER_OPENAI_BASE_URL", global = true)]
    pub openai_base_url: Option<String>,
    /// Anthropic API key serving every organization without its own [default: none].
    #[arg(
        long,
        env = "BOTBUILDER_ANTHROPIC_API_KEY",
        hide_env_values = true,
        global = true
    )]
    pub anthropic_api_key: Option<Secret>,
    /// Anthropic API root [default: https://api.anthropic.com].
    #[arg(long, env = "BOTBUILDER_ANTHROPIC_BASE_URL", global = true)]
    pub anthropic_base_url: Option<String>,
    /// API root of the OpenAI-compatible server `openai-compatible` bots use, e.g.
    /// `http://127.0.0.1:11434/v1` for Ollama (a private address also needs
    /// `fetch_allow`) [default: none].
    #[arg(long, env = "BOTBUILDER_OPENAI_COMPATIBLE_BASE_URL", global = true)]
    pub openai_compatible_base_url: Option<String>,
    /// Key for that server, if it wants one [default: none].
    #[arg(
        long,
        env = "BOTBUILDER_OPENAI_COMPATIBLE_API_KEY",
        hide_env_values = true,
        global = true
    )]
    pub openai_compatible_api_key: Option<Secret>,
    /// Who embeds knowledge: `local` (offline), `openai` (with `openai_api_key`) or
    /// `openai-compatible` (at `openai_compatible_base_url`: Ollama, vLLM, TEI)
    /// [default: local].
    #[arg(long, env = "BOTBUILDER_EMBEDDING_PROVIDER", global = true)]
    pub embedding_provider: Option<String>,
    /// The embedding model, e.g. `text-embedding-3-small` or `nomic-embed-text`.
    #[arg(long, env = "BOTBUILDER_EMBEDDING_MODEL", global = true)]
    pub embedding_model: Option<String>,
    /// Length of its vectors (required unless the model is one of OpenAI's).
    #[arg(long, env = "BOTBUILDER_EMBEDDING_DIMENSIONS", global = true)]
    pub embedding_dimensions: Option<usize>,
    /// Model catalog additions and corrections (`[[models]]` tables of the config file only).
    #[arg(skip)]
    pub models: llm::Models,
}

macro_rules! layer {
    ($high:expr, $low:expr; $($field:ident),+ $(,)?) => {
        PartialSettings { $($field: $high.$field.or($low.$field)),+ }
    };
}

impl PartialSettings {
    /// Values of `self`, falling back to `lower` where `self` has none.
    pub fn or(self, lower: PartialSettings) -> PartialSettings {
        layer!(self, lower; bind, database_url, database_max_connections,
            database_statement_timeout_secs, database_replica_url, index_dir, vector_search_expansion, env, jwt_secret, master_key, previous_master_keys,
            secrets_file,
            redis_url, log_format, log, body_limit, cors_origins, rate_limit_per_minute,
            rate_limit_per_credential_per_minute, rate_limit_per_org_per_minute,
            webchat_sessions_per_ip_per_minute,
            auth_rate_limit_per_ip, auth_rate_limit_per_email, auth_failures_per_ip,
            trust_forwarded_for, trusted_proxies, fetch_allow,
            fetch_proxy, public_url,
            embedding_model_dir, extract_program, extract_timeout_secs, extract_memory_mib,
            shutdown_grace_secs, header_timeout_secs, body_timeout_secs, idle_timeout_secs,
            max_connections, max_connections_per_ip, metrics_token, metrics_bind,
            openai_api_key, openai_base_url, anthropic_api_key, anthropic_base_url,
            openai_compatible_base_url, openai_compatible_api_key, embedding_provider,
            embedding_model, embedding_dimensions, models)
    }

    /// Parses a TOML layer.
    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        toml::from_str(text).context("invalid configuration file")
    }

    /// The document reader's program and limits from this layer (defaults where unset), for
    /// commands that do not resolve the whole settings.
    pub fn extract_settings(&self) -> (Option<PathBuf>, crate::isolation::ExtractLimits) {
        let limits = crate::isolation::ExtractLimits {
            timeout: Duration::from_secs(
                self.extract_timeout_secs
                    .unwrap_or(DEFAULT_EXTRACT_TIMEOUT_SECS)
                    .max(1),
            ),
            memory_bytes: self
                .extract_memory_mib
                .unwrap_or(DEFAULT_EXTRACT_MEMORY_MIB)
                .max(64)
                .saturating_mul(1024 * 1024),
        };
        (self.extract_program.clone(), limits)
    }

    /// Reads the TOML layer at `path`; with no path, `./botbuilder.toml` if it exists.
    pub fn from_file(path: Option<&Path>) -> anyhow::Result<Self> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_toml(&text).with_context(|| format!("in {}", path.display())),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
}

/// Complete settings: every default applied, secrets resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Database URL.
    pub database_url: String,
    /// Pool size, statement time limit and read replica of the database.
    pub database: database::DatabaseOptions,
    /// Where knowledge bases' vector graphs are saved, if anywhere.
    pub index_dir: Option<PathBuf>,
    /// Candidates a vector graph search considers (HNSW's `ef`).
    pub vector_search_expansion: usize,
    /// Deployment environment.
    pub env: Environment,
    /// JWT signing secret.
    pub jwt_secret: Secret,
    /// The 32-byte master key.
    pub master_key: Secret,
    /// Earlier master keys still accepted for opening secrets.
    pub previous_master_keys: Vec<Secret>,
    /// The development secrets file the master key was read from, if it was.
    pub master_key_file: Option<PathBuf>,
    /// Redis URL, if any.
    pub redis_url: Option<String>,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter.
    pub log: String,
    /// Body limit in bytes.
    pub body_limit: usize,
    /// CORS allowlist.
    pub cors_origins: Vec<String>,
    /// Anonymous requests per minute per IP.
    pub rate_limit_per_minute: u32,
    /// Requests per minute per user or API key.
    pub rate_limit_per_credential_per_minute: u32,
    /// Requests per minute per organization.
    pub rate_limit_per_org_per_minute: u32,
    /// Web chat sessions per minute per IP.
    pub webchat_sessions_per_ip_per_minute: u32,
    /// Auth attempts per minute per IP.
    pub auth_rate_limit_per_ip: u32,
    /// Failed logins per 15 minutes per account and client address.
    pub auth_rate_limit_per_email: u32,
    /// Failed logins per 15 minutes per client address.
    pub auth_failures_per_ip: u32,
    /// Trust X-Forwarded-For (one proxy unless `trusted_proxy_hops` says more).
    pub trust_forwarded_for: bool,
    /// Proxies appending to X-Forwarded-For, if set.
    pub trusted_proxy_hops: Option<usize>,
    /// Non-public targets outbound requests may reach anyway.
    pub fetch_allow: Vec<SocketAddr>,
    /// Proxy for outbound requests, if any.
    pub fetch_proxy: Option<String>,
    /// The server's address as messaging platforms reach it, if it has one.
    pub public_url: Option<String>,
    /// When failed customer webhook deliveries are tried again (not configurable from
    /// outside; tests shorten it).
    pub webhook_retry: botbuilder_core::webhook::RetrySchedule,
    /// The sentence model directory, if knowledge is embedded with one.
    pub embedding_model_dir: Option<PathBuf>,
    /// The program reading parser-backed documents in a separate process (`None`: this
    /// binary when it is `botbuilder`, else in-process with a warning).
    pub extract_program: Option<PathBuf>,
    /// Time and memory limits of the document reader process.
    pub extract_limits: crate::isolation::ExtractLimits,
    /// How long in-flight requests get after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Connection caps and timeouts.
    pub edge: crate::edge::EdgeLimits,
    /// Longest a request body may take to arrive.
    pub body_timeout: Duration,
    /// Bearer token `/metrics` requires, if any.
    pub metrics_token: Option<Secret>,
    /// Separate address for `/metrics`, if any.
    pub metrics_bind: Option<SocketAddr>,
    /// Server-wide language model credentials and the model catalog.
    pub llm: LlmSettings,
}

/// Default time limit for reading one document (seconds).
pub const DEFAULT_EXTRACT_TIMEOUT_SECS: u64 = 120;
/// Default memory limit of the document reader (MiB).
pub const DEFAULT_EXTRACT_MEMORY_MIB: u64 = 1024;
/// Default shutdown grace period (seconds).
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 30;
/// Default time a request body may take to arrive (seconds).
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 120;

/// A fact about the resolved settings worth telling the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsNotice {
    /// Secrets were generated and written to this file.
    GeneratedSecrets(PathBuf),
    /// Secrets were read from this previously generated file.
    LoadedSecrets(PathBuf),
}

impl Settings {
    /// Applies defaults and resolves secrets. In development, missing secrets are read from (or
    /// generated into) the secrets file; in production they must be given and strong.
    pub fn resolve(partial: PartialSettings) -> anyhow::Result<(Self, Vec<SettingsNotice>)> {
        let database = database::DatabaseOptions::from_partial(&partial)?;
        let (extract_program, extract_limits) = partial.extract_settings();
        let edge = edge_limits(&partial);
        let llm = LlmSettings::resolve(&partial)?;
        let env = partial.env.unwrap_or_default();
        let mut notices = Vec::new();
        let mut master_key_file = None;
        let (jwt_secret, master_key) = match (partial.jwt_secret, partial.master_key, env) {
            (Some(jwt), Some(key), _) => (jwt, key),
            (jwt, key, Environment::Production) => {
                let missing: Vec<&str> = [
                    ("BOTBUILDER_JWT_SECRET", jwt.is_none()),
                    ("BOTBUILDER_MASTER_KEY", key.is_none()),
                ]
                .into_iter()
                .filter_map(|(name, missing)| missing.then_some(name))
                .collect();
                bail!("production requires {}", missing.join(" and "));
            }
            (jwt, key, Environment::Development) => {
                let path = partial
                    .secrets_file
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_SECRETS_FILE));
                let (stored, notice) = DevSecrets::load_or_create(&path)?;
                notices.push(notice);
                if key.is_none() {
                    master_key_file = Some(path);
                }
                (
                    jwt.unwrap_or(stored.jwt_secret),
                    key.unwrap_or(stored.master_key),
                )
            }
        };
        let weaknesses = [check_jwt_secret(&jwt_secret), check_master_key(&master_key)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
        if !weaknesses.is_empty() {
            if env == Environment::Production {
                bail!(
                    "weak secrets refused in production: {}",
                    weaknesses.join("; ")
                );
            }
            for weakness in &weaknesses {
                tracing::warn!("{weakness} (refused in production)");
            }
        }
        let database_url = partial
            .database_url
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        let settings = Settings {
            bind: partial
                .bind
                .unwrap_or_else(|| DEFAULT_BIND.parse().expect("valid default bind")),
            index_dir: partial
                .index_dir
                .or_else(|| database::default_index_dir(&database_url)),
            vector_search_expansion: vector_search_expansion(partial.vector_search_expansion)?,
            database_url,
            database,
            env,
            jwt_secret,
            master_key,
            previous_master_keys: partial.previous_master_keys.unwrap_or_default(),
            master_key_file,
            redis_url: partial.redis_url,
            log_format: partial.log_format.unwrap_or_default(),
            log: partial.log.unwrap_or_else(|| "info".to_owned()),
            body_limit: partial.body_limit.unwrap_or(DEFAULT_BODY_LIMIT),
            cors_origins: partial.cors_origins.unwrap_or_default(),
            rate_limit_per_minute: partial.rate_limit_per_minute.unwrap_or(600),
            rate_limit_per_credential_per_minute: partial
                .rate_limit_per_credential_per_minute
                .unwrap_or(6_000),
            rate_limit_per_org_per_minute: partial.rate_limit_per_org_per_minute.unwrap_or(30_000),
            webchat_sessions_per_ip_per_minute: partial
                .webchat_sessions_per_ip_per_minute
                .unwrap_or(30),
            auth_rate_limit_per_ip: partial.auth_rate_limit_per_ip.unwrap_or(20),
            auth_rate_limit_per_email: partial.auth_rate_limit_per_email.unwrap_or(10),
            auth_failures_per_ip: partial.auth_failures_per_ip.unwrap_or(30),
            trust_forwarded_for: partial.trust_forwarded_for.unwrap_or(false),
            trusted_proxy_hops: partial.trusted_proxies,
            fetch_allow: partial.fetch_allow.unwrap_or_default(),
            fetch_proxy: partial.fetch_proxy,
            public_url: public_url(partial.public_url)?,
            webhook_retry: botbuilder_core::webhook::RetrySchedule::default(),
            embedding_model_dir: partial.embedding_model_dir,
            extract_program,
            extract_limits,
            shutdown_grace: Duration::from_secs(
                partial
                    .shutdown_grace_secs
                    .unwrap_or(DEFAULT_SHUTDOWN_GRACE_SECS),
            ),
            edge,
            body_timeout: Duration::from_secs(
                partial
                    .body_timeout_secs
                    .unwrap_or(DEFAULT_BODY_TIMEOUT_SECS)
                    .max(1),
            ),
            metrics_token: partial.metrics_token.clone(),
            metrics_bind: partial.metrics_bind,
            llm,
        };
        Ok((settings, notices))
    }

    /// Settings for tests: the given database, fixed strong secrets, generous rate limits.
    pub fn for_tests(database_url: impl Into<String>) -> Self {
        Settings {
            bind: "127.0.0.1:0".parse().expect("valid address"),
            database_url: database_url.into(),
            database: database::DatabaseOptions::default(),
            index_dir: None,
            vector_search_expansion: EXPANSION_SEARCH,
            env: Environment::Development,
            jwt_secret: Secret::new("test-jwt-secret-0123456789-abcdefghijklmnopqrstuvwxyz"),
            master_key: Secret::new(STANDARD.encode((0u8..32).collect::<Vec<_>>())),
            previous_master_keys: Vec::new(),
            master_key_file: None,
            redis_url: None,
            log_format: LogFormat::Pretty,
            log: "warn".to_owned(),
            body_limit: DEFAULT_BODY_LIMIT,
            cors_origins: Vec::new(),
            rate_limit_per_minute: 100_000,
            rate_limit_per_credential_per_minute: 100_000,
            rate_limit_per_org_per_minute: 100_000,
            webchat_sessions_per_ip_per_minute: 100_000,
            auth_rate_limit_per_ip: 10_000,
            auth_rate_limit_per_email: 10_000,
            auth_failures_per_ip: 10_000,
            trust_forwarded_for: false,
            trusted_proxy_hops: None,
            fetch_allow: Vec::new(),
            fetch_proxy: None,
            public_url: None,
            webhook_retry: botbuilder_core::webhook::RetrySchedule::default(),
            embedding_model_dir: None,
            extract_program: None,
            extract_limits: crate::isolation::ExtractLimits {
                timeout: Duration::from_secs(DEFAULT_EXTRACT_TIMEOUT_SECS),
                memory_bytes: DEFAULT_EXTRACT_MEMORY_MIB * 1024 * 1024,
            },
            shutdown_grace: Duration::from_secs(5),
            edge: crate::edge::EdgeLimits::default(),
            body_timeout: Duration::from_secs(DEFAULT_BODY_TIMEOUT_SECS),
            metrics_token: None,
            metrics_bind: None,
            llm: LlmSettings::default(),
        }
    }

    /// Proxies whose `X-Forwarded-For` entries are trusted: `trusted_proxies` when set, else
    /// 1 with `trust_forwarded_for`, else 0.
    pub fn trusted_proxies(&self) -> usize {
        self.trusted_proxy_hops
            .unwrap_or(usize::from(self.trust_forwarded_for))
    }

    /// The master key's 32 bytes.
    pub fn master_key_bytes(&self) -> anyhow::Result<[u8; 32]> {
        decode_key(self.master_key.expose())
            .context("BOTBUILDER_MASTER_KEY must be 32 bytes, base64 or hex encoded")
    }

    /// The cipher sealing secrets at rest: the master key, opening with the previous keys
    /// too.
    pub fn cipher(&self) -> anyhow::Result<botbuilder_store::cipher::AesGcmCipher> {
        let current = self.master_key_bytes()?;
        let previous = self
            .previous_master_keys
            .iter()
            .map(|key| {
                decode_key(key.expose()).context(
                    "BOTBUILDER_PREVIOUS_MASTER_KEYS must be 32-byte keys, base64 or hex encoded",
                )
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(botbuilder_store::cipher::AesGcmCipher::new(
            &current, &previous,
        ))
    }
}

/// `BOTBUILDER_PUBLIC_URL`, checked: an absolute `http(s)` URL without query or fragment,
/// kept without a trailing `/`.
fn public_url(given: Option<String>) -> anyhow::Result<Option<String>> {
    let Some(given) = given.map(|u| u.trim().trim_end_matches('/').to_owned()) else {
        return Ok(None);
    };
    if given.is_empty() {
        return Ok(None);
    }
    let url = url::Url::parse(&given)
        .with_context(|| format!("BOTBUILDER_PUBLIC_URL `{given}` is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.query().is_some()
        || url.fragment().is_some()
    {
        bail!(
            "BOTBUILDER_PUBLIC_URL must be an http(s) URL without query or fragment, e.g. https://bots.example.com"
        );
    }
    Ok(Some(given))
}

/// The edge limits of a settings layer, defaults where unset.
fn edge_limits(partial: &PartialSettings) -> crate::edge::EdgeLimits {
    let defaults = crate::edge::EdgeLimits::default();
    let secs = |value: Option<u64>, default: Duration| {
        value.map_or(default, |s| Duration::from_secs(s.max(1)))
    };
    crate::edge::EdgeLimits {
        header_timeout: secs(partial.header_timeout_secs, defaults.header_timeout),
        idle_timeout: secs(partial.idle_timeout_secs, defaults.idle_timeout),
        max_connections: partial
            .max_connections
            .unwrap_or(defaults.max_connections)
            .max(1),
        // Behind trusted proxies every client has a proxy's address: no per-address cap
        // unless one is asked for.
        max_connections_per_ip: partial.max_connections_per_ip.unwrap_or(
            if partial.trusted_proxies.unwrap_or(0) > 0
                || partial.trust_forwarded_for.unwrap_or(false)
            {
                0
            } else {
                defaults.max_connections_per_ip
            },
        ),
    }
}

#[cfg(test)]
mod tests;

/// The vector graph search expansion given, checked: 1 to [`MAX_VECTOR_SEARCH_EXPANSION`].
fn vector_search_expansion(given: Option<usize>) -> anyhow::Result<usize> {
    match given {
        None => Ok(EXPANSION_SEARCH),
        Some(n) if (1..=MAX_VECTOR_SEARCH_EXPANSION).contains(&n) => Ok(n),
        Some(n) => bail!(
            "BOTBUILDER_VECTOR_SEARCH_EXPANSION must be 1 to {MAX_VECTOR_SEARCH_EXPANSION}, not {n}"
        ),
    }
}
