//! Who may use what: the identity a request's credentials name, the access rules the
//! operator wrote, and the [`Grant`] one request carries (evaluated once per request).
//!
//! Rules are a small table in `berth.toml` (`[[access.rules]]`), not a policy language:
//! what they need to say is an allow-list per caller (plugins, tool and prompt names or
//! globs, resource URI prefixes), and a table does that with no extra dependency and
//! nothing to learn (docs/authorization.md, "Why a rule table").

mod current;
mod glob;
mod grant;
mod identity;
mod rules;

pub(crate) use current::Access;
pub(crate) use grant::Grant;
pub(crate) use identity::Identity;
