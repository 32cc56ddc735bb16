//! Server settings, layered flags > `BOTBUILDER_*` environment > TOML file > defaults, and
//! the handling of secrets (generated in development, required and strong in production).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use botbuilder_core::knowledge::EXPANSION_SEARCH;
use serde::{Deserialize, Serialize};

pub mod database;
mod llm;
mod partial;
mod secrets;

pub use llm::LlmSettings;
pub use partial::PartialSettings;
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
