//! `faulty`: a test fixture that misbehaves on purpose. Never ship it in `plugins/`.
//!
//! - `faulty_ok` answers `ok` (proves the plugin still serves after a failure).
//! - `faulty_trap` panics, which aborts the instance with a wasm trap.
//! - `faulty_spin` loops forever; only the host's deadline stops it.
//! - `faulty_hog` allocates memory without end; only the host's cap stops it.
//! - `faulty_print` writes to stdout and stderr, which must reach the host's
//!   log and never a transport.

use berth_sdk::prelude::*;

struct Faulty;

const NO_ARGS: &str = r#"{"type":"object","properties":{}}"#;

impl Plugin for Faulty {
    fn tools() -> Vec<Tool> {
        vec![
            tool("faulty_ok", "Answers ok.", NO_ARGS),
            tool("faulty_trap", "Panics (a wasm trap).", NO_ARGS),
            tool("faulty_spin", "Loops forever.", NO_ARGS),
            tool("faulty_hog", "Allocates memory until stopped.", NO_ARGS),
            tool(
                "faulty_print",
                "Prints to stdout and stderr, then answers printed.",
                NO_ARGS,
            ),
        ]
    }

    fn call_tool(
        _ctx: CallContext,
        name: String,
        _arguments: String,
    ) -> Result<CallOutcome, Error> {
        match name.as_str() {
            "faulty_ok" => Ok(done(ToolResult::text("ok"))),
            "faulty_trap" => panic!("faulty_trap was called"),
            "faulty_spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "faulty_hog" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1024 * 1024]);
                    std::hint::black_box(&hoard);
                }
            }
            "faulty_print" => {
                println!("faulty plugin says hello on stdout");
                eprintln!("faulty plugin says hello on stderr");
                Ok(done(ToolResult::text("printed")))
            }
            _ => Err(unknown_tool(&name)),
        }
    }
}

berth_sdk::export_plugin!(Faulty);
