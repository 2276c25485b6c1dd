//! Resource use of a local process and of this machine, read from `/proc`.

use std::time::Instant;

/// Clock ticks per second of `/proc/*/stat` times (USER_HZ, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// The resident memory of process `pid` in bytes.
pub fn rss_bytes(pid: &str) -> Option<u64> {
    berth::resident_bytes_of(pid)
}

/// CPU seconds (user + system) process `pid` has used.
pub fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields start after its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / TICKS_PER_SEC)
}

/// CPU use of one process between samples, as a percentage of one core.
pub struct CpuMeter {
    pid: String,
    last: Option<(Instant, f64)>,
}

impl CpuMeter {
    pub fn new(pid: impl Into<String>) -> Self {
        let pid = pid.into();
        let last = cpu_secs(&pid).map(|secs| (Instant::now(), secs));
        Self { pid, last }
    }

    /// Percent of one core used since the previous call.
    pub fn sample(&mut self) -> Option<f64> {
        let now = Instant::now();
        let secs = cpu_secs(&self.pid)?;
        let percent = self.last.map(|(then, before)| {
            let wall = now.duration_since(then).as_secs_f64().max(1e-6);
            (secs - before) / wall * 100.0
        });
        self.last = Some((now, secs));
        percent
    }

    /// CPU seconds used so far.
    pub fn total(&self) -> Option<f64> {
        cpu_secs(&self.pid)
    }
}

/// This machine: cores, memory, kernel, CPU model.
pub fn machine() -> serde_json::Value {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let memory_kib: Option<u64> = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|s| s.trim().to_owned());
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
    });
    serde_json::json!({
        "cores": cores,
        "memory_gib": memory_kib.map(|k| (k as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0),
        "kernel": kernel,
        "cpu": cpu,
    })
}
