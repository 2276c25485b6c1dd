//! The host side of the WIT contract: the one `bindgen!` in berth.
//!
//! Exports are generated `async` because every call runs with epoch-based
//! yielding; the `host` import is plain and synchronous, since logging,
//! progress and the cancellation check never block.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    exports: { default: async },
});

pub use self::berth::plugin::types;
pub use self::exports::berth::plugin::{completion, prompts, resources, tasks, tools};
