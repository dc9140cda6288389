//! Which address is the client: the socket peer, unless the peer is a proxy we
//! were told to trust.
//!
//! Only one forwarding header is consulted (`client_ip_header`, default
//! `X-Forwarded-For`), and only when the peer is inside `trusted_proxies`.
//! Consulting several would let a client forge whichever one the real proxy
//! does not overwrite. For list headers (`X-Forwarded-For`, RFC 7239
//! `Forwarded`) proxies append on the right, so we walk from the right and take
//! the first hop that is not itself a trusted proxy: anything left of it was
//! written by the client and is not believed. With no trusted proxies
//! configured (the default), headers change nothing.

use std::net::IpAddr;

use hyper::header::{HeaderMap, HeaderName};
use ipnet::IpNet;

/// Resolves the client address of a request.
#[derive(Debug, Clone)]
pub struct ClientIpResolver {
    trusted_proxies: Vec<IpNet>,
    header: HeaderName,
}

/// How the configured header is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeaderShape {
    XForwardedFor,
    Forwarded,
    Single,
}

impl ClientIpResolver {
    /// `header` is a validated header name (see config).
    pub fn new(trusted_proxies: Vec<IpNet>, header: HeaderName) -> ClientIpResolver {
        ClientIpResolver {
            trusted_proxies,
            header,
        }
    }

    /// The client address for a request that arrived from `peer`.
    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.is_trusted(peer) {
            return peer;
        }
        let values = headers
            .get_all(&self.header)
            .iter()
            .filter_map(|v| v.to_str().ok());
        let hops: Vec<Option<IpAddr>> = match self.shape() {
            HeaderShape::XForwardedFor | HeaderShape::Single => values
                .flat_map(|v| v.split(','))
                .map(|hop| parse_hop(hop.trim()))
                .collect(),
            HeaderShape::Forwarded => values
                .flat_map(|v| v.split(','))
                .map(forwarded_for)
                .collect(),
        };
        if self.shape() == HeaderShape::Single {
            return hops.last().copied().flatten().unwrap_or(peer);
        }
        // Walk right to left past our own proxies.
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) if self.is_trusted(*ip) => continue,
                Some(ip) => return *ip,
                // An unreadable hop ("unknown", obfuscated): nothing left of it
                // can be believed, and we cannot name the client.
                None => return peer,
            }
        }
        // Every hop is a trusted proxy: the leftmost is the best we know.
        hops.first().copied().flatten().unwrap_or(peer)
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    fn shape(&self) -> HeaderShape {
        match self.header.as_str() {
            "x-forwarded-for" => HeaderShape::XForwardedFor,
            "forwarded" => HeaderShape::Forwarded,
            _ => HeaderShape::Single,
        }
    }
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is the same client as `1.2.3.4`.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:80`.
fn parse_hop(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sock) = text.parse::<std::net::SocketAddr>() {
        return Some(canonical(sock.ip()));
    }
    let inner = text.strip_prefix('[')?.split(']').next()?;
    inner.parse::<IpAddr>().ok().map(canonical)
}

/// The `for=` node of one RFC 7239 element.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        if key.trim().eq_ignore_ascii_case("for") {
            parse_hop(value)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(trusted: &[&str], header: &str) -> ClientIpResolver {
        ClientIpResolver::new(
            trusted.iter().map(|n| n.parse().unwrap()).collect(),
            HeaderName::from_bytes(header.as_bytes()).unwrap(),
        )
    }

    fn headers(name: &str, value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_headers_are_ignored() {
        let r = resolver(&[], "x-forwarded-for");
        let h = headers("x-forwarded-for", "1.2.3.4");
        assert_eq!(r.resolve(ip("9.9.9.9"), &h), ip("9.9.9.9"));
        let r = resolver(&["10.0.0.0/8"], "x-forwarded-for");
        assert_eq!(r.resolve(ip("9.9.9.9"), &h), ip("9.9.9.9"));
    }

    #[test]
    fn rightmost_untrusted_hop_wins() {
        let r = resolver(&["10.0.0.0/8"], "x-forwarded-for");
        // Client forged "6.6.6.6"; our proxy 10.0.0.2 appended the real 81.2.69.142.
        let h = headers("x-forwarded-for", "6.6.6.6, 81.2.69.142, 10.0.0.2");
        assert_eq!(r.resolve(ip("10.0.0.1"), &h), ip("81.2.69.142"));
    }

    #[test]
    fn forwarded_rfc7239() {
        let r = resolver(&["127.0.0.1/32"], "forwarded");
        let h = headers(
            "forwarded",
            "for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https",
        );
        assert_eq!(r.resolve(ip("127.0.0.1"), &h), ip("2001:db8:cafe::17"));
        let h = headers("forwarded", "for=unknown");
        assert_eq!(r.resolve(ip("127.0.0.1"), &h), ip("127.0.0.1"));
    }

    #[test]
    fn single_value_header_and_only_that_header() {
        let r = resolver(&["127.0.0.0/8"], "cf-connecting-ip");
        let mut h = headers("cf-connecting-ip", "81.2.69.142");
        h.insert("x-forwarded-for", "6.6.6.6".parse().unwrap());
        assert_eq!(r.resolve(ip("127.0.0.1"), &h), ip("81.2.69.142"));
        let r = resolver(&["127.0.0.0/8"], "x-forwarded-for");
        let h = headers("cf-connecting-ip", "81.2.69.142");
        assert_eq!(r.resolve(ip("127.0.0.1"), &h), ip("127.0.0.1"));
    }

    #[test]
    fn mapped_ipv6_is_folded() {
        let r = resolver(&[], "x-forwarded-for");
        assert_eq!(
            r.resolve(ip("::ffff:81.2.69.142"), &HeaderMap::new()),
            ip("81.2.69.142")
        );
    }
}
