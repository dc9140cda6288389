//! Goals: what a site counts as a conversion, as Plausible defines them.
//!
//! Three kinds, told apart as Plausible tells them apart:
//! - an **event goal** is a custom event of one name (`Signup`);
//! - a **page goal** is a page view of a path, where `*` and `**` match
//!   any run of characters, `/` included (`/blog**`);
//! - a **scroll goal** is an engagement on such a page that scrolled at
//!   least a threshold (`/blog` at 50 %); an engagement whose depth is
//!   unknown (255) never converts.
//!
//! Any goal may also require property values of the event (at most three,
//! Plausible's limit). A goal is named by its display name, unique per
//! site: "Visit /blog**" for a page goal, the event's name for an event
//! goal (Plausible's defaults), "Scroll /blog 50" for a scroll goal, or
//! what the operator chose. The stats API's `event:goal` filters and
//! dimension speak of goals by that name.
//!
//! The definitions live in ClickHouse ([`stored`]), so every collector of
//! a database agrees on them; nothing in a goal is about a visitor.

pub mod funnels;
pub mod stored;

/// A goal of a site.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Goal {
    /// What the API and the dashboard call it (unique per site).
    pub display_name: String,
    /// What converts.
    pub kind: GoalKind,
    /// Property values the event must carry too, in the order given.
    pub props: Vec<(String, String)>,
    /// The currency of the revenue an event goal carries (ISO 4217), if any.
    pub currency: Option<String>,
}

/// What converts, per kind of goal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GoalKind {
    /// A custom event of this name.
    Event {
        /// The event's name.
        name: String,
    },
    /// A page view of a path matching this pattern.
    Page {
        /// The path, with `*`/`**` wildcards.
        path: String,
    },
    /// An engagement on such a page that scrolled at least this far.
    Scroll {
        /// The path, with `*`/`**` wildcards.
        path: String,
        /// Percent, 0–100.
        threshold: u8,
    },
}

/// Why a goal cannot be added or removed.
#[derive(Debug, thiserror::Error)]
pub enum GoalError {
    /// The definition is not a goal.
    #[error("{field}: {message}")]
    Invalid {
        /// The argument at fault.
        field: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The site already has a goal (or funnel) of this name or definition.
    #[error("site {site} already has a {what} {existing:?}")]
    Exists {
        /// The site.
        site: String,
        /// "goal" or "funnel".
        what: &'static str,
        /// The name of the goal or funnel in the way.
        existing: String,
    },
    /// ClickHouse failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl From<clickhouse::error::Error> for GoalError {
    fn from(e: clickhouse::error::Error) -> Self {
        GoalError::Store(e.into())
    }
}

/// Most property conditions on one goal (Plausible's limit).
pub const MAX_PROPS: usize = 3;
/// Longest event name of an event goal (Plausible's limit).
pub const MAX_EVENT_NAME: usize = 120;
/// Longest page path or display name.
pub const MAX_TEXT: usize = 2_000;
/// Event names that cannot be goals: page views are what page goals are
/// for, and engagement rows are measurements, not events.
const RESERVED_EVENTS: [&str; 2] = ["pageview", "engagement"];

/// A goal as the operator describes it, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct GoalSpec {
    /// `--event NAME`.
    pub event: Option<String>,
    /// `--page PATH`.
    pub page: Option<String>,
    /// `--scroll PERCENT` (with `--page`).
    pub scroll: Option<i64>,
    /// `--prop key=value`, repeatable.
    pub props: Vec<(String, String)>,
    /// `--name`: the display name, instead of the default.
    pub display_name: Option<String>,
    /// `--currency`: an event goal with revenue.
    pub currency: Option<String>,
}

impl GoalSpec {
    /// The goal this describes, checked as Plausible checks it.
    pub fn check(&self) -> Result<Goal, GoalError> {
        let invalid = |field: &'static str, message: &str| GoalError::Invalid {
            field,
            message: message.to_string(),
        };
        let event = self.event.as_deref().map(str::trim);
        let page = self.page.as_deref().map(str::trim);
        let kind = match (event, page, self.scroll) {
            (Some(_), Some(_), _) => {
                return Err(invalid("--event", "a goal is an event or a page, not both"))
            }
            (None, None, _) => {
                return Err(invalid(
                    "--event",
                    "give --event NAME, --page PATH, or --page PATH --scroll PERCENT",
                ))
            }
            (Some(_), None, Some(_)) => {
                return Err(invalid("--scroll", "a scroll goal needs --page PATH"))
            }
            (Some(name), None, None) => {
                if name.is_empty() {
                    return Err(invalid("--event", "cannot be blank"));
                }
                if name.chars().count() > MAX_EVENT_NAME {
                    return Err(invalid(
                        "--event",
                        &format!("at most {MAX_EVENT_NAME} characters"),
                    ));
                }
                if RESERVED_EVENTS.contains(&name) {
                    return Err(invalid(
                        "--event",
                        &format!(
                            "{name:?} is reserved and cannot be a goal; for page views use --page"
                        ),
                    ));
                }
                GoalKind::Event {
                    name: name.to_string(),
                }
            }
            (None, Some(path), scroll) => {
                let path = if path.starts_with('/') {
                    path.to_string()
                } else {
                    format!("/{path}")
                };
                if path.chars().count() > MAX_TEXT {
                    return Err(invalid("--page", &format!("at most {MAX_TEXT} characters")));
                }
                match scroll {
                    None => GoalKind::Page { path },
                    Some(threshold @ 0..=100) => GoalKind::Scroll {
                        path,
                        threshold: threshold as u8,
                    },
                    Some(_) => return Err(invalid("--scroll", "a percentage from 0 to 100")),
                }
            }
        };
        if self.props.len() > MAX_PROPS {
            return Err(invalid(
                "--prop",
                &format!("at most {MAX_PROPS} property conditions"),
            ));
        }
        let mut props: Vec<(String, String)> = Vec::new();
        for (key, value) in &self.props {
            let (key, value) = (key.trim(), value.trim());
            if key.is_empty() || value.is_empty() {
                return Err(invalid("--prop", "write key=value, neither empty"));
            }
            if key.len() > 300 || value.len() > MAX_TEXT {
                return Err(invalid("--prop", "keys at most 300 bytes, values 2,000"));
            }
            if props.iter().any(|(k, _)| k == key) {
                return Err(invalid("--prop", &format!("{key:?} is given twice")));
            }
            props.push((key.to_string(), value.to_string()));
        }
        let currency = match self.currency.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(code) => {
                let code = code.to_ascii_uppercase();
                if !matches!(kind, GoalKind::Event { .. }) {
                    return Err(invalid("--currency", "only event goals carry revenue"));
                }
                if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(invalid(
                        "--currency",
                        "a three-letter ISO 4217 code, e.g. EUR",
                    ));
                }
                Some(code)
            }
        };
        let display_name = match self.display_name.as_deref().map(str::trim) {
            Some("") => return Err(invalid("--name", "cannot be blank")),
            Some(name) if name.chars().count() > MAX_TEXT => {
                return Err(invalid("--name", &format!("at most {MAX_TEXT} characters")))
            }
            Some(name) => name.to_string(),
            None => default_display_name(&kind),
        };
        Ok(Goal {
            display_name,
            kind,
            props,
            currency,
        })
    }
}

/// Plausible's default names: the event's name, "Visit " and the path;
/// for a scroll goal (where Plausible asks for a name) "Scroll", the path
/// and the threshold.
pub fn default_display_name(kind: &GoalKind) -> String {
    match kind {
        GoalKind::Event { name } => name.clone(),
        GoalKind::Page { path } => format!("Visit {path}"),
        GoalKind::Scroll { path, threshold } => format!("Scroll {path} {threshold}"),
    }
}

impl Goal {
    /// Whether `other` converts on exactly the same thing (whatever its name).
    pub fn same_definition(&self, other: &Goal) -> bool {
        self.kind == other.kind && self.props == other.props
    }

    /// The path pattern of a page or scroll goal.
    pub fn page_path(&self) -> Option<&str> {
        match &self.kind {
            GoalKind::Page { path } | GoalKind::Scroll { path, .. } => Some(path),
            GoalKind::Event { .. } => None,
        }
    }

    /// Whether this goal is met by engagement rows (a scroll goal).
    pub fn is_scroll(&self) -> bool {
        matches!(self.kind, GoalKind::Scroll { .. })
    }
}

/// The anchored regular expression (RE2) of a path with wildcards, as
/// Plausible reads one: every character stands for itself except `*` and
/// `**`, which both match any run of characters (`/` included), and `|`,
/// which separates alternatives (each anchored: a deliberate difference,
/// Plausible anchors only the first one's start and the last one's end). `None` for a path without `*`, which is
/// compared as it is.
pub fn page_regex(path: &str) -> Option<String> {
    if !path.contains('*') {
        return None;
    }
    let mut regex = String::from("^");
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => {
                while chars.peek() == Some(&'*') {
                    chars.next();
                }
                regex.push_str(".*");
            }
            '|' => regex.push('|'),
            '.' | '^' | '$' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '\\' | '-' => {
                regex.push('\\');
                regex.push(c);
            }
            other => regex.push(other),
        }
    }
    regex.push('$');
    // Alternatives are anchored as a whole (Plausible's pattern anchors
    // only the first one's start and the last one's end).
    if path.contains('|') {
        regex = format!("^(?:{})$", &regex[1..regex.len() - 1]);
    }
    Some(regex)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> GoalSpec {
        GoalSpec::default()
    }

    #[test]
    fn kinds_and_default_names_are_plausibles() {
        let event = GoalSpec {
            event: Some(" Signup ".into()),
            ..spec()
        }
        .check()
        .unwrap();
        assert_eq!(event.display_name, "Signup");
        let page = GoalSpec {
            page: Some("blog**".into()),
            ..spec()
        }
        .check()
        .unwrap();
        assert_eq!(page.display_name, "Visit /blog**");
        assert_eq!(
            page.kind,
            GoalKind::Page {
                path: "/blog**".into()
            }
        );
        let scroll = GoalSpec {
            page: Some("/blog".into()),
            scroll: Some(25),
            ..spec()
        }
        .check()
        .unwrap();
        assert_eq!(scroll.display_name, "Scroll /blog 25");
        assert!(scroll.is_scroll());
    }

    #[test]
    fn bad_goals_are_refused_with_the_argument_at_fault() {
        let refused = |s: GoalSpec| s.check().unwrap_err().to_string();
        assert!(refused(spec()).starts_with("--event:"));
        assert!(refused(GoalSpec {
            event: Some("engagement".into()),
            ..spec()
        })
        .contains("reserved"));
        assert!(refused(GoalSpec {
            event: Some("A".into()),
            page: Some("/".into()),
            ..spec()
        })
        .contains("not both"));
        assert!(refused(GoalSpec {
            page: Some("/".into()),
            scroll: Some(101),
            ..spec()
        })
        .starts_with("--scroll:"));
        assert!(refused(GoalSpec {
            event: Some("Buy".into()),
            props: vec![("a".into(), "1".into()); 4],
            ..spec()
        })
        .contains("at most 3"));
        assert!(refused(GoalSpec {
            page: Some("/".into()),
            currency: Some("EUR".into()),
            ..spec()
        })
        .contains("only event goals"));
        assert!(refused(GoalSpec {
            event: Some("Buy".into()),
            currency: Some("euro".into()),
            ..spec()
        })
        .contains("ISO 4217"));
    }

    #[test]
    fn wildcards_become_anchored_patterns() {
        assert_eq!(page_regex("/blog"), None);
        assert_eq!(page_regex("/blog**").as_deref(), Some("^/blog.*$"));
        assert_eq!(page_regex("/**/post").as_deref(), Some("^/.*/post$"));
        assert_eq!(page_regex("/a.b/*").as_deref(), Some("^/a\\.b/.*$"));
        assert_eq!(page_regex("/x*|/y*").as_deref(), Some("^(?:/x.*|/y.*)$"));
        let re = regex::Regex::new(&page_regex("/**register").unwrap()).unwrap();
        assert!(re.is_match("/en/register") && re.is_match("/123/it/register"));
        assert!(!re.is_match("/registered"));
        let either = regex::Regex::new(&page_regex("/x*|/y*").unwrap()).unwrap();
        assert!(either.is_match("/y/1") && !either.is_match("/z/y/1"));
    }
}
