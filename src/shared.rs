//! [`SharedStr`]: an immutable string that is cheap to copy into many rows.
//!
//! Most columns of a row repeat a handful of values (browser and OS names,
//! versions, device class, country, region, city). Those values come from
//! caches (parsed user agents, decoded geolocation records), and cloning a
//! `String` out of the cache for every row was the largest single source of
//! allocations on the ingest path. A `SharedStr` clone is a reference-count
//! increment (or nothing, for a `&'static str`).

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An immutable, cheaply cloned string. Serialised as a plain string.
#[derive(Clone)]
pub struct SharedStr(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Shared(Arc<str>),
}

impl SharedStr {
    /// The empty string (no allocation).
    pub const EMPTY: SharedStr = SharedStr(Repr::Static(""));

    /// A string known at compile time (no allocation, ever).
    pub const fn from_static(value: &'static str) -> SharedStr {
        SharedStr(Repr::Static(value))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            Repr::Shared(s) => s,
        }
    }
}

impl Default for SharedStr {
    fn default() -> Self {
        SharedStr::EMPTY
    }
}

impl Deref for SharedStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for SharedStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for SharedStr {
    fn from(value: &str) -> Self {
        if value.is_empty() {
            SharedStr::EMPTY
        } else {
            SharedStr(Repr::Shared(Arc::from(value)))
        }
    }
}

impl From<String> for SharedStr {
    fn from(value: String) -> Self {
        if value.is_empty() {
            SharedStr::EMPTY
        } else {
            SharedStr(Repr::Shared(Arc::from(value)))
        }
    }
}

impl PartialEq for SharedStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for SharedStr {}

impl PartialEq<str> for SharedStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SharedStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for SharedStr {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl Hash for SharedStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SharedStr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SharedStr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(SharedStr::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_the_string_it_holds() {
        let a = SharedStr::from("Chrome");
        let b = a.clone();
        assert_eq!(a, "Chrome");
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "Chrome");
        assert_eq!(format!("{a:?} {a}"), "\"Chrome\" Chrome");
        assert_eq!(SharedStr::default(), "");
        assert_eq!(SharedStr::from(String::new()), SharedStr::EMPTY);
        assert_eq!(
            SharedStr::from_static("desktop"),
            SharedStr::from("desktop")
        );
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "\"Chrome\"");
        let back: SharedStr = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
    }
}
