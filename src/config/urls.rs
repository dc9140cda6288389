//! The shapes of URLs in the configuration: `clickhouse.url` (one or
//! several comma-separated nodes, credentials possibly inside) and the
//! collectors' base URLs in `sessions.peers`. Pure text functions, shared by
//! validation here and by the store and peers that use the values.

/// The node URLs of a `clickhouse.url` value: comma-separated, trimmed.
pub fn node_urls(urls: &str) -> Vec<&str> {
    urls.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect()
}

/// A node URL without its user-info, and that user-info (user, password)
/// percent-decoded, if there was any: `http://u:p@host:8123` is the server
/// at `http://host:8123` logged into as `u`.
pub fn split_credentials(url: &str) -> (String, Option<(String, String)>) {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() => {
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            let user = decode(parsed.username());
            let password = decode(parsed.password().unwrap_or(""));
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            let plain = parsed.as_str().trim_end_matches('/').to_string();
            (plain, Some((user, password)))
        }
        _ => (url.to_string(), None),
    }
}

/// `url` with any password in its user-info replaced by `<hidden>`
/// (several comma-separated URLs each), for logs and messages.
pub fn redact_url(urls: &str) -> String {
    node_urls(urls)
        .into_iter()
        .map(|url| match split_credentials(url) {
            (plain, Some((user, password))) if !password.is_empty() => {
                plain.replacen("://", &format!("://{user}:<hidden>@"), 1)
            }
            (plain, Some((user, _))) => plain.replacen("://", &format!("://{user}@"), 1),
            (plain, None) => plain,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A collector's base URL as compared: trimmed, without a trailing slash.
pub fn normalise_base_url(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}
