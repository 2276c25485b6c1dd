//! The host side of the WIT contract: the one `bindgen!` in berth.
//!
//! Exports are generated `async` because every call runs with epoch-based
//! yielding; the `host` import is plain and synchronous, since logging,
//! progress and the cancellation check never block. The `kv` import is async
//! (clustered, it is a Redis round trip) and trappable: when Redis cannot be
//! reached the call fails with that reason, which the WIT's errors cannot say.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    imports: { "berth:plugin/kv": async | trappable },
    exports: { default: async },
});

pub(crate) use self::berth::plugin::types;
pub(crate) use self::exports::berth::plugin::{completion, prompts, resources, tasks, tools};
