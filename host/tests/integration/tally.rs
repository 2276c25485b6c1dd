//! Every request of a fault scenario accounted for: answered, failed or unanswered, per
//! second since the scenario began, printed as the table BENCHMARKS.md shows.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{modern_body, modern_request_from};

/// How long a client waits for an answer before it counts the request unanswered.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// What became of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// A 200 with a result that is not an error.
    Answered,
    /// An answer that says the call failed (a 503, a JSON-RPC error, `isError`).
    Failed,
    /// No answer within the client's timeout.
    Unanswered,
}

/// One request: when it was sent, what became of it, how long it took.
#[derive(Clone, Copy, Debug)]
pub struct Record {
    pub sent: Duration,
    pub fate: Fate,
    pub took: Duration,
}

/// The requests of one kind of call (e.g. "kv write"), recorded from several tasks.
#[derive(Clone)]
pub struct Tally {
    pub name: &'static str,
    start: Instant,
    records: Arc<Mutex<Vec<Record>>>,
}

impl Tally {
    pub fn new(name: &'static str, start: Instant) -> Tally {
        Tally { name, start, records: Arc::default() }
    }

    /// Records a request sent at `sent` (an `Instant`) with its fate.
    pub fn record(&self, sent: Instant, fate: Fate) {
        let record = Record { sent: sent - self.start, fate, took: sent.elapsed() };
        self.records.lock().expect("tally").push(record);
    }

    pub fn records(&self) -> Vec<Record> {
        self.records.lock().expect("tally").clone()
    }

    pub fn count(&self, fate: Fate) -> usize {
        self.records().iter().filter(|r| r.fate == fate).count()
    }

    /// The slowest request.
    pub fn slowest(&self) -> Duration {
        self.records().iter().map(|r| r.took).max().unwrap_or_default()
    }
}

/// One 2026-07-28 `tools/call` of `tool` at `url`, under the client timeout: its fate and
/// the JSON-RPC reply (`Null` when there was none).
pub async fn call(client: &reqwest::Client, url: &str, tool: &str, arguments: Value) -> (Fate, Value) {
    let body = modern_body(1, "tools/call", json!({ "name": tool, "arguments": arguments }));
    let sent = modern_request_from(client, url, &body).timeout(CLIENT_TIMEOUT).send();
    let Ok(response) = sent.await else { return (Fate::Unanswered, Value::Null) };
    let status = response.status();
    let Ok(body) = response.json::<Value>().await else { return (Fate::Unanswered, Value::Null) };
    let failed = status != 200 || body.get("error").is_some() || body["result"]["isError"] == true;
    (if failed { Fate::Failed } else { Fate::Answered }, body)
}

/// Prints, per second, each tally's answered / failed / unanswered requests.
pub fn print_table(title: &str, tallies: &[&Tally]) {
    let seconds =
        tallies.iter().flat_map(|t| t.records()).map(|r| r.sent.as_secs() as usize + 1).max().unwrap_or_default();
    println!(
        "\n{title}\nsecond | {}",
        tallies.iter().map(|t| format!("{} ok/failed/unanswered", t.name)).collect::<Vec<_>>().join(" | ")
    );
    for second in 0..seconds {
        let cells: Vec<String> = tallies
            .iter()
            .map(|t| {
                let during: Vec<Record> =
                    t.records().into_iter().filter(|r| r.sent.as_secs() as usize == second).collect();
                let n = |fate| during.iter().filter(|r| r.fate == fate).count();
                format!("{}/{}/{}", n(Fate::Answered), n(Fate::Failed), n(Fate::Unanswered))
            })
            .collect();
        println!("{second:>6} | {}", cells.join(" | "));
    }
    for tally in tallies {
        println!(
            "{}: {} answered, {} failed, {} unanswered; slowest {} ms",
            tally.name,
            tally.count(Fate::Answered),
            tally.count(Fate::Failed),
            tally.count(Fate::Unanswered),
            tally.slowest().as_millis()
        );
    }
}
