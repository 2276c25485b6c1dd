//! Running a plan: workers per connection, the ladder, chaos, and the
//! once-a-second collector that builds the timeline and prints progress.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::time::sleep_until;
use tokio_tungstenite::tungstenite::Message;

use super::conn::{self, HttpConn};
use super::plan::{MixEntry, Picker, Plan, Transport, legacy_call, modern_call};
use super::probe::{self, CpuMeter};
use super::schedule::Schedule;
use super::stats::{Counts, Outcome, Point, Recorder, Window};

/// How often a worker moves its counts into the shared window.
const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// How long after the run's end WebSocket workers close their connections, per connection
/// held (closing takes the generator some 30–50 µs each), and at most.
const CLOSE_GRACE_PER_CONNECTION: Duration = Duration::from_micros(100);
const CLOSE_GRACE_MAX: Duration = Duration::from_secs(1);

/// Everything a run measured.
pub struct Outcomes {
    pub total: Counts,
    pub steps: Vec<(usize, Counts)>,
    pub timeline: Vec<Point>,
    pub elapsed: Duration,
    pub unanswered: u64,
    pub peak_connections: usize,
    pub server_rss: Vec<u64>,
    pub server_cpu_secs: Option<f64>,
    pub client_cpu_secs: Option<f64>,
    pub reloads: Vec<f64>,
    pub storms: Vec<f64>,
}

/// What workers share.
struct Shared {
    plan: Plan,
    window: Window,
    connections: AtomicUsize,
    /// Incremented by each disconnect storm.
    storm: AtomicU64,
    /// When the run started: the origin of every connection's send times.
    start: Instant,
    /// When workers stop sending.
    end: Instant,
    /// The connection count of the current step (open loop: the rate is shared by this many).
    target: AtomicUsize,
    /// Requests sent and answers (or failures) recorded, for the exactly-once check.
    sent: AtomicU64,
    settled: AtomicU64,
    /// The longest the lag probe's 1 ms timer fired late since the last tick, in µs: how
    /// far behind the generator itself runs (its latencies include that lag).
    lag_max_us: AtomicU64,
}

/// A prepared request body with a slot for the id (WebSocket ids vary per call).
struct Template {
    tool: String,
    /// The body as sent over HTTP (id 1).
    fixed: Bytes,
    /// `{"id":` … the rest after the id.
    rest: String,
}

impl Template {
    fn new(entry: &MixEntry, legacy: bool) -> Self {
        let body = if legacy { legacy_call(entry, 1) } else { modern_call(entry, 1) };
        let text = String::from_utf8_lossy(&body).into_owned();
        let rest = text.strip_prefix("{\"id\":1").unwrap_or(&text).to_owned();
        Self { tool: entry.tool.clone(), fixed: body, rest }
    }

    fn with_id(&self, id: u64) -> String {
        format!("{{\"id\":{id}{}", self.rest)
    }
}

/// Runs `plan` to the end; prints a progress line each second to stderr.
pub async fn run(plan: Plan) -> Outcomes {
    let started = Instant::now();
    let shared = Arc::new(Shared {
        start: started,
        end: started + plan.duration(),
        plan: plan.clone(),
        window: Window::default(),
        connections: AtomicUsize::new(0),
        storm: AtomicU64::new(0),
        target: AtomicUsize::new(plan.ladder.first().copied().unwrap_or(1)),
        sent: AtomicU64::new(0),
        settled: AtomicU64::new(0),
        lag_max_us: AtomicU64::new(0),
    });
    let legacy = plan.transport == Transport::Legacy;
    let templates: Arc<Vec<Template>> = Arc::new(plan.mix.iter().map(|m| Template::new(m, legacy)).collect());
    let chaos = spawn_chaos(&shared, started);
    let collector = tokio::spawn(collect(shared.clone(), started));
    let probe = tokio::spawn(lag_probe(shared.clone()));

    let mut workers = tokio::task::JoinSet::new();
    let mut spawned = 0usize;
    for (step, &target) in plan.ladder.iter().enumerate() {
        let step_start = started + plan.step * step as u32;
        sleep_until(step_start.into()).await;
        shared.target.store(target, Ordering::Relaxed);
        let new = target.saturating_sub(spawned);
        for n in 0..new {
            if !plan.ramp.is_zero() {
                sleep_until((step_start + plan.ramp.mul_f64(n as f64 / new as f64)).into()).await;
            }
            let index = spawned;
            spawned += 1;
            let (shared, templates) = (shared.clone(), templates.clone());
            match plan.transport {
                Transport::Ws => workers.spawn(ws_worker(shared, templates, index)),
                _ => workers.spawn(http_worker(shared, templates, index, legacy)),
            };
        }
    }
    while workers.join_next().await.is_some() {}
    probe.abort();
    let elapsed = started.elapsed();
    let (reloads, storms) = chaos.await.unwrap_or_default();
    let mut outcomes = match collector.await {
        Ok(outcomes) => outcomes,
        Err(e) => panic!("the collector failed: {e}"),
    };
    // Late flushes from workers that ended after the collector's last tick (every worker
    // has ended by now, so nothing is left out: a run against a refused port counts its
    // connection errors).
    let rest = shared.window.take();
    outcomes.total.merge(&rest);
    if let Some((_, last_step)) = outcomes.steps.last_mut() {
        last_step.merge(&rest);
    }
    outcomes.elapsed = elapsed;
    outcomes.reloads = reloads;
    outcomes.storms = storms;
    outcomes.unanswered = shared.sent.load(Ordering::Relaxed).saturating_sub(shared.settled.load(Ordering::Relaxed));
    eprintln!();
    outcomes
}

/// Open loop: the gap between one connection's requests, so that all the
/// current step's connections together send at the plan's rate.
fn interval(shared: &Shared) -> Option<Duration> {
    let target = shared.target.load(Ordering::Relaxed).max(1);
    shared.plan.rate.map(|rate| Duration::from_secs_f64(target as f64 / rate))
}

/// The local address connection `index` binds to, if several are configured.
fn source(plan: &Plan, index: usize) -> Option<std::net::IpAddr> {
    (!plan.sources.is_empty()).then(|| plan.sources[index % plan.sources.len()])
}

/// Whether connection `index` drops in storm `storm`.
fn chosen(index: usize, storm: u64, fraction: f64) -> bool {
    let mix = (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ storm.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (mix >> 11) as f64 / (1u64 << 53) as f64 * 1.0 < fraction
}

/// One HTTP connection, one request at a time, until the end.
async fn http_worker(shared: Arc<Shared>, templates: Arc<Vec<Template>>, index: usize, legacy: bool) {
    let plan = &shared.plan;
    let mut recorder = Recorder::default();
    let mut picker = Picker::new(&plan.mix, index as u64);
    let mut schedule = Schedule::new(shared.start, index);
    let mut conn: Option<HttpConn> = None;
    let mut last_flush = Instant::now();
    let mut storm_seen = shared.storm.load(Ordering::Relaxed);
    while Instant::now() < shared.end {
        if conn.is_some() && plan.idle {
            sleep_until(shared.end.into()).await;
            break;
        }
        if conn.is_none() {
            match HttpConn::open(plan, source(plan, index), legacy).await {
                Ok(opened) => {
                    conn = Some(opened);
                    shared.connections.fetch_add(1, Ordering::Relaxed);
                }
                Err(failure) => {
                    recorder.record(&failure, 0);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            }
        }
        let Some(open) = conn.as_mut() else { continue };
        let intended = match schedule.due(interval(&shared)) {
            Some(at) => {
                sleep_until(at.into()).await;
                recorder.sent_late(micros_since(at));
                schedule.advance();
                at
            }
            None => Instant::now(),
        };
        let template = &templates[picker.pick()];
        recorder.sent();
        shared.sent.fetch_add(1, Ordering::Relaxed);
        let storm = shared.storm.load(Ordering::Relaxed);
        if storm != storm_seen {
            storm_seen = storm;
            if chosen(index, storm, plan.disconnect_fraction) {
                // Drop the connection with the request on the wire.
                let _ =
                    tokio::time::timeout(Duration::from_millis(1), open.call(&template.tool, template.fixed.clone()))
                        .await;
                conn = None;
                shared.connections.fetch_sub(1, Ordering::Relaxed);
                recorder.dropped(1);
                shared.settled.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        }
        let request = async {
            match plan.transport {
                Transport::Sessions => open.abandoned_session().await,
                _ => open.call(&template.tool, template.fixed.clone()).await,
            }
        };
        let outcome = tokio::time::timeout(plan.timeout, request).await.unwrap_or(Outcome::Timeout);
        recorder.record(&outcome, intended.elapsed().as_micros() as u64);
        shared.settled.fetch_add(1, Ordering::Relaxed);
        if matches!(outcome, Outcome::Connection(_) | Outcome::Timeout) {
            conn = None;
            shared.connections.fetch_sub(1, Ordering::Relaxed);
        }
        if last_flush.elapsed() >= FLUSH_EVERY {
            recorder.flush(&shared.window);
            last_flush = Instant::now();
        }
    }
    recorder.flush(&shared.window);
    if conn.is_some() {
        shared.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Microseconds from `since` to now (0 if `since` is still ahead).
fn micros_since(since: Instant) -> u64 {
    u64::try_from(Instant::now().saturating_duration_since(since).as_micros()).unwrap_or(u64::MAX)
}

/// The JSON-RPC id at the start of a berth reply (`{"id":N,...`), else by parsing.
fn reply_id(text: &str) -> Option<u64> {
    if let Some(rest) = text.strip_prefix("{\"id\":") {
        let digits: &str = &rest[..rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len())];
        if let Ok(id) = digits.parse() {
            return Some(id);
        }
    }
    serde_json::from_str::<serde_json::Value>(text).ok()?.get("id")?.as_u64()
}

/// One WebSocket connection with up to `in_flight` requests outstanding.
async fn ws_worker(shared: Arc<Shared>, templates: Arc<Vec<Template>>, index: usize) {
    let plan = &shared.plan;
    let mut recorder = Recorder::default();
    let mut picker = Picker::new(&plan.mix, index as u64);
    let mut schedule = Schedule::new(shared.start, index);
    let mut next_id: u64 = 1;
    let mut last_flush = Instant::now();
    let mut storm_seen = shared.storm.load(Ordering::Relaxed);
    let give_up = shared.end + plan.timeout;
    // Every worker closes at the same moment, after the calls of the run's last instant are
    // answered: 15,000 closes at once keep the generator busy for hundreds of ms, and calls
    // still in flight then would be read that late (measured: `close_wake_lag_ms`).
    let peak = plan.ladder.iter().copied().max().unwrap_or(1);
    let grace = CLOSE_GRACE_PER_CONNECTION.saturating_mul(u32::try_from(peak).unwrap_or(u32::MAX)).min(CLOSE_GRACE_MAX);
    let close_at = (shared.end + grace).min(give_up);
    let mut woke_to_close = false;
    'connection: while Instant::now() < shared.end {
        let ws = match conn::open_ws(plan, source(plan, index)).await {
            Ok(ws) => ws,
            Err(failure) => {
                recorder.record(&failure, 0);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        shared.connections.fetch_add(1, Ordering::Relaxed);
        let (mut sink, mut stream) = ws.split();
        let mut pending: HashMap<u64, Instant> = HashMap::new();
        let mut keepalive = tokio::time::interval(Duration::from_secs(5));
        loop {
            let now = Instant::now();
            if now >= close_at && !woke_to_close {
                woke_to_close = true;
                recorder.woke_to_close(micros_since(close_at));
            }
            if now >= give_up || (now >= close_at && pending.is_empty()) {
                break;
            }
            let storm = shared.storm.load(Ordering::Relaxed);
            if storm != storm_seen {
                storm_seen = storm;
                // A storm cuts calls mid-way; churn closes connections between calls.
                if chosen(index, storm, plan.disconnect_fraction) && plan.churn == pending.is_empty() {
                    recorder.dropped(pending.len() as u64);
                    shared.settled.fetch_add(pending.len() as u64, Ordering::Relaxed);
                    shared.connections.fetch_sub(1, Ordering::Relaxed);
                    continue 'connection;
                }
            }
            let gap = interval(&shared);
            // Closed loop sends at once: a timer, even one already due, would
            // wait for the next millisecond tick of tokio's timer wheel.
            let send_at = schedule.due(gap);
            // A call due at or after the end is not sent, so no worker needs waking at the end.
            let can_send = !plan.idle && pending.len() < plan.in_flight && send_at.unwrap_or(now) < shared.end;
            tokio::select! {
                biased;
                frame = stream.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(start) = reply_id(&text).and_then(|id| pending.remove(&id)) {
                            recorder.record(&conn::classify(text.as_bytes()), start.elapsed().as_micros() as u64);
                            shared.settled.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    // A close frame ends the connection as an error or its end does: what is
                    // still pending was not answered on it, and the worker connects again.
                    Some(Ok(Message::Close(_)) | Err(_)) | None => {
                        for _ in pending.drain() {
                            recorder.record(&Outcome::Connection("closed".into()), 0);
                            shared.settled.fetch_add(1, Ordering::Relaxed);
                        }
                        shared.connections.fetch_sub(1, Ordering::Relaxed);
                        continue 'connection;
                    }
                    Some(Ok(_)) => {}
                },
                () = async {
                    if let Some(at) = send_at {
                        sleep_until(at.into()).await;
                    }
                }, if can_send => {
                    let send_at = send_at.unwrap_or_else(Instant::now);
                    if gap.is_some() {
                        recorder.sent_late(micros_since(send_at));
                    }
                    // Closed loop: fill every free slot, then flush once; open loop: one on schedule.
                    let burst = if gap.is_some() { 1 } else { plan.in_flight - pending.len() };
                    let mut failed = false;
                    for _ in 0..burst {
                        let template = &templates[picker.pick()];
                        let id = next_id;
                        next_id += 1;
                        recorder.sent();
                        shared.sent.fetch_add(1, Ordering::Relaxed);
                        pending.insert(id, send_at);
                        if sink.feed(Message::Text(template.with_id(id).into())).await.is_err() {
                            failed = true;
                            break;
                        }
                    }
                    // The connection can take no more (the server closed it): what is pending
                    // was not answered on it, and the worker connects again.
                    if failed || sink.flush().await.is_err() {
                        for _ in pending.drain() {
                            recorder.record(&Outcome::Connection("closed".into()), 0);
                            shared.settled.fetch_add(1, Ordering::Relaxed);
                        }
                        shared.connections.fetch_sub(1, Ordering::Relaxed);
                        continue 'connection;
                    }
                    schedule.advance();
                }
                _ = keepalive.tick() => {
                    // Flushes the pongs tungstenite queued for the server's pings.
                    let _ = sink.flush().await;
                }
                () = sleep_until((if now < close_at { close_at } else { give_up }).into()) => {}
            }
            if last_flush.elapsed() >= FLUSH_EVERY {
                recorder.flush(&shared.window);
                last_flush = Instant::now();
            }
        }
        for _ in pending.drain() {
            recorder.record(&Outcome::Timeout, plan.timeout.as_micros() as u64);
            shared.settled.fetch_add(1, Ordering::Relaxed);
        }
        // Close as a well-behaved client does: send the close frame, then read until the
        // server's close and the end of the stream. Dropping the socket with the server's
        // close frame unread makes the kernel reset the connection instead of closing it.
        let _ = sink.close().await;
        let _ = tokio::time::timeout(CLOSE_GRACE_MAX, async { while stream.next().await.is_some() {} }).await;
        shared.connections.fetch_sub(1, Ordering::Relaxed);
        break;
    }
    recorder.flush(&shared.window);
}

/// Disconnect storms and hot reloads on their schedules; when each happened.
fn spawn_chaos(shared: &Arc<Shared>, started: Instant) -> tokio::task::JoinHandle<(Vec<f64>, Vec<f64>)> {
    let shared = shared.clone();
    tokio::spawn(async move {
        let plan = &shared.plan;
        let (mut reloads, mut storms) = (Vec::new(), Vec::new());
        let mut next_storm = plan.disconnect_every.map(|every| started + every);
        let mut next_reload = plan.reload_every.map(|every| started + every);
        loop {
            let due = [next_storm, next_reload].into_iter().flatten().min();
            let Some(due) = due.filter(|due| *due < shared.end) else { break };
            sleep_until(due.into()).await;
            if next_storm == Some(due) {
                shared.storm.fetch_add(1, Ordering::Relaxed);
                storms.push(started.elapsed().as_secs_f64());
                next_storm = plan.disconnect_every.map(|every| due + every);
            }
            if next_reload == Some(due) {
                if let Some(file) = &plan.reload_file {
                    match rewrite(file) {
                        Ok(()) => reloads.push(started.elapsed().as_secs_f64()),
                        Err(e) => eprintln!("\nberth-load: cannot rewrite {}: {e}", file.display()),
                    }
                }
                next_reload = plan.reload_every.map(|every| due + every);
            }
        }
        (reloads, storms)
    })
}

/// Replaces `file` with a copy of itself (write beside it, then rename), as a
/// deploy would: the server sees a new version and hot-reloads it.
fn rewrite(file: &std::path::Path) -> std::io::Result<()> {
    let bytes = std::fs::read(file)?;
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("plugin.wasm");
    let temporary = file.with_file_name(format!(".{name}.berth-load"));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, file)
}

/// Wakes every millisecond until the run ends and records how late each wake-up came: the
/// generator's own scheduling lag (a busy runtime or a starved process fires it late).
async fn lag_probe(shared: Arc<Shared>) {
    let last = shared.end + shared.plan.timeout;
    while Instant::now() < last {
        let due = Instant::now() + Duration::from_millis(1);
        sleep_until(due.into()).await;
        let late = micros_since(due);
        shared.lag_max_us.fetch_max(late, Ordering::Relaxed);
    }
}

/// Once a second: take the window, add a timeline point, print progress.
async fn collect(shared: Arc<Shared>, started: Instant) -> Outcomes {
    let plan = &shared.plan;
    let pid = plan.server_pid.map(|pid| pid.to_string());
    let mut server_cpu = pid.as_deref().map(CpuMeter::new);
    let mut client_cpu = CpuMeter::new("self");
    let mut outcomes = Outcomes {
        total: Counts::default(),
        steps: plan.ladder.iter().map(|c| (*c, Counts::default())).collect(),
        timeline: Vec::new(),
        elapsed: Duration::ZERO,
        unanswered: 0,
        peak_connections: 0,
        server_rss: Vec::new(),
        server_cpu_secs: None,
        client_cpu_secs: None,
        reloads: Vec::new(),
        storms: Vec::new(),
    };
    if let Some(rss) = pid.as_deref().and_then(probe::rss_bytes) {
        outcomes.server_rss.push(rss);
    }
    let server_cpu_start = server_cpu.as_ref().and_then(CpuMeter::total);
    let client_cpu_start = client_cpu.total();
    let last = shared.end + plan.timeout + Duration::from_secs(1);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    loop {
        tick.tick().await;
        let now = Instant::now();
        let counts = shared.window.take();
        let second = now.duration_since(started).as_secs_f64();
        let step = ((second / plan.step.as_secs_f64().max(1e-9)) as usize).min(plan.ladder.len().saturating_sub(1));
        let connections = shared.connections.load(Ordering::Relaxed);
        outcomes.peak_connections = outcomes.peak_connections.max(connections);
        let rss = pid.as_deref().and_then(probe::rss_bytes);
        if let Some(rss) = rss {
            outcomes.server_rss.push(rss);
        }
        let point = Point {
            second,
            step,
            connections,
            server_rss: rss,
            server_cpu: server_cpu.as_mut().and_then(CpuMeter::sample),
            client_cpu: client_cpu.sample(),
            client_lag_ms: shared.lag_max_us.swap(0, Ordering::Relaxed) as f64 / 1000.0,
            counts,
        };
        outcomes.total.merge(&point.counts);
        if let Some((_, step_counts)) = outcomes.steps.get_mut(step) {
            step_counts.merge(&point.counts);
        }
        progress(&point, plan, &outcomes.total);
        let finished = now >= shared.end && shared.connections.load(Ordering::Relaxed) == 0;
        outcomes.timeline.push(point);
        if finished || now >= last {
            break;
        }
    }
    outcomes.server_cpu_secs =
        server_cpu.as_ref().and_then(CpuMeter::total).zip(server_cpu_start).map(|(end, start)| end - start);
    outcomes.client_cpu_secs = client_cpu.total().zip(client_cpu_start).map(|(end, start)| end - start);
    outcomes
}

fn progress(point: &Point, plan: &Plan, total: &Counts) {
    let ms = |q: f64| point.counts.latency.value_at_quantile(q) as f64 / 1000.0;
    let rss = point.server_rss.map(|b| format!(" | server {:.0} MB", b as f64 / 1e6)).unwrap_or_default();
    let cpu = point.server_cpu.map(|c| format!(" {c:.0}% cpu")).unwrap_or_default();
    eprint!(
        "\r[{:>5.0}s] step {}/{} conns {:>6} | {:>8} answers/s | p50 {:>7.2} ms p99 {:>7.2} ms | errors {}{rss}{cpu}   ",
        point.second,
        point.step + 1,
        plan.ladder.len(),
        point.connections,
        point.counts.answered,
        ms(0.5),
        ms(0.99),
        total.error_total(),
    );
    let _ = std::io::stderr().flush();
}
