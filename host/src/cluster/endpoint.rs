//! Where the cluster's Redis primary is: one fixed address (`redis://…`), or whichever node
//! a set of Redis Sentinels names as primary now (`redis+sentinel://…`), asked again every
//! time a connection is opened so a failover is followed by reconnecting.

use std::time::Duration;

use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};

use crate::error::{Error, Result};

/// The scheme of a Sentinel URL.
const SENTINEL_SCHEME: &str = "redis+sentinel://";

/// How this replica finds the Redis primary.
pub(crate) enum Endpoint {
    /// One address, as given.
    Fixed(redis::Client),
    /// The primary the Sentinels name, looked up on every connect. The lock is held only
    /// while one lookup runs (the client caches its connections to the Sentinels).
    Sentinel(tokio::sync::Mutex<SentinelClient>),
}

/// A `redis+sentinel://` URL taken apart.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SentinelUrl {
    /// `host:port` of every Sentinel.
    pub sentinels: Vec<String>,
    /// The name the Sentinels monitor the primary under (`sentinel monitor NAME …`).
    pub service: String,
    /// The primary's (not the Sentinels') user name and password, when it has them.
    pub username: Option<String>,
    pub password: Option<String>,
    /// The database number on the primary.
    pub db: i64,
}

impl Endpoint {
    /// The endpoint `url` names; a malformed URL is a configuration error that says why.
    pub(crate) fn open(url: &str) -> Result<Self> {
        let invalid = |why: String| Error::Config(format!("cluster.redis_url {url:?}: {why}"));
        if url.starts_with(SENTINEL_SCHEME) {
            let parsed = SentinelUrl::parse(url).map_err(invalid)?;
            let mut primary = redis::RedisConnectionInfo::default().set_db(parsed.db);
            if let Some(username) = &parsed.username {
                primary = primary.set_username(username);
            }
            if let Some(password) = &parsed.password {
                primary = primary.set_password(password);
            }
            let sentinels = parsed.sentinels.iter().map(|node| format!("redis://{node}")).collect::<Vec<_>>();
            let client = SentinelClient::build(
                sentinels,
                parsed.service,
                Some(SentinelNodeConnectionInfo::default().set_redis_connection_info(primary)),
                SentinelServerType::Master,
            )
            .map_err(|e| invalid(e.to_string()))?;
            return Ok(Endpoint::Sentinel(tokio::sync::Mutex::new(client)));
        }
        redis::Client::open(url).map(Endpoint::Fixed).map_err(|e| invalid(e.to_string()))
    }

    /// A client for the primary as of now; a Sentinel lookup is bounded by `timeout`.
    pub(crate) async fn primary(&self, timeout: Duration) -> redis::RedisResult<redis::Client> {
        match self {
            Endpoint::Fixed(client) => Ok(client.clone()),
            Endpoint::Sentinel(sentinels) => {
                // Boxed: the Sentinel client's future is deep enough to overflow the
                // compiler's layout limit in every caller's future otherwise.
                let lookup = Box::pin(async { sentinels.lock().await.async_get_client().await });
                match tokio::time::timeout(timeout, lookup).await {
                    Ok(Err(e)) if e.kind() == redis::ErrorKind::MasterNameNotFoundBySentinel => {
                        Err(redis::RedisError::from((
                            e.kind(),
                            "no primary",
                            "the Sentinels name no reachable primary now (a failover may be under way)".to_owned(),
                        )))
                    }
                    Ok(found) => found,
                    Err(_) => Err(redis::RedisError::from(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no Sentinel named the primary within {} ms", timeout.as_millis()),
                    ))),
                }
            }
        }
    }

    /// Whether the primary is found through Sentinels (a failover is expected, not an outage).
    pub(crate) fn follows_failover(&self) -> bool {
        matches!(self, Endpoint::Sentinel(_))
    }
}

impl SentinelUrl {
    /// `redis+sentinel://[USER:PASSWORD@]HOST:PORT[,HOST:PORT…]/SERVICE[/DB]`.
    pub(crate) fn parse(url: &str) -> std::result::Result<Self, String> {
        let usage = "expected redis+sentinel://[user:password@]host:port[,host:port…]/service[/db]";
        let rest = url.strip_prefix(SENTINEL_SCHEME).ok_or_else(|| usage.to_owned())?;
        let (authority, path) = rest.split_once('/').ok_or_else(|| format!("no service name; {usage}"))?;
        let (credentials, hosts) = match authority.rsplit_once('@') {
            Some((credentials, hosts)) => (Some(credentials), hosts),
            None => (None, authority),
        };
        let (username, password) = match credentials {
            None => (None, None),
            Some(credentials) => {
                let (user, password) = credentials.split_once(':').unwrap_or(("", credentials));
                (Some(user.to_owned()).filter(|u| !u.is_empty()), Some(password.to_owned()).filter(|p| !p.is_empty()))
            }
        };
        let sentinels: Vec<String> = hosts.split(',').map(str::trim).map(str::to_owned).collect();
        for node in &sentinels {
            let port = node.rsplit_once(':').map(|(host, port)| (host, port.parse::<u16>()));
            if !matches!(port, Some((host, Ok(_))) if !host.is_empty()) {
                return Err(format!("Sentinel address {node:?} is not host:port; {usage}"));
            }
        }
        let (service, db) = match path.split_once('/') {
            Some((service, db)) => {
                (service, db.parse::<i64>().map_err(|_| format!("database {db:?} is not a number; {usage}"))?)
            }
            None => (path, 0),
        };
        if service.is_empty() {
            return Err(format!("no service name; {usage}"));
        }
        Ok(SentinelUrl { sentinels, service: service.to_owned(), username, password, db })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_urls_name_the_sentinels_the_service_and_the_primarys_credentials() {
        let parsed = SentinelUrl::parse("redis+sentinel://127.0.0.1:26379,10.0.0.2:26380/berth").expect("valid");
        assert_eq!(parsed.sentinels, ["127.0.0.1:26379", "10.0.0.2:26380"]);
        assert_eq!((parsed.service.as_str(), parsed.db, parsed.password), ("berth", 0, None));
        let parsed = SentinelUrl::parse("redis+sentinel://ops:s3cret@h:1/main/2").expect("valid");
        assert_eq!(
            (parsed.username.as_deref(), parsed.password.as_deref(), parsed.db),
            (Some("ops"), Some("s3cret"), 2)
        );
        let parsed = SentinelUrl::parse("redis+sentinel://:s3cret@h:1/main").expect("valid");
        assert_eq!((parsed.username, parsed.password.as_deref()), (None, Some("s3cret")));
        for (bad, why) in [
            ("redis+sentinel://h:1", "no service name"),
            ("redis+sentinel://h:1/", "no service name"),
            ("redis+sentinel://h/main", "\"h\" is not host:port"),
            ("redis+sentinel://h:1,:2/main", "\":2\" is not host:port"),
            ("redis+sentinel://h:1/main/x", "database \"x\""),
        ] {
            let error = SentinelUrl::parse(bad).expect_err(bad);
            assert!(error.contains(why), "{bad}: {error}");
        }
        assert!(Endpoint::open("redis+sentinel://127.0.0.1:26379/berth").is_ok_and(|e| e.follows_failover()));
        assert!(Endpoint::open("redis://127.0.0.1:6379").is_ok_and(|e| !e.follows_failover()));
    }
}
