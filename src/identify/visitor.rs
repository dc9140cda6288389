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

    mod properties {
        use super::*;
        use proptest::prelude::*;
        use std::net::Ipv6Addr;

        fn ip() -> impl Strategy<Value = IpAddr> {
            prop_oneof![
                any::<[u8; 4]>().prop_map(IpAddr::from),
                any::<[u8; 16]>().prop_map(|o| IpAddr::from(Ipv6Addr::from(o))),
            ]
        }

        proptest! {
            /// Deterministic for fixed inputs: the same person on the same
            /// site and day is one visitor.
            #[test]
            fn deterministic(key in any::<[u8; 32]>(), site in ".{0,40}", ip in ip(), ua in ".{0,80}") {
                let salt = Salt::from_bytes(key);
                prop_assert_eq!(visitor_id(&salt, &site, ip, &ua), visitor_id(&salt, &site, ip, &ua));
            }

            /// Moving bytes between the site and the user agent (the
            /// concatenation mistake) never yields the same id, and neither
            /// does another day's salt: 64-bit outputs collide with
            /// probability 2^-64, so any equality here is a framing or
            /// keying bug.
            #[test]
            fn framing_and_salt_separate_inputs(
                key in any::<[u8; 32]>(),
                other_key in any::<[u8; 32]>(),
                site in "[a-z.]{1,20}",
                ua in "[ -~]{1,40}",
                cut in 0usize..20,
                ip in ip(),
            ) {
                let salt = Salt::from_bytes(key);
                let joined = format!("{site}{ua}");
                let cut = cut.min(joined.len());
                let (a, b) = joined.split_at(cut);
                if a != site {
                    prop_assert_ne!(visitor_id(&salt, &site, ip, &ua), visitor_id(&salt, a, ip, b));
                }
                if other_key != key {
                    prop_assert_ne!(
                        visitor_id(&salt, &site, ip, &ua),
                        visitor_id(&Salt::from_bytes(other_key), &site, ip, &ua)
                    );
                }
            }

            /// An IPv4 client and the IPv6 address that embeds the same
            /// bytes are different inputs (the caller folds mapped addresses
            /// to IPv4 first, so only genuinely different clients get here).
            #[test]
            fn families_do_not_collide(key in any::<[u8; 32]>(), octets in any::<[u8; 4]>()) {
                let salt = Salt::from_bytes(key);
                let v4 = IpAddr::from(octets);
                let v6 = IpAddr::from(std::net::Ipv4Addr::from(octets).to_ipv6_compatible());
                prop_assert_ne!(visitor_id(&salt, "s", v4, "ua"), visitor_id(&salt, "s", v6, "ua"));
            }
        }
    }
}
