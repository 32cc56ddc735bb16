//! Request extractors. Axum runs them in argument order, and the body extractor always comes
//! last, which gives the pipeline of the security model: auth ([`Auth`]) -> organization
//! context and permission ([`OrgAccess`]) -> validation ([`ValidJson`], [`Path`], [`Query`]).

mod access;
mod json;
mod params;

pub use access::{
    Auth, ClientIp, OrgAccess, Principal, RequiredPermission, authenticate, bearer, perm,
};
pub use json::{ValidJson, is_json, optional_json, parse_json, refuse_nul, report_errors};
pub use params::{Path, Query};
