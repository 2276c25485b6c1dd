//! A caller's identity: what its verified credentials say about it.

use std::sync::Arc;

use serde_json::Value;

/// Who a caller is: a named static token (or the stdio identity), or an OAuth
/// subject with its scopes and claims. The token itself is never kept here.
#[derive(Debug, Default)]
pub(crate) struct Identity {
    /// The static token's name (`[[auth.tokens]] name`), or the stdio identity.
    pub(crate) name: Option<Arc<str>>,
    /// The OAuth token's issuer (`iss`).
    pub(crate) issuer: Option<String>,
    /// The OAuth token's subject (`sub`).
    pub(crate) subject: Option<String>,
    /// The OAuth token's scopes (`scope` or `scp`).
    pub(crate) scopes: Vec<String>,
    /// The OAuth token's claims, for rules on claim values (`groups`, …).
    pub(crate) claims: Value,
}

impl Identity {
    /// An identity known by name only.
    pub(crate) fn named(name: &str) -> Self {
        Self { name: Some(name.into()), claims: Value::Null, ..Self::default() }
    }

    /// The identity of a verified OAuth token with `claims`.
    pub(crate) fn from_claims(claims: Value) -> Self {
        let text = |key: &str| claims.get(key).and_then(Value::as_str).map(str::to_owned);
        let scopes = match (claims.get("scope"), claims.get("scp")) {
            (Some(Value::String(scope)), _) => scope.split_whitespace().map(str::to_owned).collect(),
            (_, Some(Value::Array(scopes))) => scopes.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        Self { name: None, issuer: text("iss"), subject: text("sub"), scopes, claims }
    }

    /// Whether claim `claim` is, or (an array) holds, one of `accepted`.
    pub(crate) fn claim_holds(&self, claim: &str, accepted: &[String]) -> bool {
        match self.claims.get(claim) {
            Some(Value::String(value)) => accepted.iter().any(|a| a == value),
            Some(Value::Array(values)) => {
                values.iter().filter_map(Value::as_str).any(|v| accepted.iter().any(|a| a == v))
            }
            Some(Value::Bool(value)) => accepted.iter().any(|a| a == if *value { "true" } else { "false" }),
            Some(Value::Number(value)) => accepted.iter().any(|a| *a == value.to_string()),
            _ => false,
        }
    }
}
