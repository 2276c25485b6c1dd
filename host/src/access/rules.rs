//! The access rules, compiled from the config: whom each matches, what each grants.

use std::collections::HashMap;

use super::glob;
use super::identity::Identity;
use crate::config::{AccessConfig, RuleConfig};

/// The access rules in effect.
#[derive(Debug, Default)]
pub(crate) struct Rules {
    rules: Vec<Rule>,
    /// The rules that name identities, by identity name: a named caller is checked
    /// against its own rules and the unnamed ones, not every rule.
    by_identity: HashMap<String, Vec<u32>>,
    /// The rules that name no identity (scopes, claims, subjects, anyone).
    unnamed: Vec<u32>,
}

/// One rule: who it matches, what it grants.
#[derive(Debug)]
pub(super) struct Rule {
    label: String,
    anyone: bool,
    identities: Vec<String>,
    subjects: Vec<String>,
    scopes: Vec<String>,
    claims: Vec<(String, Vec<String>)>,
    plugins: Vec<String>,
    tools: Vec<String>,
    resources: Vec<String>,
    prompts: Vec<String>,
}

impl Rules {
    /// The rules `config` writes (checked already by `AccessConfig::validate`).
    pub(crate) fn new(config: &AccessConfig) -> Self {
        let trimmed = |values: &[String]| values.iter().map(|v| v.trim().to_owned()).collect::<Vec<_>>();
        let rules = config
            .rules
            .iter()
            .enumerate()
            .map(|(index, rule): (usize, &RuleConfig)| Rule {
                label: rule.label(index),
                anyone: rule.anyone,
                identities: trimmed(&rule.identities),
                subjects: trimmed(&rule.subjects),
                scopes: trimmed(&rule.scopes),
                claims: rule.claims.iter().map(|(claim, values)| (claim.clone(), trimmed(values))).collect(),
                plugins: trimmed(&rule.plugins),
                tools: trimmed(&rule.tools),
                resources: trimmed(&rule.resources),
                prompts: trimmed(&rule.prompts),
            })
            .collect::<Vec<Rule>>();
        let mut by_identity: HashMap<String, Vec<u32>> = HashMap::new();
        let mut unnamed = Vec::new();
        for (index, rule) in (0u32..).zip(&rules) {
            if rule.identities.is_empty() {
                unnamed.push(index);
            }
            for name in &rule.identities {
                by_identity.entry(name.clone()).or_default().push(index);
            }
        }
        Self { rules, by_identity, unnamed }
    }

    /// Whether there are any rules (without, everyone may use everything).
    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub(super) fn rule(&self, index: u32) -> &Rule {
        &self.rules[index as usize]
    }

    /// The indexes of the rules `identity` matches (`None`: an anonymous caller).
    pub(super) fn matching(&self, identity: Option<&Identity>) -> Vec<u32> {
        let named = identity.and_then(|i| i.name.as_deref()).and_then(|name| self.by_identity.get(name));
        let candidates = named.into_iter().flatten().chain(&self.unnamed);
        candidates.copied().filter(|index| self.rule(*index).matches(identity)).collect()
    }

    /// What the rules say about names the server offers: a warning for each rule entry
    /// that names a plugin, tool or prompt (or a glob) matching none of them.
    pub(crate) fn unknown(&self, plugins: &[&str], tools: &[&str], prompts: &[&str]) -> Vec<String> {
        let mut warnings = Vec::new();
        for rule in &self.rules {
            for (kind, patterns, names) in
                [("plugin", &rule.plugins, plugins), ("tool", &rule.tools, tools), ("prompt", &rule.prompts, prompts)]
            {
                for pattern in patterns {
                    if !names.iter().any(|name| glob::matches(pattern, name)) {
                        let what = if glob::is_glob(pattern) { "matches no" } else { "names an unknown" };
                        warnings
                            .push(format!("access rule {:?}: {kind} {pattern:?} {what} {kind} loaded now", rule.label));
                    }
                }
            }
        }
        warnings
    }
}

impl Rule {
    /// Whether the rule is for `identity`: every "who" field it sets matches.
    fn matches(&self, identity: Option<&Identity>) -> bool {
        if self.anyone {
            return true;
        }
        let Some(identity) = identity else { return false };
        let named = self.identities.is_empty()
            || identity.name.as_deref().is_some_and(|name| self.identities.iter().any(|n| n == name));
        let subject = self.subjects.is_empty()
            || identity.subject.as_deref().is_some_and(|sub| self.subjects.iter().any(|s| s == sub));
        let scoped = self.scopes.is_empty() || identity.scopes.iter().any(|s| self.scopes.contains(s));
        let claimed = self.claims.iter().all(|(claim, accepted)| identity.claim_holds(claim, accepted));
        named && subject && scoped && claimed
    }

    fn grants_plugin(&self, plugin: &str) -> bool {
        self.plugins.iter().any(|pattern| glob::matches(pattern, plugin))
    }

    /// Whether the rule grants tool `name` of `plugin`.
    pub(super) fn tool(&self, plugin: &str, name: &str) -> bool {
        self.grants_plugin(plugin) || self.tools.iter().any(|pattern| glob::matches(pattern, name))
    }

    /// Whether the rule grants prompt `name` of `plugin`.
    pub(super) fn prompt(&self, plugin: &str, name: &str) -> bool {
        self.grants_plugin(plugin) || self.prompts.iter().any(|pattern| glob::matches(pattern, name))
    }

    /// Whether the rule grants resource `uri` of `plugin`.
    pub(super) fn resource(&self, plugin: &str, uri: &str) -> bool {
        self.grants_plugin(plugin) || self.resources.iter().any(|prefix| uri.starts_with(prefix.as_str()))
    }

    /// Whether the rule grants some URI resource template `template` of `plugin` can make:
    /// its literal start (before the first `{`) and a granted prefix agree as far as both go.
    pub(super) fn template(&self, plugin: &str, template: &str) -> bool {
        let literal = template.split('{').next().unwrap_or_default();
        self.grants_plugin(plugin)
            || self.resources.iter().any(|prefix| prefix.starts_with(literal) || literal.starts_with(prefix.as_str()))
    }
}
