//! Erasure rights.
//!
//! - A **site** can be forgotten (`saltmark forget-site`): the request is
//!   recorded in `site_erasures`, which blocks the domain at once (every
//!   collector reloads the list each minute and drops its events as
//!   `erased_site`); the events are deleted now, or when the grace period ends
//!   by the expiry job.
//! - A **visitor** can erase what is stored about them (`POST /api/forget`).
//!   The only input is the request itself: its IP address and user agent,
//!   hashed with today's and yesterday's salts for the named site — exactly how
//!   the visitor's own events were identified. Nobody can name someone else's
//!   visitor id, so nobody can erase or probe another person's data. Rows older
//!   than yesterday's salt cannot be linked to anyone any more, by design.
//!   Requests are carried out in rounds ([`VisitorErasures`]). A known
//!   limit of the design: people behind one address (a shared NAT, an office)
//!   with the same browser version are one visitor for a day, so one of them
//!   erasing also erases the others' rows of today and yesterday.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use governor::clock::DefaultClock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::expiry::{count, delete_where};
use super::{timed, RetentionError};
use crate::clock::Clock;
use crate::store::sql::{datetime_secs, Param, Sql};
use crate::store::visit_rollup::Mirror;
use crate::store::Store;

/// The state of a site after `forget-site`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteErasure {
    /// The domain.
    pub site: String,
    /// When its events go.
    pub due: DateTime<Utc>,
    /// Rows deleted now (`None` when scheduled for later).
    pub rows_deleted: Option<u64>,
}

#[derive(clickhouse::Row, serde::Deserialize)]
struct SiteRow {
    site: String,
}

/// Records a site erasure; with `after_days == 0` deletes the site's events now.
pub async fn forget_site(
    store: &Store,
    site: &str,
    as_of: DateTime<Utc>,
    after_days: u32,
    limit: Duration,
) -> Result<SiteErasure, RetentionError> {
    let due = as_of + chrono::Duration::days(i64::from(after_days));
    record_status(store, site, as_of, due, "pending", limit).await?;
    revoke_share_links(store, site, as_of, limit).await?;
    remove_goals(store, site, as_of, limit).await?;
    tracing::info!(site, due = %due, "site erasure recorded; the site is no longer accepted");
    if after_days > 0 {
        return Ok(SiteErasure {
            site: site.to_string(),
            due,
            rows_deleted: None,
        });
    }
    let predicate = Sql::new("site = ?", vec![Param::Str(site.to_string())]);
    // Every visit row of the site goes with its events.
    let mirror = Mirror::Same(predicate.clone());
    let rows = delete_verified(store, &predicate, None, &mirror, "the site erasure", limit).await?;
    // Its imported history goes with it.
    crate::imports::stored::delete_if_any(store, &predicate).await?;
    record_status(store, site, as_of, due, "done", limit).await?;
    tracing::info!(site, rows, "site erased");
    Ok(SiteErasure {
        site: site.to_string(),
        due,
        rows_deleted: Some(rows),
    })
}

/// A forgotten site is shown to nobody: its dashboard share links end with
/// the request, not when the events are deleted.
async fn revoke_share_links(
    store: &Store,
    site: &str,
    as_of: DateTime<Utc>,
    limit: Duration,
) -> Result<(), RetentionError> {
    let statement = store
        .client()
        .query(
            "INSERT INTO share_links (token_hash, link_id, site, label, created, revoked, updated) \
             SELECT any(token_hash), link_id, any(site), any(label), min(created), 1, toDateTime(?) \
             FROM share_links WHERE site = ? GROUP BY link_id HAVING max(revoked) = 0",
        )
        .bind(datetime_secs(as_of))
        .bind(site)
        .execute();
    timed("revoking the site's share links", limit, statement).await?;
    Ok(())
}

/// A forgotten site's goals (its configuration, nothing about a visitor)
/// end with the request too.
async fn remove_goals(
    store: &Store,
    site: &str,
    as_of: DateTime<Utc>,
    limit: Duration,
) -> Result<(), RetentionError> {
    let removal = async {
        crate::goals::stored::remove_all(store, site, as_of)
            .await
            .map_err(|e| match e {
                crate::goals::GoalError::Store(crate::store::StoreError::Client(e)) => e,
                other => clickhouse::error::Error::Custom(other.to_string()),
            })
    };
    timed("removing the site's goals", limit, removal).await?;
    Ok(())
}

/// Every site with an erasure request (pending or done): none of them is
/// accepted any more.
pub async fn erased_sites(store: &Store) -> Result<HashSet<String>, RetentionError> {
    let rows: Vec<SiteRow> = store
        .client()
        .query("SELECT DISTINCT site FROM site_erasures")
        .fetch_all()
        .await?;
    Ok(rows.into_iter().map(|r| r.site).collect())
}

/// Why a visitor erasure did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErasureError {
    /// Too many erasures wait for the next round (answered 503, retry).
    #[error("too many erasures are waiting for the next round")]
    Busy,
    /// The round's delete failed.
    #[error("the erasure round failed")]
    Failed(#[source] Arc<RetentionError>),
    /// The collector stopped before the round ran.
    #[error("the collector is stopping")]
    Stopped,
}

/// Visitor erasures, carried out in rounds.
///
/// Design: each request waits in a queue; a round takes every waiting
/// request and removes their rows with *one* delete, bounded in time to the
/// start of yesterday (UTC) — the oldest row the live salts can name — and,
/// on servers that can, to the partitions of those two days. Rounds are at
/// least `round` apart. Why: on 18.16 any delete is a mutation that rewrites
/// every part of `events`, whichever rows it matches; one delete per request
/// let ten one-row erasures rewrite hundreds of MiB of other sites' parts.
/// Rounds bound that cost to one rewrite per `round` however many requests
/// arrive, and a request is answered only once its round is done — nothing
/// accepted is lost, and a crash before the round just fails the request.
/// Each visitor hash may also ask only a few times per window
/// ([`VisitorErasures::check_rate`]).
pub struct VisitorErasures {
    store: Store,
    clock: Arc<dyn Clock>,
    round: Duration,
    statement_timeout: Duration,
    pending: Mutex<Vec<PendingErasure>>,
    wake: tokio::sync::Notify,
    per_visitor: DefaultKeyedRateLimiter<u64>,
}

struct PendingErasure {
    site: String,
    visitor_ids: Vec<u64>,
    since: DateTime<Utc>,
    done: tokio::sync::oneshot::Sender<Result<(), Arc<RetentionError>>>,
}

impl std::fmt::Debug for VisitorErasures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VisitorErasures")
            .field("round", &self.round)
            .finish_non_exhaustive()
    }
}

/// Requests waiting for one round at most; beyond, 503.
pub const MAX_PENDING_ERASURES: usize = 1000;
/// Erasure requests per visitor hash: a burst of this many, refilled over
/// [`ERASURE_WINDOW`].
pub const ERASURES_PER_VISITOR: u32 = 3;
/// See [`ERASURES_PER_VISITOR`].
pub const ERASURE_WINDOW: Duration = Duration::from_secs(600);

impl VisitorErasures {
    /// Rounds at least `round` apart; each step bounded by `statement_timeout`.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        round: Duration,
        statement_timeout: Duration,
    ) -> VisitorErasures {
        let burst = NonZeroU32::new(ERASURES_PER_VISITOR).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(ERASURE_WINDOW / ERASURES_PER_VISITOR)
            .expect("a non-zero period")
            .allow_burst(burst);
        VisitorErasures {
            store,
            clock,
            round,
            statement_timeout,
            pending: Mutex::new(Vec::new()),
            wake: tokio::sync::Notify::new(),
            per_visitor: RateLimiter::keyed(quota),
        }
    }

    /// Counts one request of `visitor` (today's hash); on refusal, how long
    /// until the next would pass.
    pub fn check_rate(&self, visitor: u64) -> Result<(), Duration> {
        if self.per_visitor.len() > 100_000 {
            self.per_visitor.retain_recent();
        }
        self.per_visitor
            .check_key(&visitor)
            .map_err(|n| n.wait_time_from(governor::clock::Clock::now(&DefaultClock::default())))
    }

    /// Erases `site`'s rows of these visitor ids (from `since` on), waiting
    /// for the round that carries it out.
    pub async fn erase(
        &self,
        site: &str,
        visitor_ids: Vec<u64>,
        since: DateTime<Utc>,
    ) -> Result<(), ErasureError> {
        let (done, finished) = tokio::sync::oneshot::channel();
        {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            if pending.len() >= MAX_PENDING_ERASURES {
                return Err(ErasureError::Busy);
            }
            pending.push(PendingErasure {
                site: site.to_string(),
                visitor_ids,
                since,
                done,
            });
        }
        self.wake.notify_one();
        match finished.await {
            Ok(result) => result.map_err(ErasureError::Failed),
            Err(_) => Err(ErasureError::Stopped),
        }
    }

    /// The rounds, until `stop`: a background job of the collector.
    pub async fn run(&self, stop: CancellationToken) {
        let mut last_round: Option<tokio::time::Instant> = None;
        loop {
            let idle = self
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty();
            if idle {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = stop.cancelled() => return,
                }
            }
            if let Some(last) = last_round {
                tokio::select! {
                    _ = tokio::time::sleep_until(last + self.round) => {}
                    _ = stop.cancelled() => return,
                }
            }
            let round: Vec<PendingErasure> =
                std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
            if round.is_empty() {
                continue;
            }
            last_round = Some(tokio::time::Instant::now());
            let span = tracing::info_span!("erasure_round", requests = round.len());
            let result = self
                .execute(&round)
                .instrument(span)
                .await
                .map_err(Arc::new);
            if let Err(e) = &result {
                tracing::error!(error = %e, "visitor erasure round failed");
            }
            for request in round {
                let _ = request.done.send(result.clone());
            }
        }
    }

    /// One delete for every request of the round.
    async fn execute(&self, round: &[PendingErasure]) -> Result<(), RetentionError> {
        let since = round
            .iter()
            .map(|r| r.since)
            .min()
            .unwrap_or_else(|| self.clock.now());
        let predicate = rows_of_visitors(round, "timestamp", since);
        let mirror = visits_of_visitors(round, since);
        let partitions = months_between(since, self.clock.now());
        // No rows, no delete: a request for nothing costs a count.
        delete_verified(
            &self.store,
            &predicate,
            Some(&partitions),
            &mirror,
            "the visitor erasure",
            self.statement_timeout,
        )
        .await
        .map(|_| ())
    }
}

/// How `visits` follows a round of visitor erasures: the same visitors'
/// rows from `since`'s hour on, when `since` starts an hour (it is a day's
/// start: the live salts' first day), else the touched hours made again.
fn visits_of_visitors(round: &[PendingErasure], since: DateTime<Utc>) -> Mirror {
    if since.timestamp().rem_euclid(3_600) != 0 {
        return Mirror::Remake {
            erased_sites: Vec::new(),
        };
    }
    Mirror::Same(rows_of_visitors(round, "hour", since))
}

/// The rows of the round's visitors, each of their own site, whose `time`
/// column is `since` or later: the same condition for `events` and for
/// `visits`, so the two are erased alike.
fn rows_of_visitors(round: &[PendingErasure], time: &str, since: DateTime<Utc>) -> Sql {
    let mut predicate = Sql::new(
        format!("{time} >= toDateTime(?) AND ("),
        vec![Param::time(since)],
    );
    predicate.push(Sql::join(
        round
            .iter()
            .map(|r| {
                let mut one = Sql::new("site = ? AND ", vec![Param::Str(r.site.clone())]);
                one.push(Sql::has_u64(&r.visitor_ids, "visitor_id"));
                one
            })
            .collect(),
        " OR ",
    ));
    predicate.text.push(')');
    predicate
}

/// The `toYYYYMM` partitions from `from`'s month to `to`'s.
fn months_between(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<u32> {
    let month = |t: DateTime<Utc>| t.year() as u32 * 100 + t.month();
    let mut months = vec![month(from)];
    let mut cursor = from.with_day(1).unwrap_or(from);
    while month(cursor) < month(to) {
        cursor = cursor + chrono::Months::new(1);
        months.push(month(cursor));
    }
    months
}

/// Appends a state row for a site erasure.
async fn record_status(
    store: &Store,
    site: &str,
    requested: DateTime<Utc>,
    due: DateTime<Utc>,
    status: &str,
    limit: Duration,
) -> Result<(), RetentionError> {
    timed(
        "recording the site erasure",
        limit,
        store
            .client()
            .query(
                "INSERT INTO site_erasures (site, requested, due, status, updated) \
                 SELECT ?, toDateTime(?), toDateTime(?), ?, now()",
            )
            .bind(site)
            .bind(datetime_secs(requested))
            .bind(datetime_secs(due))
            .bind(status)
            .execute(),
    )
    .await
}

/// Counts the matching rows, deletes them if there are any, and checks that
/// none is left; returns how many were removed.
async fn delete_verified(
    store: &Store,
    predicate: &Sql,
    partitions: Option<&[u32]>,
    mirror: &Mirror,
    step: &str,
    limit: Duration,
) -> Result<u64, RetentionError> {
    let rows = count(store, predicate, limit).await?;
    if rows > 0 {
        delete_where(store, predicate, partitions, mirror, limit).await?;
        let remaining = count(store, predicate, limit).await?;
        if remaining > 0 {
            return Err(RetentionError::Incomplete {
                step: step.to_string(),
                remaining,
            });
        }
    }
    Ok(rows)
}
