//! What one request may use: decided once when it is routed, asked for every tool,
//! resource and prompt it lists, calls, reads or completes.

use std::sync::Arc;

use super::rules::Rules;

/// What one request's caller may use: everything (no rules), or what the rules it
/// matched grant (nothing when it matched none). One pointer wide, since every request
/// carries one through its futures.
#[derive(Clone, Debug, Default)]
pub(crate) struct Grant(Option<Arc<Ruled>>);

/// The rules in effect for a request, and which of them its caller matched.
#[derive(Debug)]
struct Ruled {
    rules: Arc<Rules>,
    matched: Vec<u32>,
}

impl Grant {
    /// Everything: no rules are in effect.
    pub(crate) fn all() -> Self {
        Self(None)
    }

    /// What `matched` (indexes into `rules`) grant.
    pub(crate) fn ruled(rules: Arc<Rules>, matched: Vec<u32>) -> Self {
        Self(Some(Arc::new(Ruled { rules, matched })))
    }

    /// Whether rules decide what this caller sees (its lists may differ from another's).
    pub(crate) fn is_ruled(&self) -> bool {
        self.0.is_some()
    }

    fn any(&self, granted: impl Fn(&super::rules::Rule) -> bool) -> bool {
        match &self.0 {
            None => true,
            Some(ruled) => ruled.matched.iter().any(|index| granted(ruled.rules.rule(*index))),
        }
    }

    /// Whether tool `name` of `plugin` may be listed and called.
    pub(crate) fn tool(&self, plugin: &str, name: &str) -> bool {
        self.any(|rule| rule.tool(plugin, name))
    }

    /// Whether prompt `name` of `plugin` may be listed, got and completed.
    pub(crate) fn prompt(&self, plugin: &str, name: &str) -> bool {
        self.any(|rule| rule.prompt(plugin, name))
    }

    /// Whether resource `uri` of `plugin` may be listed and read.
    pub(crate) fn resource(&self, plugin: &str, uri: &str) -> bool {
        self.any(|rule| rule.resource(plugin, uri))
    }

    /// Whether resource template `template` of `plugin` may be listed and completed.
    pub(crate) fn template(&self, plugin: &str, template: &str) -> bool {
        self.any(|rule| rule.template(plugin, template))
    }
}
