//! What a plugin offers: read from its exports, checked, and renamed as the
//! operator asked (prefix, skip).

use std::collections::HashMap;

use super::bindings::tasks::TaskSupport;
use super::bindings::types::{Prompt, Resource, ResourceTemplate, Tool};
use super::settings::PluginSettings;

/// What a plugin offers, with the names clients see.
#[derive(Debug, Default, Clone)]
pub(crate) struct Catalog {
    pub(crate) tools: Vec<Tool>,
    pub(crate) resources: Vec<Resource>,
    pub(crate) templates: Vec<ResourceTemplate>,
    pub(crate) prompts: Vec<Prompt>,
    /// Tools that can run as tasks, by name; every other tool is `forbidden`.
    pub(crate) task_tools: HashMap<String, TaskSupport>,
}

impl Catalog {
    /// Whether and how tool `name` can run as a task.
    pub(crate) fn task_support(&self, name: &str) -> TaskSupport {
        self.task_tools.get(name).copied().unwrap_or(TaskSupport::Forbidden)
    }
}

/// A catalog as clients see it, and the plugin's own name for each exposed
/// tool and prompt name that differs from it (a `prefix` renames them).
pub(crate) struct Exposed {
    pub(crate) catalog: Catalog,
    pub(crate) originals: HashMap<String, String>,
}

impl Catalog {
    /// Checks what a plugin declared: names present, schemas valid JSON objects.
    pub(crate) fn validate(&self) -> Result<(), String> {
        for tool in &self.tools {
            if tool.name.is_empty() {
                return Err("declares a tool with an empty name".into());
            }
            check_schema(&tool.name, "input-schema", Some(&tool.input_schema))?;
            check_schema(&tool.name, "output-schema", tool.output_schema.as_ref())?;
            if let Some(annotations) = &tool.annotations
                && !matches!(serde_json::from_str(annotations), Ok(serde_json::Value::Object(_)))
            {
                return Err(format!("tool {:?}: annotations are not a JSON object", tool.name));
            }
        }
        if let Some(r) = self.resources.iter().find(|r| r.uri.is_empty()) {
            return Err(format!("resource {:?} has an empty URI", r.name));
        }
        if let Some(p) = self.prompts.iter().find(|p| p.name.is_empty()) {
            return Err(format!("declares a prompt with an empty name (description {:?})", p.description));
        }
        if let Some(name) = self.task_tools.keys().find(|name| !self.tools.iter().any(|t| &t.name == *name)) {
            return Err(format!("task-tools names {name:?}, which list-tools does not declare"));
        }
        Ok(())
    }

    /// Applies the operator's `skip` and `prefix`.
    pub(crate) fn expose(mut self, settings: &PluginSettings) -> Exposed {
        let mut originals = HashMap::new();
        self.tools.retain(|t| !settings.skips(&t.name));
        let mut task_tools = HashMap::new();
        for tool in &mut self.tools {
            let exposed = settings.exposed(&tool.name);
            if let Some(support) = self.task_tools.get(&tool.name) {
                task_tools.insert(exposed.clone(), *support);
            }
            rename(&mut originals, &mut tool.name, exposed);
        }
        self.task_tools = task_tools;
        self.prompts.retain(|p| !settings.skips(&p.name));
        for prompt in &mut self.prompts {
            let exposed = settings.exposed(&prompt.name);
            rename(&mut originals, &mut prompt.name, exposed);
        }
        Exposed { catalog: self, originals }
    }
}

/// Gives `name` its exposed name, noting the original when they differ: a plugin without
/// a prefix keeps an empty map, which a call's lookup leaves at once, without hashing.
fn rename(originals: &mut HashMap<String, String>, name: &mut String, exposed: String) {
    if *name != exposed {
        let original = std::mem::replace(name, exposed.clone());
        originals.insert(exposed, original);
    }
}

fn check_schema(tool: &str, which: &str, schema: Option<&String>) -> Result<(), String> {
    let Some(schema) = schema else { return Ok(()) };
    match serde_json::from_str::<serde_json::Value>(schema) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err(format!("tool {tool:?}: {which} is not a JSON object")),
        Err(e) => Err(format!("tool {tool:?}: {which} is not valid JSON: {e}")),
    }
}
