//! A loaded plugin: its compiled component, which interfaces it exports, and its catalog.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::component::InstancePre;

use super::bindings::types::{
    CallContext, CallOutcome, Completion, CompletionRequest, Error as PluginError, Prompt,
    PromptOutcome, Resource, ResourceContents, ResourceTemplate, Tool,
};
use super::bindings::{completion, prompts, resources, tools};
use super::call::{CallFailure, CallHooks};
use super::engine::Runtime;
use super::state::CallState;
use crate::error::{Error, Result};

/// What a plugin offers, read once at load time.
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
    /// What it offers.
    pub catalog: Catalog,
    /// Whether the compiled artifact came from the cache.
    pub from_cache: bool,
    pub(crate) runtime: Runtime,
    pub(crate) pre: InstancePre<CallState>,
    tools: Option<tools::GuestIndices>,
    resources: Option<resources::GuestIndices>,
    prompts: Option<prompts::GuestIndices>,
    completion: Option<completion::GuestIndices>,
}

impl Plugin {
    /// Loads, compiles (or reads from cache) and catalogs the component at `path`.
    pub async fn load(runtime: &Runtime, path: &Path) -> Result<Arc<Plugin>> {
        let fail = |message: String| Error::Plugin {
            path: path.to_owned(),
            message,
        };
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
        let (component, from_cache) = tokio::task::spawn_blocking(move || {
            super::cache::compile(&engine, &bytes, cache_dir.as_deref())
        })
        .await
        .map_err(|e| fail(format!("compiler thread failed: {e}")))?
        .map_err(|e| fail(format!("not a valid WebAssembly component: {e:#}")))?;
        let pre = runtime.linker.instantiate_pre(&component).map_err(|e| {
            fail(format!("imports something berth does not provide (berth offers WASI 0.2 and berth:plugin/host@0.1.0): {e:#}"))
        })?;
        let mut plugin = Plugin {
            name,
            path: path.to_owned(),
            catalog: Catalog::default(),
            from_cache,
            runtime: runtime.clone(),
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
        plugin.catalog = plugin
            .read_catalog()
            .await
            .map_err(|e| fail(format!("listing its catalog failed: {e}")))?;
        validate(&plugin.catalog).map_err(fail)?;
        Ok(Arc::new(plugin))
    }

    /// The same plugin with its catalog read again (after it announced a change).
    pub async fn recatalog(&self) -> Result<Arc<Plugin>> {
        let catalog = self.read_catalog().await.map_err(|e| Error::Plugin {
            path: self.path.clone(),
            message: format!("listing its catalog failed: {e}"),
        })?;
        validate(&catalog).map_err(|message| Error::Plugin {
            path: self.path.clone(),
            message,
        })?;
        Ok(Arc::new(Plugin {
            name: self.name.clone(),
            path: self.path.clone(),
            catalog,
            from_cache: self.from_cache,
            runtime: self.runtime.clone(),
            pre: self.pre.clone(),
            tools: self.tools.clone(),
            resources: self.resources.clone(),
            prompts: self.prompts.clone(),
            completion: self.completion.clone(),
        }))
    }

    /// Whether the plugin exports the completion interface.
    pub fn completes(&self) -> bool {
        self.completion.is_some()
    }

    /// Asks the plugin for argument suggestions in a fresh instance.
    pub async fn complete(
        &self,
        ctx: &CallContext,
        request: &CompletionRequest,
        hooks: CallHooks,
    ) -> Result<Result<Completion, PluginError>, CallFailure> {
        let Some(indices) = &self.completion else {
            return Ok(Ok(Completion {
                values: Vec::new(),
                total: None,
                has_more: false,
            }));
        };
        self.bounded(async {
            let (mut store, instance) = self.instantiate(hooks).await?;
            let wasm = |e| self.classify(e, false);
            let guest = indices.load(&mut store, &instance).map_err(wasm)?;
            guest
                .call_complete(&mut store, ctx, request)
                .await
                .map_err(wasm)
        })
        .await
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

    /// Calls tool `name` in a fresh instance.
    pub async fn call_tool(
        &self,
        ctx: &CallContext,
        name: &str,
        arguments: &str,
        hooks: CallHooks,
    ) -> Result<Result<CallOutcome, PluginError>, CallFailure> {
        let Some(indices) = &self.tools else {
            return Ok(Err(PluginError::NotFound(format!(
                "plugin {} has no tools",
                self.name
            ))));
        };
        self.bounded(async {
            let (mut store, instance) = self.instantiate(hooks).await?;
            let wasm = |e| self.classify(e, false);
            let guest = indices.load(&mut store, &instance).map_err(wasm)?;
            guest
                .call_call_tool(&mut store, ctx, name, &arguments.to_owned())
                .await
                .map_err(wasm)
        })
        .await
    }

    /// Reads resource `uri` in a fresh instance.
    pub async fn read_resource(
        &self,
        ctx: &CallContext,
        uri: &str,
        hooks: CallHooks,
    ) -> Result<Result<Vec<ResourceContents>, PluginError>, CallFailure> {
        let Some(indices) = &self.resources else {
            return Ok(Err(PluginError::NotFound(format!(
                "plugin {} has no resources",
                self.name
            ))));
        };
        self.bounded(async {
            let (mut store, instance) = self.instantiate(hooks).await?;
            let wasm = |e| self.classify(e, false);
            let guest = indices.load(&mut store, &instance).map_err(wasm)?;
            guest
                .call_read_resource(&mut store, ctx, uri)
                .await
                .map_err(wasm)
        })
        .await
    }

    /// Renders prompt `name` in a fresh instance.
    pub async fn get_prompt(
        &self,
        ctx: &CallContext,
        name: &str,
        arguments: &str,
        hooks: CallHooks,
    ) -> Result<Result<PromptOutcome, PluginError>, CallFailure> {
        let Some(indices) = &self.prompts else {
            return Ok(Err(PluginError::NotFound(format!(
                "plugin {} has no prompts",
                self.name
            ))));
        };
        self.bounded(async {
            let (mut store, instance) = self.instantiate(hooks).await?;
            let wasm = |e| self.classify(e, false);
            let guest = indices.load(&mut store, &instance).map_err(wasm)?;
            guest
                .call_get_prompt(&mut store, ctx, name, &arguments.to_owned())
                .await
                .map_err(wasm)
        })
        .await
    }
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
            && !matches!(
                serde_json::from_str(annotations),
                Ok(serde_json::Value::Object(_))
            )
        {
            return Err(format!(
                "tool {:?}: annotations are not a JSON object",
                tool.name
            ));
        }
    }
    if let Some(r) = catalog.resources.iter().find(|r| r.uri.is_empty()) {
        return Err(format!("resource {:?} has an empty URI", r.name));
    }
    if let Some(p) = catalog.prompts.iter().find(|p| p.name.is_empty()) {
        return Err(format!(
            "declares a prompt with an empty name (description {:?})",
            p.description
        ));
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
