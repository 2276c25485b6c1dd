//! Pacing: with several sources active, each is served at most its share of what the server
//! can do, so one source flooding valid calls cannot take the CPU from the others, with no
//! rate configured.
//!
//! What the server can do is measured, not configured: every second the process's CPU time
//! (`/proc/self/stat`) and the requests admitted give the CPU one request costs, and the
//! cores available divided by that cost is the capacity (requests per second). A source's
//! share is the capacity divided by the sources that sent a request in the last second or
//! two. A source within its share never waits; one above it waits, inside berth and holding
//! no CPU, until its next slot (virtual scheduling with a short burst allowance), so a
//! closed-loop client slows to its share and an open-loop one meets its in-flight quota.
//! Alone, a source is never paced; what it pays is a clock read and a few relaxed atomics.
//!
//! Off with `[quota] pace_to_share = false`; without `/proc` (not Linux) nothing is paced.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How much a source that was quiet may send at once before pacing applies.
const BURST: Duration = Duration::from_millis(100);
/// Fewer requests than this in a second say too little about what one costs.
const MIN_SAMPLE: u64 = 200;

/// The pacing state of the whole server.
pub(crate) struct Pacer {
    enabled: bool,
    base: Instant,
    /// The second (since `base`) the counts below are for.
    window: AtomicU64,
    /// Sources that sent a request this second, and in the one before.
    seen_now: AtomicUsize,
    seen_before: AtomicUsize,
    /// Requests admitted this second.
    requests: AtomicU64,
    /// Process CPU time (clock ticks) when this second began.
    cpu_ticks: AtomicU64,
    /// Requests per second the server can serve, as last measured (0: not yet known).
    capacity: AtomicU64,
    /// The gap between two requests of one source, while several are active (0: no pacing).
    gap_ns: AtomicU64,
    /// Requests that waited for their slot.
    paced: AtomicU64,
    cores: u64,
}

/// One source's pacing state: the second it was last seen, and its next free slot.
#[derive(Default)]
pub(crate) struct SourcePace {
    seen: AtomicU64,
    next_ns: AtomicU64,
}

impl Pacer {
    /// A pacer; `enabled = false` never paces.
    pub(crate) fn new(enabled: bool) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get) as u64;
        Self {
            enabled: enabled && process_cpu_ticks().is_some(),
            base: Instant::now(),
            window: AtomicU64::new(0),
            seen_now: AtomicUsize::new(0),
            seen_before: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            cpu_ticks: AtomicU64::new(process_cpu_ticks().unwrap_or_default()),
            capacity: AtomicU64::new(0),
            gap_ns: AtomicU64::new(0),
            paced: AtomicU64::new(0),
            cores,
        }
    }

    /// Counts one request of `source`; how long it must wait for its slot (zero: none).
    pub(crate) fn admit(&self, source: &SourcePace) -> Duration {
        if !self.enabled {
            return Duration::ZERO;
        }
        let now_ns = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let second = now_ns / 1_000_000_000;
        if self.window.load(Ordering::Relaxed) != second {
            self.roll(second);
        }
        if source.seen.swap(second, Ordering::Relaxed) != second {
            self.seen_now.fetch_add(1, Ordering::Relaxed);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let gap = self.gap_ns.load(Ordering::Relaxed);
        if gap == 0 {
            return Duration::ZERO;
        }
        let burst = u64::try_from(BURST.as_nanos()).unwrap_or(0);
        let mut next = source.next_ns.load(Ordering::Relaxed);
        loop {
            let slot = next.max(now_ns.saturating_sub(burst));
            match source.next_ns.compare_exchange_weak(next, slot + gap, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) if slot <= now_ns => return Duration::ZERO,
                Ok(_) => {
                    self.paced.fetch_add(1, Ordering::Relaxed);
                    return Duration::from_nanos(slot - now_ns);
                }
                Err(current) => next = current,
            }
        }
    }

    /// Requests per second the server can serve, as last measured (0: not yet known).
    pub(crate) fn capacity(&self) -> u64 {
        self.capacity.load(Ordering::Relaxed)
    }

    /// Requests that waited for their slot so far.
    pub(crate) fn paced(&self) -> u64 {
        self.paced.load(Ordering::Relaxed)
    }

    /// A new second began: measures what a request cost in the last one and sets the gap.
    /// One caller wins the swap and does it; the others go on with the old gap.
    fn roll(&self, second: u64) {
        let last = self.window.load(Ordering::Relaxed);
        if last == second || self.window.compare_exchange(last, second, Ordering::AcqRel, Ordering::Relaxed).is_err() {
            return;
        }
        let seen = self.seen_now.swap(0, Ordering::Relaxed);
        self.seen_before.store(if second == last + 1 { seen } else { 0 }, Ordering::Relaxed);
        let requests = self.requests.swap(0, Ordering::Relaxed);
        let ticks = process_cpu_ticks().unwrap_or_default();
        let used = ticks.saturating_sub(self.cpu_ticks.swap(ticks, Ordering::Relaxed));
        // A whole second measured, with enough requests and CPU to say what one costs:
        // capacity = cores / (CPU per request), smoothed over seconds.
        if second == last + 1 && requests >= MIN_SAMPLE && used > 0 {
            let measured = self.cores * TICKS_PER_SEC * requests / used;
            let before = self.capacity.load(Ordering::Relaxed);
            let smoothed = if before == 0 { measured } else { (before * 3 + measured) / 4 };
            self.capacity.store(smoothed, Ordering::Relaxed);
        }
        let sources = seen.max(self.seen_before.load(Ordering::Relaxed)) as u64;
        let capacity = self.capacity.load(Ordering::Relaxed);
        let gap = if sources >= 2 && capacity > 0 { 1_000_000_000 * sources / capacity } else { 0 };
        self.gap_ns.store(gap, Ordering::Relaxed);
    }
}

/// Clock ticks per second in `/proc` (`USER_HZ`, 100 on every Linux berth runs on).
const TICKS_PER_SEC: u64 = 100;

/// This process's CPU time (user + system) in clock ticks, from `/proc/self/stat`.
fn process_cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) in parentheses; utime and
    // stime are the 14th and 15th fields of the line, the 12th and 13th after it.
    let after = stat.rsplit_once(')')?.1;
    let mut fields = after.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_cpu_time_is_read() {
        assert!(process_cpu_ticks().is_some(), "berth's pacing needs /proc/self/stat");
    }

    #[test]
    fn alone_a_source_never_waits_and_beside_others_it_is_paced_to_its_share() {
        let mut pacer = Pacer::new(true);
        // A server up for a while: a source quiet until now has its whole burst.
        pacer.base = Instant::now().checked_sub(Duration::from_secs(10)).expect("ten seconds ago");
        let (flood, calm) = (SourcePace::default(), SourcePace::default());
        assert!((0..10_000).all(|_| pacer.admit(&flood).is_zero()), "nothing is paced before a capacity is known");
        // Two sources active, a measured capacity of 1,000 requests/s: each gets 500/s,
        // 2 ms apart, after its 100 ms burst.
        pacer.capacity.store(1_000, Ordering::Relaxed);
        pacer.gap_ns.store(2_000_000, Ordering::Relaxed);
        let waits: Vec<Duration> = (0..100).map(|_| pacer.admit(&flood)).collect();
        assert!(waits[..40].iter().all(|w| w.is_zero()), "the burst passes at once");
        assert!(waits[99] >= Duration::from_millis(90), "the flood waits for its slots: {:?}", waits[99]);
        assert!(pacer.admit(&calm).is_zero(), "a source within its share never waits");
        let off = Pacer::new(false);
        off.gap_ns.store(2_000_000, Ordering::Relaxed);
        assert!((0..1_000).all(|_| off.admit(&flood).is_zero()), "off: nothing is paced");
    }
}
