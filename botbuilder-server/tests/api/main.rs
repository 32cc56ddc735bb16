//! End-to-end HTTP tests: the real server on port 0, a temporary SQLite file, reqwest.

mod audit;
mod auth;
mod common;
mod contract;
mod conversations;
mod credentials;
mod documents;
mod edge;
mod flows;
mod hostile_documents;
mod isolation;
mod jwt;
mod knowledge;
mod knowledge_quality;
mod llm_providers;
mod nlu;
mod openai_api;
mod permissions;
mod platform;
mod provider_credentials;
mod rate_limits;
mod responsiveness;
mod tools;
mod transfer;
mod validation;
mod webchat;
