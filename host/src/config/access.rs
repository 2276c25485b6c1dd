//! Who may use what: access rules, named identities' quota overrides, and the audit sink.
//!
//! A rule says who it is for (named tokens, OAuth subjects, scopes, claim values, or
//! anyone) and what they may use (plugins, tools, resources, prompts). Without rules
//! every caller may use everything (berth before rules existed); with one or more, a
//! caller may use only what some rule that matches it grants.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The access rules (`[[access.rules]]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AccessConfig {
    /// Each rule grants its matching callers what it lists; none: everyone may use everything.
    pub rules: Vec<RuleConfig>,
}

/// One access rule: who it matches, and what it grants them.
///
/// Within a field any listed value matches; across the "who" fields every field
/// given must match (a rule with `identities` and `scopes` needs both).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RuleConfig {
    /// A name for logs and warnings [default: its position, `rule 1`].
    pub name: Option<String>,
    /// Matches every caller, authenticated or not (no other "who" field allowed).
    pub anyone: bool,
    /// Names of static tokens (`[[auth.tokens]] name`) or of the stdio identity (`berth stdio --identity`).
    pub identities: Vec<String>,
    /// OAuth subjects (`sub`).
    pub subjects: Vec<String>,
    /// OAuth scopes (`scope` or `scp`): the token carries at least one of them.
    pub scopes: Vec<String>,
    /// OAuth claims and accepted values: the claim (a string, or an array of strings
    /// like `groups`) holds at least one of them, for every claim named.
    pub claims: BTreeMap<String, Vec<String>>,
    /// Plugins whose tools, resources and prompts are all granted (names or globs).
    pub plugins: Vec<String>,
    /// Tools granted, by name or glob (`*` any run of characters, `?` one).
    pub tools: Vec<String>,
    /// Resources granted by URI prefix (a template when every URI it makes could start so).
    pub resources: Vec<String>,
    /// Prompts granted, by name or glob.
    pub prompts: Vec<String>,
}

impl RuleConfig {
    /// The rule's name in messages.
    pub fn label(&self, index: usize) -> String {
        self.name.clone().unwrap_or_else(|| format!("rule {}", index + 1))
    }

    fn validate(&self, index: usize) -> Result<()> {
        let label = self.label(index);
        let bad = |why: &str| Err(Error::Config(format!("access.rules: {label}: {why}")));
        let narrows = !self.identities.is_empty()
            || !self.subjects.is_empty()
            || !self.scopes.is_empty()
            || !self.claims.is_empty();
        if self.anyone && narrows {
            return bad("anyone = true matches every caller; drop identities, subjects, scopes and claims, or anyone");
        }
        if !self.anyone && !narrows {
            return bad("says nobody it is for: set identities, subjects, scopes, claims, or anyone = true");
        }
        if self.plugins.is_empty() && self.tools.is_empty() && self.resources.is_empty() && self.prompts.is_empty() {
            return bad("grants nothing: list plugins, tools, resources or prompts");
        }
        let lists = [
            ("identities", &self.identities),
            ("subjects", &self.subjects),
            ("scopes", &self.scopes),
            ("plugins", &self.plugins),
            ("tools", &self.tools),
            ("resources", &self.resources),
            ("prompts", &self.prompts),
        ];
        for (field, values) in
            lists.into_iter().chain(self.claims.iter().map(|(claim, values)| (claim.as_str(), values)))
        {
            if values.iter().any(|v| v.trim().is_empty()) {
                return bad(&format!("{field} holds an empty value"));
            }
        }
        if let Some((claim, _)) = self.claims.iter().find(|(_, values)| values.is_empty()) {
            return bad(&format!("claims.{claim} lists no accepted value"));
        }
        Ok(())
    }
}

impl AccessConfig {
    /// Checks rules that parse but cannot mean anything.
    pub fn validate(&self) -> Result<()> {
        self.rules.iter().enumerate().try_for_each(|(index, rule)| rule.validate(index))
    }
}

/// Where the audit trail goes (`[audit]`): one JSON line per tool call, resource
/// read and prompt get. Off unless a sink is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AuditConfig {
    /// Append events to this file (reopened on SIGHUP, so logrotate can move it).
    pub file: Option<PathBuf>,
    /// Write events to stderr (beside the logs; a collector tells them apart by `"audit":true`).
    pub stderr: bool,
}

impl AuditConfig {
    /// Checks that at most one sink is set.
    pub fn validate(&self) -> Result<()> {
        if self.file.is_some() && self.stderr {
            return Err(Error::Config("audit: set file or stderr, not both".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::access::*;

    fn rule(text: &str) -> Result<()> {
        let config: AccessConfig = toml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        config.validate()
    }

    #[test]
    fn rules_must_say_who_and_what() {
        assert!(rule("[[rules]]\nidentities = [\"ci\"]\nplugins = [\"echo\"]").is_ok());
        let nobody = rule("[[rules]]\ntools = [\"echo\"]").expect_err("no who");
        assert!(nobody.to_string().contains("rule 1: says nobody"), "{nobody}");
        let nothing = rule("[[rules]]\nname = \"ci\"\nidentities = [\"ci\"]").expect_err("no what");
        assert!(nothing.to_string().contains("ci: grants nothing"), "{nothing}");
        assert!(rule("[[rules]]\nanyone = true\nscopes = [\"a\"]\ntools = [\"*\"]").is_err(), "anyone and more");
        assert!(rule("[[rules]]\nclaims = { groups = [] }\ntools = [\"*\"]").is_err(), "a claim without values");
        assert!(rule("[[rules]]\nidentities = [\"\"]\ntools = [\"*\"]").is_err(), "an empty name");
        assert!(rule("[[rules]]\nidentity = [\"ci\"]\ntools = [\"*\"]").is_err(), "unknown key");
    }

    #[test]
    fn every_example_in_the_authorization_docs_is_a_valid_config() {
        let docs = include_str!("../../../docs/authorization.md");
        let blocks: Vec<&str> = docs.split("```toml\n").skip(1).filter_map(|rest| rest.split("```").next()).collect();
        assert!(blocks.len() >= 6, "the examples were found: {}", blocks.len());
        for block in blocks {
            let config: crate::config::Config =
                toml::from_str(block).unwrap_or_else(|e| panic!("does not parse ({e}):\n{block}"));
            config.access.validate().unwrap_or_else(|e| panic!("{e}:\n{block}"));
            config.quota.validate().unwrap_or_else(|e| panic!("{e}:\n{block}"));
            config.audit.validate().unwrap_or_else(|e| panic!("{e}:\n{block}"));
        }
    }
}
