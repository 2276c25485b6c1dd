//! A loaded plugin: its catalog, the names clients see, and thin calls into
//! its exports, each run by the instance pool.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasmtime::component::InstancePre;

use super::bindings::tasks::TaskSupport;
use super::bindings::types::{
    CallContext, CallOutcome, Completion, CompletionRef, CompletionRequest, Content, Error as PluginError,
    PromptOutcome, ResourceBody, ResourceContents, ToolResult,
};
use super::bindings::{completion, prompts, resources, tasks, tools};
use super::catalog::{Catalog, Exposed};
use super::engine::Runtime;
use super::failure::CallFailure;
use super::host::{CallHooks, CallState};
use super::pool::{InstancePool, PoolStats};
use super::sandbox::Sandbox;
use super::schema::ToolSchemas;
use super::settings::PluginSettings;
use super::stats::ToolStats;
use crate::error::{Error, Result};

/// The export indices of each interface the component has, found once so a
/// call does no name lookups.
#[derive(Clone)]
struct Exports {
    tools: Option<tools::GuestIndices>,
    tasks: Option<tasks::GuestIndices>,
    resources: Option<resources::GuestIndices>,
    prompts: Option<prompts::GuestIndices>,
    completion: Option<completion::GuestIndices>,
}

impl Exports {
    fn of(pre: &InstancePre<CallState>) -> Self {
        Self {
            tools: tools::GuestIndices::new(pre).ok(),
            tasks: tasks::GuestIndices::new(pre).ok(),
            resources: resources::GuestIndices::new(pre).ok(),
            prompts: prompts::GuestIndices::new(pre).ok(),
            completion: completion::GuestIndices::new(pre).ok(),
        }
    }
}

/// What berth keeps per exposed tool: its counters and its compiled schemas.
pub(crate) struct ExposedTool {
    /// The name clients call it by (a label of `/metrics`, kept to be shared, not copied).
    pub(crate) name: Arc<str>,
    /// Calls and latency; shared with the versions a re-read catalog makes.
    pub(crate) stats: Arc<ToolStats>,
    /// Input and output schemas (empty when the plugin validates itself).
    pub(crate) schemas: ToolSchemas,
    /// Whether the tool can run as a task.
    pub(crate) task_support: TaskSupport,
}

/// A plugin ready to serve calls.
pub(crate) struct Plugin {
    /// The plugin's name: its file name without `.wasm`.
    pub(crate) name: Arc<str>,
    /// The file it was loaded from.
    pub(crate) path: PathBuf,
    /// What it offers, as clients see it (prefix applied, skipped names removed).
    pub(crate) catalog: Catalog,
    /// Whether the compiled artifact came from the cache.
    pub(crate) from_cache: bool,
    /// Shared with the versions of this plugin a re-read catalog makes, so
    /// warm instances, permits and counters carry over.
    pool: Arc<InstancePool>,
    exports: Exports,
    /// Exposed tool and prompt names → the names the plugin knows them by, where they differ.
    originals: HashMap<String, String>,
    /// Each exposed tool's counters and schemas, by exposed name.
    tools: BTreeMap<String, ExposedTool>,
}

impl Plugin {
    /// Loads, compiles (or reads from cache) and catalogs the component at `path`.
    pub(crate) async fn load(runtime: &Runtime, path: &Path, settings: PluginSettings) -> Result<Arc<Plugin>> {
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
        let exports = Exports::of(&pre);
        if exports.tools.is_none() && exports.resources.is_none() && exports.prompts.is_none() {
            return Err(fail(
                "exports none of berth:plugin/tools@0.1.0, resources@0.1.0 or prompts@0.1.0; build it against berth's wit/ world".into(),
            ));
        }
        let sandbox = Sandbox::new(name.clone(), Arc::new(settings), runtime.clone(), pre);
        let pool = Arc::new(InstancePool::new(sandbox));
        let Exposed { catalog, originals } = read_catalog(&pool, &exports).await.map_err(fail)?;
        let tools = exposed_tools(&catalog, pool.sandbox().settings.validate, None).map_err(fail)?;
        pool.refill();
        Ok(Arc::new(Plugin { name, path: path.to_owned(), catalog, from_cache, pool, exports, originals, tools }))
    }

    /// The same plugin with its catalog read again (after it announced a
    /// change); tools that remain keep their counters.
    pub(crate) async fn recatalog(&self) -> Result<Arc<Plugin>> {
        let fail = |message: String| Error::Plugin { path: self.path.clone(), message };
        let Exposed { catalog, originals } = read_catalog(&self.pool, &self.exports).await.map_err(fail)?;
        let tools = exposed_tools(&catalog, self.settings().validate, Some(&self.tools)).map_err(fail)?;
        Ok(Arc::new(Plugin {
            name: self.name.clone(),
            path: self.path.clone(),
            catalog,
            from_cache: self.from_cache,
            pool: self.pool.clone(),
            exports: self.exports.clone(),
            originals,
            tools,
        }))
    }

    /// What the operator decided for this plugin.
    pub(crate) fn settings(&self) -> &PluginSettings {
        &self.pool.sandbox().settings
    }

    /// Counters of this plugin's instance use.
    pub(crate) fn stats(&self) -> &PoolStats {
        self.pool.stats()
    }

    /// Calls and latency per exposed tool.
    pub(crate) fn tool_stats(&self) -> impl Iterator<Item = (&String, &ToolStats)> {
        self.tools.iter().map(|(name, tool)| (name, &*tool.stats))
    }

    /// The counters and schemas of exposed tool `name`.
    pub(crate) fn tool(&self, name: &str) -> Option<&ExposedTool> {
        self.tools.get(name)
    }

    /// The plugin's own name for exposed tool or prompt `name`.
    fn original<'a>(&'a self, name: &'a str) -> &'a str {
        self.originals.get(name).map_or(name, String::as_str)
    }

    /// Calls exposed tool `name`.
    pub(crate) async fn call_tool(
        &self,
        ctx: &CallContext,
        name: &str,
        arguments: &str,
        hooks: CallHooks,
    ) -> Result<Result<CallOutcome, PluginError>, CallFailure> {
        let Some(indices) = &self.exports.tools else {
            return Ok(Err(PluginError::NotFound(format!("plugin {} has no tools", self.name))));
        };
        let original = self.original(name);
        let outcome = self
            .pool
            .run(hooks, async |store, instance| {
                let guest = match &store.data().tools {
                    Some(guest) => guest.clone(),
                    None => {
                        let guest = indices.load(&mut *store, instance)?;
                        store.data_mut().tools = Some(guest.clone());
                        guest
                    }
                };
                // The bindings take the WIT `json` alias as `&String`.
                guest.call_call_tool(store, ctx, original, &arguments.to_owned()).await
            })
            .await;
        if let Ok(Ok(CallOutcome::Complete(result))) = &outcome {
            let limit = self.settings().max_output_bytes;
            let size = result_size(result);
            if size > limit {
                return Err(CallFailure::Output { plugin: self.name.clone(), size, limit });
            }
        }
        outcome
    }

    /// Asks the plugin whether this call of exposed tool `name` should run as a task.
    pub(crate) async fn run_as_task(
        &self,
        ctx: &CallContext,
        name: &str,
        arguments: &str,
        hooks: CallHooks,
    ) -> Result<bool, CallFailure> {
        let Some(indices) = &self.exports.tasks else { return Ok(false) };
        let original = self.original(name);
        self.pool
            .run(hooks, async |store, instance| {
                let guest = indices.load(&mut *store, instance)?;
                guest.call_run_as_task(store, ctx, original, &arguments.to_owned()).await
            })
            .await
    }

    /// Reads resource `uri`.
    pub(crate) async fn read_resource(
        &self,
        ctx: &CallContext,
        uri: &str,
        hooks: CallHooks,
    ) -> Result<Result<Vec<ResourceContents>, PluginError>, CallFailure> {
        let Some(indices) = &self.exports.resources else {
            return Ok(Err(PluginError::NotFound(format!("plugin {} has no resources", self.name))));
        };
        self.pool
            .run(hooks, async |store, instance| {
                let guest = indices.load(&mut *store, instance)?;
                guest.call_read_resource(store, ctx, uri).await
            })
            .await
    }

    /// Renders exposed prompt `name`.
    pub(crate) async fn get_prompt(
        &self,
        ctx: &CallContext,
        name: &str,
        arguments: &str,
        hooks: CallHooks,
    ) -> Result<Result<PromptOutcome, PluginError>, CallFailure> {
        let Some(indices) = &self.exports.prompts else {
            return Ok(Err(PluginError::NotFound(format!("plugin {} has no prompts", self.name))));
        };
        let original = self.original(name);
        self.pool
            .run(hooks, async |store, instance| {
                let guest = indices.load(&mut *store, instance)?;
                guest.call_get_prompt(store, ctx, original, &arguments.to_owned()).await
            })
            .await
    }

    /// Asks the plugin for argument suggestions (none when it does not export completion).
    pub(crate) async fn complete(
        &self,
        ctx: &CallContext,
        request: &CompletionRequest,
        hooks: CallHooks,
    ) -> Result<Result<Completion, PluginError>, CallFailure> {
        let Some(indices) = &self.exports.completion else {
            return Ok(Ok(Completion { values: Vec::new(), total: None, has_more: false }));
        };
        let mut request = request.clone();
        if let CompletionRef::Prompt(name) = &mut request.reference {
            *name = self.original(name).to_owned();
        }
        self.pool
            .run(hooks, async |store, instance| {
                let guest = indices.load(&mut *store, instance)?;
                guest.call_complete(store, ctx, &request).await
            })
            .await
    }
}

/// Reads, checks and exposes the catalog on a fresh instance of its own
/// (outside the pool's permits: it runs at load time, before any call).
async fn read_catalog(pool: &InstancePool, exports: &Exports) -> Result<Exposed, String> {
    let sandbox = pool.sandbox();
    let catalog = sandbox
        .bounded(None, async {
            let (mut store, instance) = sandbox.instantiate(CallHooks::default()).await?;
            let mut catalog = Catalog::default();
            let read = async {
                if let Some(indices) = &exports.tools {
                    let guest = indices.load(&mut store, &instance)?;
                    catalog.tools = guest.call_list_tools(&mut store).await?;
                }
                if let Some(indices) = &exports.resources {
                    let guest = indices.load(&mut store, &instance)?;
                    catalog.resources = guest.call_list_resources(&mut store).await?;
                    catalog.templates = guest.call_list_templates(&mut store).await?;
                }
                if let Some(indices) = &exports.prompts {
                    let guest = indices.load(&mut store, &instance)?;
                    catalog.prompts = guest.call_list_prompts(&mut store).await?;
                }
                if let Some(indices) = &exports.tasks {
                    let guest = indices.load(&mut store, &instance)?;
                    catalog.task_tools = guest.call_task_tools(&mut store).await?.into_iter().collect();
                }
                wasmtime::Result::<()>::Ok(())
            };
            match read.await {
                Ok(()) => Ok(catalog),
                Err(error) => Err(sandbox.classify(error, &store, false)),
            }
        })
        .await
        .map_err(|e| format!("listing its catalog failed: {e}"))?;
    catalog.validate()?;
    Ok(catalog.expose(&sandbox.settings))
}

/// Counters and compiled schemas for each tool of `catalog`; counters carry
/// over from `previous` for tools that remain. A schema that does not compile
/// refuses the plugin, naming the tool.
fn exposed_tools(
    catalog: &Catalog,
    validate: bool,
    previous: Option<&BTreeMap<String, ExposedTool>>,
) -> Result<BTreeMap<String, ExposedTool>, String> {
    let mut tools = BTreeMap::new();
    for tool in &catalog.tools {
        let schemas = if validate {
            ToolSchemas::compile(&tool.input_schema, tool.output_schema.as_deref())
                .map_err(|e| format!("tool {:?}: {e}", tool.name))?
        } else {
            ToolSchemas::default()
        };
        let stats = previous.and_then(|p| p.get(&tool.name)).map(|t| t.stats.clone()).unwrap_or_default();
        let task_support = catalog.task_support(&tool.name);
        tools.insert(tool.name.clone(), ExposedTool { name: tool.name.as_str().into(), stats, schemas, task_support });
    }
    Ok(tools)
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
