//! One layer of settings where every value is optional ([`PartialSettings`]): the flags and
//! environment, or the file. Layers are merged with [`PartialSettings::or`] and resolved into
//! [`Settings`](super::Settings).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use super::{
    DEFAULT_CONFIG_FILE, DEFAULT_EXTRACT_MEMORY_MIB, DEFAULT_EXTRACT_TIMEOUT_SECS, Environment,
    LogFormat, Secret, llm,
};

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
