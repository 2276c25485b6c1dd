//! A loaded plugin: its compiled component, which interfaces it exports, and its catalog.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre};

use super::bindings::types::{
    CallContext, CallOutcome, Completion, CompletionRequest, Content, Error as PluginError, Prompt, PromptOutcome,
    Resource, ResourceBody, ResourceContents, ResourceTemplate, Tool, ToolResult,
};
use super::bindings::{completion, prompts, resources, tools};
use super::call::{CallFailure, CallHooks};
use super::engine::Runtime;
use super::pool::{InstancePool, Lease};
use super::settings::PluginSettings;
use super::state::CallState;
use crate::error::{Error, Result};
use crate::metrics::ToolStats;

/// What a plugin offers, read once at load time, with the names clients see.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    pub tools: Vec<Tool>,
    pub resources: Vec<Resource>,
    pub templates: Vec<ResourceTemplate>,
    pub prompts: Vec<Prompt>,
}

/// A plugin ready to serve calls.
///
/// Holds the `InstancePre` (imports resolved once) and the export indices of
/// each interface the component has, so a call does no name lookups.
pub struct Plugin {
    /// The plugin's name: its file name without `.wasm`.
    pub name: Arc<str>,
    /// The file it was loaded from.
    pub path: PathBuf,
    /// What it offers, as clients see it (prefix applied, skipped names removed).
    pub catalog: Catalog,
    /// Whether the compiled artifact came from the cache.
    pub from_cache: bool,
    /// What the operator decided for it.
    pub settings: Arc<PluginSettings>,
    pub(crate) runtime: Runtime,
    pub(crate) pre: InstancePre<CallState>,
    pub(crate) pool: InstancePool,
    /// Exposed tool and prompt names → the names the plugin knows them by.
    names: HashMap<String, String>,
    /// Calls and latency of each exposed tool, for `/metrics`.
    tool_stats: BTreeMap<String, ToolStats>,
    tools: Option<tools::GuestIndices>,
    resources: Option<resources::GuestIndices>,
    prompts: Option<prompts::GuestIndices>,
    completion: Option<completion::GuestIndices>,
}

impl Plugin {
    /// Loads, compiles (or reads from cache) and catalogs the component at `path`.
    pub async fn load(runtime: &Runtime, path: &Path, settings: PluginSettings) -> Result<Arc<Plugin>> {
        let fail = |message: String| Error::Plugin { path: path.to_owned(), message };
        let name: Arc<str> = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| fail("the file name is not valid UTF-8".into()))?
            .into();
        let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        if !bytes.starts_with(b"\0asm") {
            return Err(fail("not a WebAssembly file".into()));
        }
        let engine = runtime.engine.clone();
        let cache_dir = runtime.cache_dir.clone();
        // Compiling takes from milliseconds to seconds: keep it off the async workers.
        let (component, from_cache) =
            tokio::task::spawn_blocking(move || super::cache::compile(&engine, &bytes, cache_dir.as_deref()))
                .await
                .map_err(|e| fail(format!("compiler thread failed: {e}")))?
                .map_err(|e| fail(format!("not a valid WebAssembly component: {e:#}")))?;
        let pre = runtime.linker.instantiate_pre(&component).map_err(|e| {
            fail(format!(
                "imports something berth does not provide (berth offers WASI 0.2 and berth:plugin/host@0.1.0): {e:#}"
            ))
        })?;
        let mut plugin = Plugin {
            name,
            path: path.to_owned(),
            catalog: Catalog::default(),
            from_cache,
            pool: InstancePool::new(settings.max_concurrency),
            settings: Arc::new(settings),
            runtime: runtime.clone(),
            names: HashMap::new(),
            tool_stats: BTreeMap::new(),
            tools: tools::GuestIndices::new(&pre).ok(),
            resources: resources::GuestIndices::new(&pre).ok(),
            prompts: prompts::GuestIndices::new(&pre).ok(),
            completion: completion::GuestIndices::new(&pre).ok(),
            pre,
        };
        if plugin.tools.is_none() && plugin.resources.is_none() && plugin.prompts.is_none() {
            return Err(fail(
                "exports none of berth:plugin/tools@0.1.0, resources@0.1.0 or prompts@0.1.0; build it against berth's wit/ world".into(),
            ));
        }
        let catalog = plugin.read_catalog().await.map_err(|e| fail(format!("listing its catalog failed: {e}")))?;
        validate(&catalog).map_err(fail)?;
        (plugin.catalog, plugin.names) = expose(catalog, &plugin.settings);
        plugin.tool_stats = stats_for(&plugin.catalog);
        Ok(Arc::new(plugin))
    }

    /// The same plugin with its catalog read again (after it announced a change).
    pub async fn recatalog(&self) -> Result<Arc<Plugin>> {
        let fail = |message: String| Error::Plugin { path: self.path.clone(), message };
        let catalog = self.read_catalog().await.map_err(|e| fail(format!("listing its catalog failed: {e}")))?;
        validate(&catalog).map_err(fail)?;
        let (catalog, names) = expose(catalog, &self.settings);
        Ok(Arc::new(Plugin {
            name: self.name.clone(),
            path: self.path.clone(),
            tool_stats: stats_for(&catalog),
            catalog,
            from_cache: self.from_cache,
            settings: self.settings.clone(),
            runtime: self.runtime.clone(),
            pre: self.pre.clone(),
            pool: InstancePool::new(self.settings.max_concurrency),
            names,
            tools: self.tools.clone(),
            resources: self.resources.clone(),
            prompts: self.prompts.clone(),
            completion: self.completion.clone(),
        }))
    }

    async fn read_catalog(&self) -> Result<Catalog, CallFailure> {
        self.bounded(async {
            let (mut store, instance) = self.instantiate(CallHooks::default()).await?;
            let mut catalog = Catalog::default();
            let wasm = |e| self.classify(e, false);
            if let Some(indices) = &self.tools {
                let guest = indices.load(&mut store, &instance).map_err(wasm)?;
                catalog.tools = guest.call_list_tools(&mut store).await.map_err(wasm)?;
            }
            if let Some(indices) = &self.resources {
                let guest = indices.load(&mut store, &instance).map_err(wasm)?;
                catalog.resources = guest.call_list_resources(&mut store).await.map_err(wasm)?;
                catalog.templates = guest.call_list_templates(&mut store).await.map_err(wasm)?;
            }
            if let Some(indices) = &self.prompts {
                let guest = indices.load(&mut store, &instance).map_err(wasm)?;
                catalog.prompts = guest.call_list_prompts(&mut store).await.map_err(wasm)?;
            }
            Ok(catalog)
        })
        .await
    }

    /// Calls and latency per exposed tool.
    pub fn tool_stats(&self) -> impl Iterator<Item = (&String, &ToolStats)> {
        self.tool_stats.iter()
    }

    /// The counters of exposed tool `name`.
    pub fn stats_of(&self, name: &str) -> Option<&ToolStats> {
        self.tool_stats.get(name)
    }

    /// The plugin's own name for exposed tool or prompt `name`.
    fn original<'a>(&'a self, name: &'a str) -> &'a str {
        self.names.get(name).map_or(name, String::as_str)
    }

    /// Calls exposed tool `name` on a leased instance.
    pub async fn call_tool(
        &self,
        ctx: &CallContext,
        name: &str,
        arguments: &str,
        hooks: CallHooks,
    ) -> Result<Result<CallOutcome, PluginError>, CallFailure> {
        let Some(indices) = &self.tools else {
            return Ok(Err(PluginError::NotFound(format!("plugin {} has no tools", self.name))));
        };
        let original = self.original(name);
        let outcome = self
            .leased(hooks, async |store, instance| {
                let guest = indices.load(&mut *store, instance)?;
                guest.call_call_tool(store, ctx, original, &arguments.to_owned()).await
            })
            .await;
        if let Ok(Ok(CallOutcome::Complete(result))) = &outcome {
            let size = result_size(result);
            if size > self.settings.max_output_bytes {
                return Err(CallFailure::Output {
                    plugin: self.name.clone(),
                    size,
                    limit: self.settings.max_output_bytes,
                });
            }
        }
        outcome
    }

    /// Reads resource `uri` on a leased instance.
    pub async fn read_resource(
        &self,
        ctx: &CallContext,
        uri: &str,
        hooks: CallHooks,
    ) -> Result<Result<Vec<ResourceContents>, PluginError>, CallFailure> {
        let Some(indices) = &self.resources else {
            return Ok(Err(PluginError::NotFound(format!("plugin {} has no resources", self.name))));
        };
        self.leased(hooks, async |store, instance| {
            let guest = indices.load(&mut *store, instance)?;
            guest.call_read_resource(store, ctx, uri).await
        })
        .await
    }

    /// Renders exposed prompt `name` on a leased instance.
    pub async fn get_prompt(
        &self,
        ctx: &CallContext,
        name: &str,
        arguments: &str,
        hooks: CallHooks,
    ) -> Result<Result<PromptOutcome, PluginError>, CallFailure> {
        let Some(indices) = &self.prompts else {
            return Ok(Err(PluginError::NotFound(format!("plugin {} has no prompts", self.name))));
        };
        let original = self.original(name);
        self.leased(hooks, async |store, instance| {
            let guest = indices.load(&mut *store, instance)?;
            guest.call_get_prompt(store, ctx, original, &arguments.to_owned()).await
        })
        .await
    }

    /// Whether the plugin exports the completion interface.
    pub fn completes(&self) -> bool {
        self.completion.is_some()
    }

    /// Asks the plugin for argument suggestions on a leased instance.
    pub async fn complete(
        &self,
        ctx: &CallContext,
        request: &CompletionRequest,
        hooks: CallHooks,
    ) -> Result<Result<Completion, PluginError>, CallFailure> {
        let Some(indices) = &self.completion else {
            return Ok(Ok(Completion { values: Vec::new(), total: None, has_more: false }));
        };
        let mut request = request.clone();
        if let super::bindings::types::CompletionRef::Prompt(name) = &mut request.reference {
            *name = self.original(name).to_owned();
        }
        self.leased(hooks, async |store, instance| {
            let guest = indices.load(&mut *store, instance)?;
            guest.call_complete(store, ctx, &request).await
        })
        .await
    }
}

impl Plugin {
    /// Runs `call` on a leased instance under the deadline, then returns the
    /// instance to the pool (or drops it after a failure).
    async fn leased<R>(
        &self,
        hooks: CallHooks,
        call: impl AsyncFnOnce(&mut Store<CallState>, &Instance) -> wasmtime::Result<R>,
    ) -> Result<R, CallFailure> {
        let mut lease = self.lease(hooks).await?;
        let outcome = self
            .bounded(async {
                let Lease { store, instance, .. } = &mut lease;
                call(store, instance).await.map_err(|e| self.classify(e, false))
            })
            .await;
        lease.store.data().release_long_slot();
        self.release(lease, outcome.is_ok());
        match &outcome {
            Err(CallFailure::Trap { .. }) => self.stats().traps.fetch_add(1, Ordering::Relaxed),
            Err(CallFailure::Deadline { .. }) => self.stats().deadline_kills.fetch_add(1, Ordering::Relaxed),
            Err(CallFailure::Memory { .. }) => self.stats().memory_kills.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
        outcome
    }
}

/// The bytes a tool result carries to the client.
fn result_size(result: &ToolResult) -> usize {
    let contents: usize = result
        .content
        .iter()
        .map(|c| match c {
            Content::Text(text) => text.len(),
            Content::Image(blob) | Content::Audio(blob) => blob.data.len(),
            Content::ResourceLink(link) => link.uri.len() + link.name.len(),
            Content::Embedded(embedded) => match &embedded.body {
                ResourceBody::Text(text) => text.len(),
                ResourceBody::Binary(bytes) => bytes.len(),
            },
        })
        .sum();
    contents + result.structured_content.as_ref().map_or(0, String::len)
}

/// Applies the operator's `skip` and `prefix` to a catalog; returns the exposed
/// catalog and the exposed → original name map.
fn expose(mut catalog: Catalog, settings: &PluginSettings) -> (Catalog, HashMap<String, String>) {
    let mut names = HashMap::new();
    catalog.tools.retain(|t| !settings.skips(&t.name));
    for tool in &mut catalog.tools {
        let exposed = settings.exposed(&tool.name);
        names.insert(exposed.clone(), std::mem::replace(&mut tool.name, exposed));
    }
    catalog.prompts.retain(|p| !settings.skips(&p.name));
    for prompt in &mut catalog.prompts {
        let exposed = settings.exposed(&prompt.name);
        names.insert(exposed.clone(), std::mem::replace(&mut prompt.name, exposed));
    }
    (catalog, names)
}

/// Checks what a plugin declared: names present, schemas valid JSON objects.
fn validate(catalog: &Catalog) -> Result<(), String> {
    for tool in &catalog.tools {
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
    if let Some(r) = catalog.resources.iter().find(|r| r.uri.is_empty()) {
        return Err(format!("resource {:?} has an empty URI", r.name));
    }
    if let Some(p) = catalog.prompts.iter().find(|p| p.name.is_empty()) {
        return Err(format!("declares a prompt with an empty name (description {:?})", p.description));
    }
    Ok(())
}

fn check_schema(tool: &str, which: &str, schema: Option<&String>) -> Result<(), String> {
    let Some(schema) = schema else { return Ok(()) };
    match serde_json::from_str::<serde_json::Value>(schema) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err(format!("tool {tool:?}: {which} is not a JSON object")),
        Err(e) => Err(format!("tool {tool:?}: {which} is not valid JSON: {e}")),
    }
}

/// Zeroed counters for each tool of `catalog`.
fn stats_for(catalog: &Catalog) -> BTreeMap<String, ToolStats> {
    catalog.tools.iter().map(|tool| (tool.name.clone(), ToolStats::default())).collect()
}
