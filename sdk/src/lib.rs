//! The Rust SDK for berth plugins.
//!
//! A berth plugin is a WebAssembly component that implements the WIT contract
//! in the repository's `wit/` folder. This crate carries the generated bindings
//! and the few helpers that turn a tool into a handful of lines:
//!
//! ```ignore
//! use berth_sdk::prelude::*;
//!
//! struct Echo;
//!
//! impl Plugin for Echo {
//!     fn tools() -> Vec<Tool> {
//!         vec![tool("echo", "Returns its input", r#"{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}"#)]
//!     }
//!     fn call_tool(_ctx: CallContext, name: String, arguments: String) -> Result<CallOutcome, Error> {
//!         #[derive(serde::Deserialize)]
//!         struct Args { text: String }
//!         match name.as_str() {
//!             "echo" => Ok(done(ToolResult::text(parse_args::<Args>(&arguments)?.text))),
//!             _ => Err(unknown_tool(&name)),
//!         }
//!     }
//! }
//!
//! berth_sdk::export_plugin!(Echo);
//! ```
//!
//! Resources, prompts and tasks are optional: the [`Plugin`] trait gives them
//! empty defaults, so a tools-only plugin implements two functions.

mod content;
mod host;

pub use content::*;
pub use host::*;
/// The `wit-bindgen` this SDK was built with, for plugins that generate more bindings.
pub use wit_bindgen;

/// The bindings `wit-bindgen` generates for the `plugin` world.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_world",
        default_bindings_module: "berth_sdk::bindings",
    });
}

pub use bindings::berth::plugin::types::{
    Blob, CallContext, CallOutcome, Completion, CompletionRef, CompletionRequest, Content, Error, InputRequest,
    InputRequired, ListKind, LogLevel, Prompt, PromptArgument, PromptMessage, PromptOutcome, PromptResult, Resource,
    ResourceBody, ResourceContents, ResourceLink, ResourceTemplate, Role, Tool, ToolResult,
};
pub use bindings::exports::berth::plugin::tasks::TaskSupport;

/// What a plugin implements: its tools and, optionally, resources and prompts.
///
/// Every `list` function is called once when berth loads the plugin; the
/// answers are cached by the host, so they should not depend on time or
/// state. The other functions run once per client request, each in a fresh
/// instance unless the operator opted into instance reuse.
pub trait Plugin {
    /// The tools this plugin offers.
    fn tools() -> Vec<Tool>;

    /// Runs tool `name`; `arguments` is a JSON object as text.
    fn call_tool(ctx: CallContext, name: String, arguments: String) -> Result<CallOutcome, Error>;

    /// The tools that can run as tasks (MCP Tasks extension), with their
    /// support; tools not listed never do (none by default).
    fn task_tools() -> Vec<(String, TaskSupport)> {
        Vec::new()
    }

    /// Whether this call of tool `name` should run as a task, asked when the
    /// client can follow tasks and the tool can be one (yes by default).
    /// Answer no for a call that finishes at once, or to ask the client
    /// questions first (`input_required`) and become a task on the next round.
    fn run_as_task(_ctx: CallContext, _name: String, _arguments: String) -> bool {
        true
    }

    /// Resources with fixed URIs (none by default).
    fn resources() -> Vec<Resource> {
        Vec::new()
    }

    /// Resource templates (none by default).
    fn resource_templates() -> Vec<ResourceTemplate> {
        Vec::new()
    }

    /// Reads one resource (not found by default).
    fn read_resource(_ctx: CallContext, uri: String) -> Result<Vec<ResourceContents>, Error> {
        Err(Error::NotFound(format!("no resource {uri}")))
    }

    /// The prompts this plugin offers (none by default).
    fn prompts() -> Vec<Prompt> {
        Vec::new()
    }

    /// Renders one prompt (not found by default).
    fn get_prompt(_ctx: CallContext, name: String, _arguments: String) -> Result<PromptOutcome, Error> {
        Err(Error::NotFound(format!("no prompt {name}")))
    }

    /// Suggests argument values (no suggestions by default).
    fn complete(_ctx: CallContext, _request: CompletionRequest) -> Result<Completion, Error> {
        Ok(Completion { values: Vec::new(), total: None, has_more: false })
    }
}

/// Exports a type implementing [`Plugin`] as the component's `plugin` world.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[doc(hidden)]
        struct __BerthExports;

        impl $crate::bindings::exports::berth::plugin::tools::Guest for __BerthExports {
            fn list_tools() -> ::std::vec::Vec<$crate::Tool> {
                <$plugin as $crate::Plugin>::tools()
            }
            fn call_tool(
                ctx: $crate::CallContext,
                name: ::std::string::String,
                arguments: ::std::string::String,
            ) -> ::std::result::Result<$crate::CallOutcome, $crate::Error> {
                <$plugin as $crate::Plugin>::call_tool(ctx, name, arguments)
            }
        }

        impl $crate::bindings::exports::berth::plugin::tasks::Guest for __BerthExports {
            fn task_tools() -> ::std::vec::Vec<(::std::string::String, $crate::TaskSupport)> {
                <$plugin as $crate::Plugin>::task_tools()
            }
            fn run_as_task(
                ctx: $crate::CallContext,
                name: ::std::string::String,
                arguments: ::std::string::String,
            ) -> bool {
                <$plugin as $crate::Plugin>::run_as_task(ctx, name, arguments)
            }
        }

        impl $crate::bindings::exports::berth::plugin::resources::Guest for __BerthExports {
            fn list_resources() -> ::std::vec::Vec<$crate::Resource> {
                <$plugin as $crate::Plugin>::resources()
            }
            fn list_templates() -> ::std::vec::Vec<$crate::ResourceTemplate> {
                <$plugin as $crate::Plugin>::resource_templates()
            }
            fn read_resource(
                ctx: $crate::CallContext,
                uri: ::std::string::String,
            ) -> ::std::result::Result<::std::vec::Vec<$crate::ResourceContents>, $crate::Error> {
                <$plugin as $crate::Plugin>::read_resource(ctx, uri)
            }
        }

        impl $crate::bindings::exports::berth::plugin::prompts::Guest for __BerthExports {
            fn list_prompts() -> ::std::vec::Vec<$crate::Prompt> {
                <$plugin as $crate::Plugin>::prompts()
            }
            fn get_prompt(
                ctx: $crate::CallContext,
                name: ::std::string::String,
                arguments: ::std::string::String,
            ) -> ::std::result::Result<$crate::PromptOutcome, $crate::Error> {
                <$plugin as $crate::Plugin>::get_prompt(ctx, name, arguments)
            }
        }

        impl $crate::bindings::exports::berth::plugin::completion::Guest for __BerthExports {
            fn complete(
                ctx: $crate::CallContext,
                request: $crate::CompletionRequest,
            ) -> ::std::result::Result<$crate::Completion, $crate::Error> {
                <$plugin as $crate::Plugin>::complete(ctx, request)
            }
        }

        $crate::bindings::__export_plugin_world!(__BerthExports with_types_in $crate::bindings);
    };
}

/// The names a plugin usually needs, for `use berth_sdk::prelude::*`.
pub mod prelude {
    pub use crate::{
        CallContext, CallOutcome, Completion, CompletionRef, CompletionRequest, Content, Error, InputRequest,
        InputRequired, KvError, ListKind, LogLevel, Plugin, Prompt, PromptArgument, PromptMessage, PromptOutcome,
        PromptResult, Resource, ResourceBody, ResourceContents, ResourceTemplate, Role, TaskSupport, Tool, ToolResult,
        ask, cancelled, client_supports, done, input_required, input_response, kv_delete, kv_get, kv_keys, kv_set,
        list_changed, log, parse_args, progress, prompt, prompt_argument, resource_updated, text, tool, unknown_tool,
    };
}
