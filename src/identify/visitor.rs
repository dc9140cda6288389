//! The visitor hash: `visitor_id = first 8 bytes of blake3_keyed(salt, frame(site) ‖ frame(ip) ‖ frame(user_agent))`.
//!
//! Why this shape:
//! - blake3 in keyed mode is a PRF: without the day's salt, a `visitor_id`
//!   reveals nothing and cannot be recomputed from a guessed IP and user agent.
//!   Once the salt is destroyed (48 h), the link to a person is gone for good.
//! - Each input is framed with its length (and the whole with a version tag),
//!   so `("ab", "c")` and `("a", "bc")` can never hash alike — the mistake of
//!   plain concatenation.
//! - The IP is hashed in one canonical form (IPv4-mapped IPv6 folded to IPv4 by
//!   the caller) so the same client gives the same id whichever socket family
//!   it came in on.
//! - The site is an input, so one person gets unrelated ids on two sites.
//! - 64 bits: ClickHouse-friendly (`UInt64`, `uniq`), and collisions among the
//!   visitors of one site and day stay negligible (birthday bound ~4e9).

use std::net::IpAddr;

use super::salts::Salt;

const DOMAIN_TAG: &[u8] = b"saltmark visitor v1";

/// Computes the anonymous visitor id of one request.
pub fn visitor_id(salt: &Salt, site: &str, client_ip: IpAddr, user_agent: &str) -> u64 {
    let mut hasher = blake3::Hasher::new_keyed(salt.key());
    frame(&mut hasher, DOMAIN_TAG);
    frame(&mut hasher, site.as_bytes());
    match client_ip {
        IpAddr::V4(v4) => frame(&mut hasher, &v4.octets()),
        IpAddr::V6(v6) => frame(&mut hasher, &v6.octets()),
    }
    frame(&mut hasher, user_agent.as_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_bytes()[..8]);
    u64::from_le_bytes(first)
}

fn frame(hasher: &mut blake3::Hasher, bytes: &[u8]) {
    hasher.update(&(bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn salt(byte: u8) -> Salt {
        Salt::from_bytes([byte; 32])
    }

    #[test]
    fn same_inputs_same_id_and_each_input_matters() {
        let ip: IpAddr = "81.2.69.142".parse().unwrap();
        let base = visitor_id(&salt(1), "example.com", ip, "Mozilla/5.0");
        assert_eq!(base, visitor_id(&salt(1), "example.com", ip, "Mozilla/5.0"));
        assert_ne!(base, visitor_id(&salt(2), "example.com", ip, "Mozilla/5.0"));
        assert_ne!(base, visitor_id(&salt(1), "example.org", ip, "Mozilla/5.0"));
        assert_ne!(
            base,
            visitor_id(
                &salt(1),
                "example.com",
                "81.2.69.143".parse().unwrap(),
                "Mozilla/5.0"
            )
        );
        assert_ne!(base, visitor_id(&salt(1), "example.com", ip, "Mozilla/5.1"));
    }

    #[test]
    fn framing_prevents_concatenation_collisions() {
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        // Plain concatenation would see "example.comMozilla" in both.
        assert_ne!(
            visitor_id(&salt(1), "example.com", ip, "Mozilla"),
            visitor_id(&salt(1), "example.co", ip, "mMozilla")
        );
    }
}
