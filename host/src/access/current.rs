//! The rules in effect: the one place that holds them, swapped whole when the config
//! is reloaded on SIGHUP.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::grant::Grant;
use super::identity::Identity;
use super::rules::Rules;
use crate::config::AccessConfig;

/// The rules in effect, swapped whole on reload.
pub(crate) struct Access {
    rules: ArcSwap<Rules>,
}

impl Access {
    /// Access as `config` rules it.
    pub(crate) fn new(config: &AccessConfig) -> Self {
        Self { rules: ArcSwap::from_pointee(Rules::new(config)) }
    }

    /// What a caller known as `identity` may use, decided once for its request.
    pub(crate) fn grant(&self, identity: Option<&Identity>) -> Grant {
        let rules = self.rules.load();
        if rules.is_empty() {
            return Grant::all();
        }
        Grant::ruled(Arc::clone(&rules), rules.matching(identity))
    }

    /// Puts `config`'s rules in effect for requests from now on.
    pub(crate) fn reload(&self, config: &AccessConfig) {
        self.rules.store(Arc::new(Rules::new(config)));
    }

    /// The rules in effect now.
    pub(crate) fn rules(&self) -> Arc<Rules> {
        self.rules.load_full()
    }
}

#[cfg(test)]
mod tests {
    use crate::access::{Access, Identity};
    use crate::config::AccessConfig;

    fn access(text: &str) -> Access {
        let config: AccessConfig = toml::from_str(text).expect("rules parse");
        config.validate().expect("rules are valid");
        Access::new(&config)
    }

    #[test]
    fn no_rules_grant_everything_and_any_rule_denies_by_default() {
        let open = access("");
        assert!(open.grant(None).tool("echo", "echo"));
        let ruled = access("[[rules]]\nidentities = [\"ci\"]\nplugins = [\"echo\"]");
        assert!(!ruled.grant(None).tool("echo", "echo"), "anonymous: no rule matches");
        assert!(!ruled.grant(Some(&Identity::named("other"))).tool("echo", "echo"));
        let ci = ruled.grant(Some(&Identity::named("ci")));
        assert!(ci.tool("echo", "echo") && ci.prompt("echo", "greet") && ci.resource("echo", "mem://x"));
        assert!(!ci.tool("fs", "read"), "another plugin's tool");
    }

    #[test]
    fn who_fields_all_match_and_values_any() {
        let rules = access(
            "[[rules]]\nscopes = [\"tools.read\", \"tools.all\"]\nclaims = { groups = [\"team-a\"] }\ntools = [\"read_*\"]",
        );
        let claims = |scope: &str, groups: serde_json::Value| {
            Identity::from_claims(serde_json::json!({ "iss": "i", "sub": "s", "scope": scope, "groups": groups }))
        };
        assert!(
            rules.grant(Some(&claims("openid tools.read", serde_json::json!(["x", "team-a"])))).tool("fs", "read_file")
        );
        assert!(
            !rules.grant(Some(&claims("tools.read", serde_json::json!(["team-b"])))).tool("fs", "read_file"),
            "group"
        );
        assert!(!rules.grant(Some(&claims("openid", serde_json::json!("team-a")))).tool("fs", "read_file"), "scope");
        let granted = rules.grant(Some(&claims("tools.all", serde_json::json!("team-a"))));
        assert!(granted.tool("fs", "read_file") && !granted.tool("fs", "write_file"));
    }

    #[test]
    fn resources_by_prefix_and_templates_that_can_reach_it() {
        let rules = access("[[rules]]\nanyone = true\nresources = [\"file:///docs/\"]");
        let grant = rules.grant(None);
        assert!(grant.resource("fs", "file:///docs/a.md"));
        assert!(!grant.resource("fs", "file:///etc/passwd"));
        assert!(grant.template("fs", "file:///{path}"), "can make a URI under the prefix");
        assert!(grant.template("fs", "file:///docs/{name}"));
        assert!(!grant.template("fs", "mem://{key}"));
    }

    #[test]
    fn unknown_names_are_warned_about() {
        let rules = access(
            "[[rules]]\nname = \"ci\"\nidentities = [\"ci\"]\nplugins = [\"ech*\", \"nope\"]\ntools = [\"gone\"]",
        );
        let warnings = rules.rules().unknown(&["echo"], &["echo"], &[]);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("plugin \"nope\" names an unknown plugin"), "{warnings:?}");
        assert!(warnings[1].contains("tool \"gone\""), "{warnings:?}");
    }
}
