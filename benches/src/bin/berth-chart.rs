//! berth-chart: the chart of a `make compare` run, answers per second per cell (transport and
//! connections) with the floor and the peer beside berth, as SVG.
//!
//!     berth-chart .build/compare/compare.json .build/compare/compare.svg

use std::path::PathBuf;
use std::process::ExitCode;

use berth_benches::charts::{self, Bars};
use clap::Parser;
use plotters::style::RGBColor;
use serde_json::Value;

/// Draws the chart of a `benches/compare.sh` run from its `compare.json`.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The `compare.json` that benches/compare_table.py writes.
    input: PathBuf,
    /// Where to write the SVG.
    output: PathBuf,
}

/// The servers in the order they are drawn, with their colours.
const SERVERS: [(&str, RGBColor); 10] = [
    ("floor", RGBColor(150, 150, 150)),
    ("peer", RGBColor(230, 140, 40)),
    ("wasm-fresh", RGBColor(110, 110, 150)),
    ("wasm-warm", RGBColor(110, 150, 130)),
    ("base-fresh", RGBColor(150, 190, 230)),
    ("berth-fresh", RGBColor(51, 102, 204)),
    ("base-reuse", RGBColor(140, 210, 170)),
    ("berth-reuse", RGBColor(34, 150, 90)),
    ("base-spares", RGBColor(200, 170, 220)),
    ("berth-spares", RGBColor(120, 70, 160)),
];

fn main() -> ExitCode {
    let args = Args::parse();
    match draw(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth-chart: {e}");
            ExitCode::FAILURE
        }
    }
}

fn draw(args: &Args) -> Result<(), String> {
    let text =
        std::fs::read_to_string(&args.input).map_err(|e| format!("cannot read {}: {e}", args.input.display()))?;
    let compare: Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", args.input.display()))?;
    let rows = compare["rows"].as_array().ok_or_else(|| format!("{} has no rows", args.input.display()))?;
    let cell =
        |row: &Value| (row["transport"].as_str().unwrap_or("?").to_owned(), row["connections"].as_u64().unwrap_or(0));
    let mut groups: Vec<(String, u64)> = Vec::new();
    for row in rows {
        if !groups.contains(&cell(row)) {
            groups.push(cell(row));
        }
    }
    let transport_order = |t: &str| ["http", "legacy", "ws"].iter().position(|o| *o == t).unwrap_or(9);
    groups.sort_by_key(|(transport, connections)| (*connections, transport_order(transport)));
    let series: Vec<Bars<'_>> = SERVERS
        .iter()
        .filter(|(server, _)| rows.iter().any(|row| row["server"] == *server))
        .map(|(server, colour)| Bars {
            name: server,
            colour: *colour,
            values: groups
                .iter()
                .map(|group| {
                    rows.iter()
                        .find(|row| row["server"] == *server && cell(row) == *group)
                        .and_then(|row| row["answers_per_sec"].as_f64())
                })
                .collect(),
        })
        .collect();
    let names: Vec<String> =
        groups.iter().map(|(transport, connections)| format!("{transport} ×{connections}")).collect();
    let title = "tools/call echo: answers per second (median of rounds), by transport × connections";
    let svg = charts::bar_chart(title, "answers/s", &names, &series).map_err(|e| e.to_string())?;
    std::fs::write(&args.output, svg).map_err(|e| format!("cannot write {}: {e}", args.output.display()))
}
