//! Where deliveries may connect (docs/events.md "Where pushes may go"). A receiver is less trusted than
//! an operator: an SSF push reaches only public unicast addresses (or networks the operator
//! admits with `ssf.push.allow_networks`); a configured hook may reach private ones. Neither may
//! reach this instance's own listeners, whatever the configuration says.
//!
//! The check is made on the address actually connected to: an IP literal before the request,
//! a name inside the resolver the request connects through (the addresses it returns are the
//! only ones tried), so there is no second lookup between the check and the connection.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A network in CIDR notation (`10.0.0.0/8`, `fd00::/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

/// A network that is not in CIDR notation.
#[derive(Debug, thiserror::Error)]
#[error("not a network in CIDR notation (address/prefix, e.g. 10.0.0.0/8)")]
pub struct IpNetError;

impl FromStr for IpNet {
    type Err = IpNetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = s.split_once('/').ok_or(IpNetError)?;
        let addr: IpAddr = addr.parse().map_err(|_| IpNetError)?;
        let prefix: u8 = prefix.parse().map_err(|_| IpNetError)?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(IpNetError);
        }
        Ok(Self {
            addr: addr.to_canonical(),
            prefix: if addr.is_ipv6() && addr.to_canonical().is_ipv4() {
                prefix.saturating_sub(96)
            } else {
                prefix
            },
        })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for IpNet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpNet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl IpNet {
    const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Self {
        Self {
            addr: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            prefix,
        }
    }

    const fn v6(segments: [u16; 8], prefix: u8) -> Self {
        let [a, b, c, d, e, f, g, h] = segments;
        Self {
            addr: IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)),
            prefix,
        }
    }

    /// Whether `ip` (canonical: an IPv4-mapped address as IPv4) is in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// IPv4 networks that are not public unicast (RFC 6890 and its updates).
const NOT_PUBLIC_V4: [IpNet; 15] = [
    IpNet::v4(0, 0, 0, 0, 8),       // "this network", 0.0.0.0 included
    IpNet::v4(10, 0, 0, 0, 8),      // RFC 1918
    IpNet::v4(100, 64, 0, 0, 10),   // CGNAT
    IpNet::v4(127, 0, 0, 0, 8),     // loopback
    IpNet::v4(169, 254, 0, 0, 16),  // link-local (cloud metadata)
    IpNet::v4(172, 16, 0, 0, 12),   // RFC 1918
    IpNet::v4(192, 0, 0, 0, 24),    // IETF protocol assignments
    IpNet::v4(192, 0, 2, 0, 24),    // documentation
    IpNet::v4(192, 88, 99, 0, 24),  // 6to4 relay anycast
    IpNet::v4(192, 168, 0, 0, 16),  // RFC 1918
    IpNet::v4(198, 18, 0, 0, 15),   // benchmarking
    IpNet::v4(198, 51, 100, 0, 24), // documentation
    IpNet::v4(203, 0, 113, 0, 24),  // documentation
    IpNet::v4(224, 0, 0, 0, 4),     // multicast
    IpNet::v4(240, 0, 0, 0, 4),     // reserved, broadcast included
];

/// IPv6 public unicast lives in 2000::/3; within it, these are not public.
const GLOBAL_V6: IpNet = IpNet::v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);
const NOT_PUBLIC_V6: [IpNet; 2] = [
    IpNet::v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), // IETF protocol assignments, Teredo
    IpNet::v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
];
/// Prefixes that embed an IPv4 address, which decides: NAT64 (64:ff9b::/96, the last 32
/// bits) and 6to4 (2002::/16, bits 16 to 48).
const NAT64: IpNet = IpNet::v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);
const SIX_TO_FOUR: IpNet = IpNet::v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16);

/// Whether `ip` is a public unicast address, however it is written (IPv4-mapped IPv6 and the
/// prefixes that embed IPv4 are judged by the IPv4 address they carry).
pub fn is_public_unicast(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => !NOT_PUBLIC_V4.iter().any(|n| n.contains(IpAddr::V4(v4))),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            if NAT64.contains(IpAddr::V6(v6)) {
                // The low 32 bits are the IPv4 address; truncation is the point.
                #[allow(clippy::cast_possible_truncation)]
                return is_public_unicast(IpAddr::V4(Ipv4Addr::from(bits as u32)));
            }
            if SIX_TO_FOUR.contains(IpAddr::V6(v6)) {
                #[allow(clippy::cast_possible_truncation)]
                return is_public_unicast(IpAddr::V4(Ipv4Addr::from((bits >> 80) as u32)));
            }
            GLOBAL_V6.contains(IpAddr::V6(v6))
                && !NOT_PUBLIC_V6.iter().any(|n| n.contains(IpAddr::V6(v6)))
        }
    }
}

/// Whether `ip` is an address of this machine (a connection to it stays here).
fn is_local(ip: IpAddr) -> bool {
    // Binding succeeds only to an address assigned to one of this machine's interfaces.
    ip.is_loopback() || ip.is_unspecified() || std::net::UdpSocket::bind((ip, 0)).is_ok()
}

/// Who wrote a destination, which decides where it may connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trust {
    /// An operator's hook (`webhooks.hooks`): any address but our own listeners.
    Operator,
    /// A receiver's push endpoint: public unicast, or an admitted network; never our listeners.
    Receiver,
}

/// The rule every delivery's connection is checked against.
#[derive(Debug, Default)]
pub struct AddressPolicy {
    /// `ssf.push.allow_networks`.
    allow: Vec<IpNet>,
    /// The addresses this instance's listeners are bound to.
    own: Vec<SocketAddr>,
}

/// The answer to a connection the policy refuses.
#[derive(Clone, Copy, Debug, thiserror::Error)]
#[error("address not allowed")]
pub struct AddressNotAllowed;

impl AddressPolicy {
    pub fn new(allow: Vec<IpNet>, own: Vec<SocketAddr>) -> Self {
        Self { allow, own }
    }

    /// Whether a connection to `target` would reach one of this instance's listeners.
    fn is_own(&self, target: SocketAddr) -> bool {
        let ip = target.ip().to_canonical();
        self.own.iter().any(|own| {
            let listener = own.ip().to_canonical();
            own.port() == target.port()
                && (listener == ip
                    // A connection to 0.0.0.0 or :: reaches this machine.
                    || (ip.is_unspecified() && is_local(listener))
                    || (listener.is_unspecified() && is_local(ip)))
        })
    }

    /// Whether a delivery written by `trust` may connect to `target`.
    pub fn allows(&self, trust: Trust, target: SocketAddr) -> bool {
        if self.is_own(target) {
            return false;
        }
        match trust {
            Trust::Operator => true,
            Trust::Receiver => {
                let ip = target.ip();
                is_public_unicast(ip) || self.allow.iter().any(|n| n.contains(ip))
            }
        }
    }

    /// For a receiver's endpoint: whether its host is a literal address that no delivery could
    /// ever connect to. A name is judged on what it resolves to, at each delivery.
    pub fn never_allowed(&self, url: &reqwest::Url) -> bool {
        let Some(port) = url.port_or_known_default() else {
            return true;
        };
        literal_host(url).is_some_and(|ip| !self.allows(Trust::Receiver, SocketAddr::new(ip, port)))
    }
}

/// The host of `url` when it is an IP address (the URL parser has already turned decimal,
/// hex, octal and short IPv4 forms into the dotted one).
fn literal_host(url: &reqwest::Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// The resolver of one destination's client: the system's answer, less every address the
/// policy refuses.
struct GuardedResolver {
    policy: Arc<AddressPolicy>,
    trust: Trust,
    port: u16,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (policy, trust, port) = (self.policy.clone(), self.trust, self.port);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), port)).await?;
            let allowed: Vec<SocketAddr> = found.filter(|a| policy.allows(trust, *a)).collect();
            if allowed.is_empty() {
                return Err(Box::new(AddressNotAllowed) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether a request failed because the policy refused every address it could connect to.
pub fn refused_by_policy(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = source {
        if error.is::<AddressNotAllowed>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// Most clients kept at once (one per destination); past it the cache starts over.
const MAX_CLIENTS: usize = 1024;

/// HTTP clients for deliveries, one per destination (scheme, host, port, who wrote it), each
/// connecting only where the policy allows and keeping its connections for the next delivery.
pub struct Destinations {
    policy: Arc<AddressPolicy>,
    timeout: Duration,
    clients: Mutex<HashMap<(String, u16, Trust), reqwest::Client>>,
}

/// Why no request could be made to a destination.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    #[error("address not allowed")]
    NotAllowed,
    #[error("not an absolute http(s) URL")]
    Url,
    #[error("building an HTTP client")]
    Client(#[source] reqwest::Error),
}

impl Destinations {
    pub fn new(policy: Arc<AddressPolicy>, timeout: Duration) -> Self {
        Self {
            policy,
            timeout,
            clients: Mutex::new(HashMap::new()),
        }
    }

    pub fn policy(&self) -> &AddressPolicy {
        &self.policy
    }

    /// A `POST` to `url`, on the client of its destination.
    pub fn post(
        &self,
        url: &str,
        trust: Trust,
    ) -> Result<reqwest::RequestBuilder, DestinationError> {
        let parsed = reqwest::Url::parse(url).map_err(|_| DestinationError::Url)?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(DestinationError::Url);
        }
        let port = parsed
            .port_or_known_default()
            .ok_or(DestinationError::Url)?;
        if let Some(ip) = literal_host(&parsed) {
            // No resolver runs for a literal: it is checked here, as the connection will use it.
            if !self.policy.allows(trust, SocketAddr::new(ip, port)) {
                return Err(DestinationError::NotAllowed);
            }
        }
        let host = parsed.host_str().unwrap_or_default().to_owned();
        let client = self.client(host, port, trust)?;
        Ok(client.post(parsed))
    }

    fn client(
        &self,
        host: String,
        port: u16,
        trust: Trust,
    ) -> Result<reqwest::Client, DestinationError> {
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (host, port, trust);
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would connect for us, to wherever it likes.
            .no_proxy()
            .user_agent("hanko-rs-webhooks")
            // A request is headers then body: without it the body waits for the receiver's
            // delayed ACK (tens of ms per delivery).
            .tcp_nodelay(true)
            .dns_resolver(Arc::new(GuardedResolver {
                policy: self.policy.clone(),
                trust,
                port,
            }))
            .build()
            .map_err(DestinationError::Client)?;
        if clients.len() >= MAX_CLIENTS {
            clients.clear();
        }
        clients.insert(key, client.clone());
        Ok(client)
    }
}

/// Reads at most `max` bytes of an answer's body, then drops the connection: nothing a
/// receiver sends can grow our memory. An unreadable body reads as what arrived of it.
pub async fn read_at_most(mut response: reqwest::Response, max: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < max {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let take = chunk.len().min(max - body.len());
                body.extend_from_slice(&chunk[..take]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn only_public_unicast_is_public() {
        for private in [
            "127.0.0.1",
            "0.0.0.0",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "2001:db8::1",
            "::127.0.0.1",
        ] {
            assert!(!is_public_unicast(ip(private)), "{private} is not public");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::",
        ] {
            assert!(is_public_unicast(ip(public)), "{public} is public");
        }
    }

    #[test]
    fn networks_parse_and_contain() {
        let net: IpNet = "127.0.0.0/8".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(net.contains(ip("127.1.2.3")));
        assert!(net.contains(ip("::ffff:127.0.0.1")));
        assert!(!net.contains(ip("128.0.0.1")));
        let v6: IpNet = "fd00::/8".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        let all: IpNet = "0.0.0.0/0".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(all.contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0", "10.0.0.0/33", "::/129", "x/8", "10.0.0.0/-1"] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn own_listeners_are_refused_whatever_is_admitted() {
        let admin: SocketAddr = "127.0.0.1:8001".parse().unwrap_or_else(|e| panic!("{e}"));
        let policy = AddressPolicy::new(
            vec!["127.0.0.0/8".parse().unwrap_or_else(|e| panic!("{e}"))],
            vec![admin],
        );
        let at = |s: &str| s.parse::<SocketAddr>().unwrap_or_else(|e| panic!("{e}"));
        for trust in [Trust::Operator, Trust::Receiver] {
            assert!(!policy.allows(trust, at("127.0.0.1:8001")));
            assert!(!policy.allows(trust, at("0.0.0.0:8001")));
            assert!(!policy.allows(trust, at("[::ffff:127.0.0.1]:8001")));
            assert!(policy.allows(trust, at("127.0.0.1:9000")));
        }
        let strict = AddressPolicy::new(vec![], vec![admin]);
        assert!(!strict.allows(Trust::Receiver, at("127.0.0.1:9000")));
        assert!(strict.allows(Trust::Operator, at("127.0.0.1:9000")));
        assert!(strict.allows(Trust::Receiver, at("8.8.8.8:443")));
    }

    #[test]
    fn every_spelling_of_loopback_is_a_literal_never_allowed() {
        let policy = AddressPolicy::default();
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://0/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://169.254.169.254/",
            "http://10.0.0.1/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://[fd00::1]/",
        ] {
            let parsed = reqwest::Url::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(policy.never_allowed(&parsed), "{url}");
        }
        let public =
            reqwest::Url::parse("https://receiver.example/").unwrap_or_else(|e| panic!("{e}"));
        assert!(!policy.never_allowed(&public));
    }
}
