//! [`GuardedFetcher`]: the one outbound HTTP client, safe against server-side request
//! forgery.
//!
//! - Only `http` and `https`.
//! - Host names are resolved by a resolver that drops non-public addresses (loopback,
//!   private, link-local — including cloud metadata at 169.254.169.254 —, CGNAT, unique
//!   local, multicast, documentation, unspecified); a name with no public address is refused.
//!   The connection goes to an address that resolver returned, so DNS rebinding cannot slip a
//!   private address in between the check and the connect.
//! - IP-literal URLs are checked before any connection, and every redirect target is checked
//!   again (at most [`MAX_REDIRECTS`]).
//! - The request's timeout is capped at [`MAX_TIMEOUT`]; the body at the request's
//!   `max_body_bytes` (default [`MAX_BODY_BYTES`], never above [`MAX_BODY_BYTES_CEILING`]).
//!
//! [`FetchPolicy::allow`] lists exact `ip:port` exceptions (tests, an on-premises API);
//! [`FetchPolicy::allow_private`] turns the guard off entirely (development only).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use botbuilder_core::fetch::{FetchError, FetchRequest, FetchResponse, Fetcher};
use futures::StreamExt;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::Policy;

/// Most redirects followed.
pub const MAX_REDIRECTS: usize = 5;
/// Longest timeout a request may ask for.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response body kept unless the request asks for another cap.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Largest cap a request may ask for (documents fetched by URL).
pub const MAX_BODY_BYTES_CEILING: usize = 64 * 1024 * 1024;

/// What the fetcher may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchPolicy {
    /// Reach any address, private ones included (development only).
    pub allow_private: bool,
    /// Exact `ip:port` targets allowed even though they are not public.
    pub allow: Vec<SocketAddr>,
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..=127).contains(&b)) // CGNAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..=19).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

/// Resolves names, keeping only public addresses.
#[derive(Debug)]
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| is_public(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("`{host}` has no public address").into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// Why a URL may not be requested, if it may not.
fn refusal(url: &reqwest::Url, policy: &FetchPolicy) -> Option<String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Some(format!("scheme `{}` is not allowed", url.scheme()));
    }
    if policy.allow_private {
        return None;
    }
    let ip = match url.host()? {
        url::Host::Ipv4(v4) => IpAddr::V4(v4),
        url::Host::Ipv6(v6) => IpAddr::V6(v6),
        url::Host::Domain(_) => return None, // checked by the resolver
    };
    let port = url.port_or_known_default().unwrap_or(0);
    if is_public(ip) || policy.allow.contains(&SocketAddr::new(ip, port)) {
        None
    } else {
        Some(format!("{ip} is not a public address"))
    }
}

/// The guarded client (see the module docs).
#[derive(Debug, Clone)]
pub struct GuardedFetcher {
    client: reqwest::Client,
    policy: Arc<FetchPolicy>,
}

impl GuardedFetcher {
    /// A fetcher enforcing `policy`.
    pub fn new(policy: FetchPolicy) -> Result<Self, FetchError> {
        let policy = Arc::new(policy);
        let redirect_policy = policy.clone();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .redirect(Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    attempt.error("too many redirects")
                } else if let Some(why) = refusal(attempt.url(), &redirect_policy) {
                    attempt.error(format!("redirect refused: {why}"))
                } else {
                    attempt.follow()
                }
            }))
            .user_agent(concat!("botbuilder/", env!("CARGO_PKG_VERSION")));
        if !policy.allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::Failed(Box::new(e)))?;
        Ok(Self { client, policy })
    }
}

fn classify(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout;
    }
    let chain = botbuilder_core::error_chain(&e);
    if chain.contains("refused:") || chain.contains("no public address") {
        FetchError::Refused(chain)
    } else {
        FetchError::Failed(Box::new(e))
    }
}

#[async_trait]
impl Fetcher for GuardedFetcher {
    async fn fetch(&self, request: FetchRequest) -> Result<FetchResponse, FetchError> {
        let url =
            reqwest::Url::parse(&request.url).map_err(|e| FetchError::InvalidUrl(e.to_string()))?;
        if let Some(why) = refusal(&url, &self.policy) {
            return Err(FetchError::Refused(why));
        }
        let method = reqwest::Method::from_bytes(request.method.to_uppercase().as_bytes())
            .map_err(|_| FetchError::InvalidUrl(format!("bad method `{}`", request.method)))?;
        let limit = request
            .max_body_bytes
            .unwrap_or(MAX_BODY_BYTES)
            .min(MAX_BODY_BYTES_CEILING);
        let mut builder = self
            .client
            .request(method, url)
            .timeout(request.timeout.min(MAX_TIMEOUT));
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let response = builder.send().await.map_err(classify)?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if response
            .content_length()
            .is_some_and(|declared| declared > limit as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::new();
        let mut chunks = response.bytes_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(classify)?;
            if body.len() + chunk.len() > limit {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchResponse {
            status,
            content_type,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "93.184.216.34",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
