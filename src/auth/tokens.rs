//! Bearer secrets (dashboard sessions, share links): a type prefix and 256
//! random bits in hex. Only a blake3 hash is ever stored, so a stolen
//! database holds no usable secret; 256 bits make guessing hopeless.

use crate::clock::RandomSource;

/// A fresh secret.
#[derive(Debug, Clone)]
pub struct Secret {
    /// What the holder presents: `<prefix>` + 64 hex digits.
    pub token: String,
    /// The public name: the first 8 hex digits.
    pub id: String,
}

/// A new secret with `prefix` (e.g. `sml_`).
pub fn generate(prefix: &str, random: &dyn RandomSource) -> Secret {
    let mut bytes = [0u8; 32];
    random.fill(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Secret {
        token: format!("{prefix}{hex}"),
        id: hex[..8].to_string(),
    }
}

/// The stored form of a presented secret.
pub fn hash(token: &str) -> String {
    blake3::hash(token.trim().as_bytes()).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SeededRandom;

    #[test]
    fn secrets_are_prefixed_long_and_distinct() {
        let random = SeededRandom::new(1);
        let a = generate("sml_", &random);
        let b = generate("sml_", &random);
        assert!(a.token.starts_with("sml_"));
        assert_eq!(a.token.len(), 4 + 64);
        assert_eq!(&a.token[4..12], a.id);
        assert_ne!(a.token, b.token);
        assert_eq!(hash(&a.token), hash(&format!(" {} ", a.token)));
        assert!(!hash(&a.token).contains(&a.token[4..]));
    }
}
