//! A snapshot: everything the server offers at one moment, with list answers prepared.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::template::UriTemplate;
use crate::error::{Error, Result};
use crate::protocol::headers::{HeaderParam, header_params};
use crate::runtime::{Plugin, mcp};

/// A map from a name a client sends to what serves it. Hashed with foldhash, seeded per
/// process: every call looks its name up here, and foldhash hashes a short name in fewer
/// instructions than SipHash, the standard hasher; the keys are the plugins' names, so a
/// client's lookups cannot make the map slow.
type ByName<V> = HashMap<String, V, foldhash::fast::RandomState>;

/// Everything the server offers at one moment, with list answers prepared.
pub(crate) struct Snapshot {
    plugins: Vec<Arc<Plugin>>,
    tools: ByName<Arc<Plugin>>,
    resources: ByName<Arc<Plugin>>,
    templates: Vec<(UriTemplate, Arc<Plugin>)>,
    prompts: ByName<Arc<Plugin>>,
    /// Arguments each tool mirrors into `Mcp-Param-*` headers (tools with none are absent).
    header_params: ByName<Vec<HeaderParam>>,
    /// `tools/list` entries in plugin order, rendered once.
    pub(crate) tools_json: Vec<Value>,
    pub(crate) resources_json: Vec<Value>,
    pub(crate) templates_json: Vec<Value>,
    pub(crate) prompts_json: Vec<Value>,
}

impl Snapshot {
    /// Indexes `plugins`, refusing any name two of them share.
    pub(crate) fn build(plugins: Vec<Arc<Plugin>>) -> Result<Self> {
        let mut snapshot = Snapshot {
            plugins: Vec::new(),
            tools: ByName::default(),
            resources: ByName::default(),
            templates: Vec::new(),
            prompts: ByName::default(),
            header_params: ByName::default(),
            tools_json: Vec::new(),
            resources_json: Vec::new(),
            templates_json: Vec::new(),
            prompts_json: Vec::new(),
        };
        for plugin in &plugins {
            let catalog = &plugin.catalog;
            for tool in &catalog.tools {
                claim(&mut snapshot.tools, "tool", &tool.name, plugin)?;
                let listed = mcp::tool(tool, catalog.task_support(&tool.name));
                let params = header_params(&listed["inputSchema"]);
                if !params.is_empty() {
                    snapshot.header_params.insert(tool.name.clone(), params);
                }
                snapshot.tools_json.push(listed);
            }
            for resource in &catalog.resources {
                claim(&mut snapshot.resources, "resource", &resource.uri, plugin)?;
                snapshot.resources_json.push(mcp::resource(resource));
            }
            for template in &catalog.templates {
                if let Some((_, other)) = snapshot.templates.iter().find(|(t, _)| t.source() == template.uri_template) {
                    return Err(collision("resource template", &template.uri_template, other, plugin));
                }
                snapshot.templates.push((UriTemplate::new(&template.uri_template), plugin.clone()));
                snapshot.templates_json.push(mcp::resource_template(template));
            }
            for prompt in &catalog.prompts {
                claim(&mut snapshot.prompts, "prompt", &prompt.name, plugin)?;
                snapshot.prompts_json.push(mcp::prompt(prompt));
            }
        }
        snapshot.plugins = plugins;
        Ok(snapshot)
    }

    /// The loaded plugins, in load order.
    pub(crate) fn plugins(&self) -> &[Arc<Plugin>] {
        &self.plugins
    }

    /// The plugin that serves tool `name`.
    pub(crate) fn tool(&self, name: &str) -> Option<&Arc<Plugin>> {
        self.tools.get(name)
    }

    /// The arguments tool `name` mirrors into headers (empty for most tools).
    pub(crate) fn header_params(&self, name: &str) -> &[HeaderParam] {
        self.header_params.get(name).map_or(&[], Vec::as_slice)
    }

    /// The plugin that declared the resource template `uri_template`.
    pub(crate) fn template(&self, uri_template: &str) -> Option<&Arc<Plugin>> {
        self.templates.iter().find(|(t, _)| t.source() == uri_template).map(|(_, p)| p)
    }

    /// The plugin that serves prompt `name`.
    pub(crate) fn prompt(&self, name: &str) -> Option<&Arc<Plugin>> {
        self.prompts.get(name)
    }

    /// The plugin that serves resource `uri`: an exact resource first, then
    /// the first template that matches.
    pub(crate) fn resource(&self, uri: &str) -> Option<&Arc<Plugin>> {
        self.resources.get(uri).or_else(|| self.templates.iter().find(|(t, _)| t.matches(uri)).map(|(_, p)| p))
    }
}

fn claim(map: &mut ByName<Arc<Plugin>>, kind: &'static str, name: &str, plugin: &Arc<Plugin>) -> Result<()> {
    if let Some(first) = map.get(name) {
        return Err(collision(kind, name, first, plugin));
    }
    map.insert(name.to_owned(), plugin.clone());
    Ok(())
}

fn collision(kind: &'static str, name: &str, first: &Plugin, second: &Plugin) -> Error {
    Error::Collision { kind, name: name.to_owned(), first: first.path.clone(), second: second.path.clone() }
}
