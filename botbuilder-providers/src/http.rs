//! [`GuardedFetcher`]: the one outbound HTTP client, safe against server-side request
//! forgery.
//!
//! - Only `http` and `https`.
//! - Host names are resolved by a resolver that drops non-public addresses (loopback,
//!   private, link-local — including cloud metadata at 169.254.169.254 —, CGNAT, unique
//!   local, multicast, documentation, unspecified, and IPv6 forms that embed one of those
//!   IPv4 addresses: mapped, compatible, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`, ISATAP;
//!   Teredo and local-use NAT64 are refused whole); a name with no public address is refused.
//!   The connection goes to an address that resolver returned, so DNS rebinding cannot slip a
//!   private address in between the check and the connect. A name that does not resolve and
//!   a name that resolves only to internal addresses get the same answer ("cannot be
//!   reached"), so the guard does not reveal which internal names exist.
//! - Proxy environment variables (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`) are ignored: a
//!   proxy would resolve names itself, past the guard. With [`FetchPolicy::proxy`] set, the
//!   fetcher resolves every name itself first and refuses it unless all its addresses are
//!   public. The proxy resolves the name again when it connects, so a name whose answer
//!   changes in between (DNS rebinding) is the proxy's to refuse: configure one that refuses
//!   private targets itself.
//! - Redirects to another origin drop every request header but `Accept`, `Accept-Language`,
//!   `Content-Type` and `User-Agent` (any other may carry a credential).
//! - IP-literal URLs are checked before any connection, and every redirect target is checked
//!   again the same way (redirects are followed here, at most [`MAX_REDIRECTS`]).
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

use botbuilder_core::fetch::{HEADERS_KEPT_ACROSS_ORIGINS, RESERVED_HEADERS};

/// The longest `Retry-After` taken from an answer (a day): a larger one is cut to it.
pub const MAX_RETRY_AFTER_SECS: u64 = 24 * 3600;
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
    /// An outbound proxy (`http://proxy.internal:3128`) to send every request through;
    /// `None`: direct connections, whatever the environment says.
    pub proxy: Option<String>,
}

/// Whether an address is on the public internet. An IPv6 address that embeds an IPv4
/// address (see the module docs) is judged by the embedded address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation 2001:db8::/32
                || (s[0] == 0x2001 && s[1] == 0) // Teredo 2001::/32 (tunnels to IPv4)
                || (s[0] == 0x2001 && s[1] == 2 && s[2] == 0) // benchmarking 2001:2::/48
                || (s[0] == 0x2001 && (s[1] & 0xfff0) == 0x0010) // ORCHID 2001:10::/28
                || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0) // discard 100::/64
                || (s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 1)) // local-use NAT64 64:ff9b:1::/48
        }
    }
}

/// The IPv4 address an IPv6 address carries, where the form says it does: IPv4-mapped
/// `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d` (not `::` or `::1`), NAT64 `64:ff9b::a.b.c.d`
/// (RFC 6052), 6to4 `2002:aabb:ccdd::/48` (RFC 3056), ISATAP `…:0:5efe:a.b.c.d` (RFC 5214),
/// IPv4-translated `::ffff:0:a.b.c.d` (RFC 2765).
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1) {
        return Some(low(s[6], s[7])); // IPv4-compatible
    }
    if s[..6] == [0, 0, 0, 0, 0xffff, 0] {
        return Some(low(s[6], s[7])); // IPv4-translated (SIIT, RFC 2765)
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(low(s[6], s[7])); // NAT64 well-known prefix
    }
    if s[0] == 0x2002 {
        return Some(low(s[1], s[2])); // 6to4
    }
    if (s[4] & 0xfdff) == 0 && s[5] == 0x5efe {
        return Some(low(s[6], s[7])); // ISATAP interface identifier
    }
    None
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

/// The one answer for a name that is unknown or only internal (see the module docs).
fn unreachable_name(host: &str) -> String {
    format!("`{host}` cannot be reached")
}

/// The public addresses of `host` (none: unknown, or internal only).
async fn public_addresses(host: &str) -> Vec<SocketAddr> {
    match tokio::net::lookup_host((host, 0)).await {
        Ok(found) => found.filter(|addr| is_public(addr.ip())).collect(),
        Err(_) => Vec::new(),
    }
}

/// Resolves names, keeping only public addresses.
#[derive(Debug)]
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found = public_addresses(&host).await;
            if found.is_empty() {
                return Err(format!("refused: {}", unreachable_name(&host)).into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// With a proxy, a name is checked here: every address it has must be public.
async fn check_name_for_proxy(host: &str) -> Result<(), FetchError> {
    let all: Vec<SocketAddr> = match tokio::net::lookup_host((host, 0)).await {
        Ok(found) => found.collect(),
        Err(_) => Vec::new(),
    };
    if all.is_empty() || !all.iter().all(|addr| is_public(addr.ip())) {
        return Err(FetchError::Refused(unreachable_name(host)));
    }
    Ok(())
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
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            // Followed in `fetch`, each hop checked like the first.
            .redirect(Policy::none())
            .user_agent(concat!("botbuilder/", env!("CARGO_PKG_VERSION")));
        builder = match &policy.proxy {
            None => builder.no_proxy(),
            Some(proxy) => builder.proxy(
                reqwest::Proxy::all(proxy).map_err(|e| FetchError::InvalidUrl(e.to_string()))?,
            ),
        };
        // Through a proxy, names are checked before each request (and the resolver would
        // refuse the proxy's own name when it is internal, as it usually is).
        if !policy.allow_private && policy.proxy.is_none() {
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
    match chain.split_once("refused: ") {
        Some((_, why)) => FetchError::Refused(why.split(':').next().unwrap_or(why).to_owned()),
        None => FetchError::Failed(Box::new(e)),
    }
}

impl GuardedFetcher {
    /// A request to `url` on the guarded client, for callers that read the response as a
    /// stream (language model APIs); send it with [`GuardedFetcher::execute`].
    pub fn request(&self, method: reqwest::Method, url: reqwest::Url) -> reqwest::RequestBuilder {
        self.client.request(method, url)
    }

    /// Sends `request` after checking its URL like [`Fetcher::fetch`] does, and returns the
    /// response as it arrives (headers read, body not yet). Redirects are not followed: a
    /// 3xx comes back as it is. Timeouts are the caller's, apart from the 5-second connect
    /// timeout.
    pub async fn execute(
        &self,
        request: reqwest::Request,
    ) -> Result<reqwest::Response, FetchError> {
        self.check(request.url()).await?;
        self.client.execute(request).await.map_err(classify)
    }

    /// Refuses `url` unless the policy allows it; with a proxy, resolves its name first.
    async fn check(&self, url: &reqwest::Url) -> Result<(), FetchError> {
        if let Some(why) = refusal(url, &self.policy) {
            return Err(FetchError::Refused(why));
        }
        if self.policy.proxy.is_some()
            && !self.policy.allow_private
            && let Some(url::Host::Domain(host)) = url.host()
        {
            check_name_for_proxy(host).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Fetcher for GuardedFetcher {
    async fn check_target(&self, url: &str) -> Result<(), FetchError> {
        let url = reqwest::Url::parse(url).map_err(|e| FetchError::InvalidUrl(e.to_string()))?;
        self.check(&url).await
    }

    async fn fetch(&self, request: FetchRequest) -> Result<FetchResponse, FetchError> {
        let mut url =
            reqwest::Url::parse(&request.url).map_err(|e| FetchError::InvalidUrl(e.to_string()))?;
        let mut method = reqwest::Method::from_bytes(request.method.to_uppercase().as_bytes())
            .map_err(|_| FetchError::InvalidUrl(format!("bad method `{}`", request.method)))?;
        let limit = request
            .max_body_bytes
            .unwrap_or(MAX_BODY_BYTES)
            .min(MAX_BODY_BYTES_CEILING);
        let deadline = tokio::time::Instant::now() + request.timeout.min(MAX_TIMEOUT);
        let mut body = request.body;
        let mut headers = request.headers;
        // The connection's own headers are the client's to set, never a caller's.
        headers.retain(|(name, _)| !RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()));
        let mut redirects = 0;
        let response = loop {
            self.check(&url).await?;
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Err(FetchError::Timeout);
            }
            let mut builder = self
                .client
                .request(method.clone(), url.clone())
                .timeout(left);
            for (name, value) in &headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            if let Some(body) = &body {
                builder = builder.body(body.clone());
            }
            let response = builder.send().await.map_err(classify)?;
            let status = response.status();
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok());
            let (true, true, Some(location)) =
                (request.follow_redirects, status.is_redirection(), location)
            else {
                break response;
            };
            if redirects >= MAX_REDIRECTS {
                return Err(FetchError::Refused("too many redirects".into()));
            }
            redirects += 1;
            let next = url
                .join(location)
                .map_err(|e| FetchError::InvalidUrl(format!("bad redirect: {e}")))?;
            if next.origin() != url.origin() {
                headers.retain(|(name, _)| {
                    HEADERS_KEPT_ACROSS_ORIGINS.contains(&name.to_ascii_lowercase().as_str())
                });
            }
            url = next;
            // 301/302/303 continue as GET without a body; 307/308 repeat the request.
            if !matches!(status.as_u16(), 307 | 308) {
                method = reqwest::Method::GET;
                body = None;
            }
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|secs| Duration::from_secs(secs.min(MAX_RETRY_AFTER_SECS)));
        let truncate = request.truncate_body;
        if !truncate
            && response
                .content_length()
                .is_some_and(|declared| declared > limit as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let mut body = Vec::new();
        let mut chunks = response.bytes_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(_) if truncate => break,
                Err(e) => return Err(classify(e)),
            };
            if body.len() + chunk.len() > limit {
                if truncate {
                    body.extend_from_slice(&chunk[..limit - body.len()]);
                    break;
                }
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchResponse {
            status,
            content_type,
            retry_after,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_ipv4_addresses_are_found() {
        let v4 = |s: &str| embedded_v4(s.parse().unwrap());
        assert_eq!(v4("64:ff9b::7f00:1"), Some(Ipv4Addr::LOCALHOST));
        assert_eq!(
            v4("2002:a9fe:a9fe::"),
            Some(Ipv4Addr::new(169, 254, 169, 254))
        );
        assert_eq!(v4("::c0a8:1"), Some(Ipv4Addr::new(192, 168, 0, 1)));
        assert_eq!(v4("::1"), None, "loopback is not IPv4-compatible");
        assert_eq!(v4("2606:4700:4700::1111"), None);
    }

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
            "::7f00:1",
            "::a00:1",
            "64:ff9b::a00:1",
            "64:ff9b::c0a8:101",
            "2002:a00:1::",
            "2002:c0a8:101:1::1",
            "2001:0:4136:e378::1",
            "fec0::1",
            "2001:db9::5efe:7f00:1",
            "::ffff:0:7f00:1",
            "::ffff:0:a9fe:a9fe",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "93.184.216.34",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
