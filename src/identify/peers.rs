//! Open visits shared by several collectors: every visitor has one *owner*
//! collector that decides their visits, whichever collector received the
//! event.
//!
//! Design and invariants:
//! - Membership is static: `sessions.peers` lists the base URL of every
//!   collector (this one included, as `sessions.self_url`), in any order —
//!   all collectors sort the list, so they agree on it.
//! - The owner of an event is chosen by rendezvous hashing over the peers
//!   with a *routing key*: blake3 keyed with a key derived from
//!   `sessions.peer_secret`, over site, client address and user agent. It
//!   does not rotate with the daily salt, so a visit that crosses midnight
//!   keeps its owner (and the owner keeps yesterday's id for it, as
//!   [`super::visits`] does on one collector). The routing key never
//!   leaves the process and is never stored: only the choice of a peer, one
//!   of a handful, is derived from it.
//! - A non-owner asks the owner over HTTP (`POST /internal/visit`, bearer
//!   `sessions.peer_secret`) with the event's visitor ids (already salted
//!   hashes: no address or user agent crosses the wire) and time; the owner
//!   assigns in its own [`Visits`] and answers the visitor and session
//!   ids. The row itself is written by the collector that received it.
//! - Failure is bounded, never blocking: if the owner does not answer within
//!   [`ASK_TIMEOUT`], the receiver assigns locally and counts it
//!   (`saltmark_visit_owner_unreachable_total`). The worst case is the
//!   single-collector behaviour: a visit split in two.
//! - Changing the peer list moves some visitors to another owner; their
//!   open visits restart once. Restarts lose open visits, as on one
//!   collector.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};

use super::visits::{Assigned, Visits};
use crate::clock::RandomSource;
use crate::metrics::Metrics;

/// How long a receiver waits for the owner before deciding locally.
pub const ASK_TIMEOUT: Duration = Duration::from_millis(250);

/// The question a receiver asks a visitor's owner.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct VisitQuestion {
    /// Today's visitor id.
    pub today: u64,
    /// Yesterday's visitor id, for a visit across midnight.
    pub yesterday: Option<u64>,
    /// Event time, unix seconds.
    pub now: i64,
}

impl VisitQuestion {
    /// Decides the visit in this collector's own tracker: what the owner
    /// does when asked, and what a receiver falls back to.
    pub fn decide_locally(self, visits: &Visits, random: &dyn RandomSource) -> Assigned {
        visits.assign(self.today, self.yesterday, self.now, random)
    }
}

/// The owner's answer.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct VisitAnswer {
    /// The visitor id to store.
    pub visitor_id: u64,
    /// The visit.
    pub session_id: u64,
}

impl From<Assigned> for VisitAnswer {
    fn from(assigned: Assigned) -> VisitAnswer {
        VisitAnswer {
            visitor_id: assigned.visitor_id,
            session_id: assigned.session_id,
        }
    }
}

/// The collectors sharing open visits, and how to reach them.
pub struct Peers {
    /// Sorted base URLs, without a trailing slash.
    peers: Vec<String>,
    /// This collector's index in `peers`.
    me: usize,
    /// Bearer secret for `/internal/visit` (sent to the owners).
    secret: String,
    /// Its hash, what incoming secrets are compared with.
    secret_hash: blake3::Hash,
    /// Key of the routing hash (derived from the secret).
    routing_key: [u8; 32],
    client: Client<HttpConnector, Full<Bytes>>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Peers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peers")
            .field("peers", &self.peers)
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

/// Why the peer configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeersError {
    /// `sessions.self_url` is not one of `sessions.peers`.
    #[error("sessions.self_url {0:?} is not listed in sessions.peers")]
    SelfMissing(String),
}

/// A peer URL as compared: trimmed, without a trailing slash (config
/// validation uses the same rule).
pub fn normalise(url: &str) -> String {
    crate::config::urls::normalise_base_url(url)
}

impl Peers {
    /// Builds the peer set; `self_url` must be one of `peers`.
    pub fn new(
        peers: &[String],
        self_url: &str,
        secret: &str,
        metrics: Arc<Metrics>,
    ) -> Result<Peers, PeersError> {
        let mut peers: Vec<String> = peers.iter().map(|p| normalise(p)).collect();
        peers.sort();
        peers.dedup();
        let me_url = normalise(self_url);
        let me = peers
            .iter()
            .position(|p| *p == me_url)
            .ok_or(PeersError::SelfMissing(me_url))?;
        let routing_key = blake3::derive_key("saltmark visit routing v1", secret.as_bytes());
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(ASK_TIMEOUT));
        connector.set_nodelay(true);
        Ok(Peers {
            peers,
            me,
            secret: secret.to_string(),
            secret_hash: blake3::hash(secret.as_bytes()),
            routing_key,
            client: Client::builder(TokioExecutor::new()).build(connector),
            metrics,
        })
    }

    /// The routing key of an event (see the module doc).
    pub fn routing_key(&self, site: &str, client_ip: IpAddr, user_agent: &str) -> u64 {
        let mut hasher = blake3::Hasher::new_keyed(&self.routing_key);
        for part in [
            site.as_bytes(),
            &match client_ip {
                IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
                IpAddr::V6(v6) => v6.octets(),
            },
            user_agent.as_bytes(),
        ] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        let mut first = [0u8; 8];
        first.copy_from_slice(&hasher.finalize().as_bytes()[..8]);
        u64::from_le_bytes(first)
    }

    /// The owner's index for a routing key: rendezvous (highest random
    /// weight) hashing, so removing a peer moves only its own visitors.
    pub fn owner(&self, routing_key: u64) -> usize {
        owner_of(routing_key, &self.peers)
    }

    /// Checks the bearer secret of an internal request, in constant time.
    pub fn authorised(&self, bearer: &str) -> bool {
        // blake3::Hash's PartialEq is constant-time.
        blake3::hash(bearer.as_bytes()) == self.secret_hash
    }

    /// Assigns the event's visit: locally when this collector owns it (or
    /// the owner cannot be reached in time), otherwise by the owner.
    pub async fn assign(
        &self,
        visits: &Visits,
        random: &dyn RandomSource,
        routing_key: u64,
        question: VisitQuestion,
    ) -> Assigned {
        let owner = self.owner(routing_key);
        if owner == self.me {
            return question.decide_locally(visits, random);
        }
        match tokio::time::timeout(ASK_TIMEOUT, self.ask(owner, question)).await {
            Ok(Ok(answer)) => {
                self.metrics.visits_asked_owner.inc();
                Assigned {
                    visitor_id: answer.visitor_id,
                    session_id: answer.session_id,
                }
            }
            outcome => {
                let reason = match outcome {
                    Ok(Err(e)) => e,
                    _ => "timed out".to_string(),
                };
                tracing::warn!(owner = %self.peers[owner], reason, "visit owner unreachable; deciding locally");
                self.metrics.visit_owner_unreachable.inc();
                question.decide_locally(visits, random)
            }
        }
    }

    async fn ask(&self, owner: usize, question: VisitQuestion) -> Result<VisitAnswer, String> {
        let body = serde_json::to_vec(&question).map_err(|e| e.to_string())?;
        let request = hyper::Request::post(format!("{}/internal/visit", self.peers[owner]))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {}", self.secret))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    }
}

/// Rendezvous hashing: the peer with the highest weight for the key.
fn owner_of(routing_key: u64, peers: &[String]) -> usize {
    peers
        .iter()
        .enumerate()
        .max_by_key(|(_, peer)| {
            let mut hasher = blake3::Hasher::new();
            hasher.update(&routing_key.to_le_bytes());
            hasher.update(peer.as_bytes());
            let mut first = [0u8; 8];
            first.copy_from_slice(&hasher.finalize().as_bytes()[..8]);
            u64::from_le_bytes(first)
        })
        .map(|(index, _)| index)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_collector_agrees_on_the_owner_whatever_the_list_order() {
        let metrics = Arc::new(Metrics::new());
        let a = Peers::new(
            &peers(&["http://a:1", "http://b:1/", "http://c:1"]),
            "http://a:1",
            "s3cret-s3cret-s3cret",
            metrics.clone(),
        )
        .unwrap();
        let c = Peers::new(
            &peers(&["http://c:1", "http://a:1", "http://b:1"]),
            "http://c:1/",
            "s3cret-s3cret-s3cret",
            metrics,
        )
        .unwrap();
        let ip: IpAddr = "81.2.69.142".parse().unwrap();
        for n in 0..200 {
            let key = a.routing_key("example.com", ip, &format!("ua {n}"));
            assert_eq!(key, c.routing_key("example.com", ip, &format!("ua {n}")));
            assert_eq!(a.peers[a.owner(key)], c.peers[c.owner(key)]);
        }
    }

    #[test]
    fn ownership_is_balanced_and_removing_a_peer_moves_only_its_visitors() {
        let three = peers(&["http://a:1", "http://b:1", "http://c:1"]);
        let two = peers(&["http://a:1", "http://c:1"]);
        let mut counts = [0usize; 3];
        for key in 0..3_000u64 {
            let key = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let before = owner_of(key, &three);
            counts[before] += 1;
            let after = &two[owner_of(key, &two)];
            if three[before] != "http://b:1" {
                assert_eq!(&three[before], after, "a visitor of a remaining peer moved");
            }
        }
        for count in counts {
            assert!((800..1200).contains(&count), "{counts:?}");
        }
    }

    #[test]
    fn self_must_be_a_peer_and_the_secret_is_checked() {
        let metrics = Arc::new(Metrics::new());
        assert!(Peers::new(
            &peers(&["http://a:1"]),
            "http://z:1",
            "secret-secret-16",
            metrics.clone()
        )
        .is_err());
        let p = Peers::new(
            &peers(&["http://a:1"]),
            "http://a:1",
            "secret-secret-16",
            metrics,
        )
        .unwrap();
        assert!(p.authorised("secret-secret-16"));
        assert!(!p.authorised("secret-secret-17"));
        assert!(!p.authorised(""));
    }
}
