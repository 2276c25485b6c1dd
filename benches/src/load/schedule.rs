//! When one connection's open-loop calls are due.
//!
//! Every connection's calls sit on one grid shared by the whole run: slot `k` of connection
//! `i` is at `start + (k + phase(i)) × gap`, with phases spread by the golden ratio, so at any
//! moment the calls due are spread evenly over each gap, however many ladder steps opened the
//! connections and whenever each one opened. (Each connection keeping the phase of its own
//! opening instead left the connections of one step bunched within that step's first gap,
//! and every later step added its bunch: bursts the server queued, not its steady cost.)

use std::time::{Duration, Instant};

/// 1/φ: consecutive multiples of it, modulo 1, are as evenly spread as any sequence can be.
const GOLDEN: f64 = 0.618_033_988_749_894_9;

/// One connection's place on the run's grid of send times.
#[derive(Debug, Clone)]
pub struct Schedule {
    start: Instant,
    phase: f64,
    gap: Option<Duration>,
    next: Instant,
}

impl Schedule {
    /// Connection `index`'s schedule in a run that started at `start`.
    pub fn new(start: Instant, index: usize) -> Self {
        Self { start, phase: (index as f64 * GOLDEN).fract(), gap: None, next: start }
    }

    /// When the next call is due with `gap` between one connection's calls (None: closed
    /// loop, nothing is scheduled). A new gap (the ladder stepped) moves the connection to
    /// its first slot of the new grid from now.
    pub fn due(&mut self, gap: Option<Duration>) -> Option<Instant> {
        let gap = gap?;
        if gap.is_zero() {
            // A rate beyond what the clock resolves: every call is due at once.
            self.gap = Some(gap);
            return Some(Instant::now());
        }
        if self.gap != Some(gap) {
            self.gap = Some(gap);
            self.next = self.slot_from(Instant::now(), gap);
        }
        Some(self.next)
    }

    /// The call due was sent: the next one is a gap later (earlier than now if the
    /// connection fell behind, so the calls it owes go at once and count their wait).
    pub fn advance(&mut self) {
        if let Some(gap) = self.gap {
            self.next += gap;
        }
    }

    /// The connection's first slot at or after `from` on the grid of `gap`.
    fn slot_from(&self, from: Instant, gap: Duration) -> Instant {
        let gaps = from.saturating_duration_since(self.start).as_secs_f64() / gap.as_secs_f64();
        let slot = (gaps - self.phase).ceil().max(0.0);
        self.start + gap.mul_f64(slot + self.phase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many of `slots` fall in each tenth of the gap after `from`.
    fn tenths(slots: &[Instant], from: Instant, gap: Duration) -> Vec<usize> {
        let mut counts = vec![0; 10];
        for slot in slots {
            let offset = slot.duration_since(from).as_secs_f64() / gap.as_secs_f64();
            // (`due` reads the clock a little after `from`.)
            assert!((0.0..1.01).contains(&offset), "a slot {offset} gaps after the first moment it could be");
            counts[((offset * 10.0) as usize).min(9)] += 1;
        }
        counts
    }

    #[test]
    fn connections_opened_in_separate_steps_spread_evenly_over_the_gap() {
        let start = Instant::now() - Duration::from_secs(100);
        // 150 connections opened first (a 15 ms gap), 4,850 more later (a 500 ms gap).
        let mut schedules: Vec<Schedule> = (0..5_000).map(|i| Schedule::new(start, i)).collect();
        for schedule in &mut schedules[..150] {
            schedule.due(Some(Duration::from_millis(15)));
        }
        let gap = Duration::from_millis(500);
        let from = Instant::now();
        let slots: Vec<Instant> = schedules.iter_mut().filter_map(|s| s.due(Some(gap))).collect();
        for count in tenths(&slots, from, gap) {
            assert!((480..=520).contains(&count), "{count} of 5,000 calls in a tenth of the gap");
        }
    }

    #[test]
    fn each_call_is_one_gap_after_the_last_and_a_closed_loop_has_no_schedule() {
        let mut schedule = Schedule::new(Instant::now(), 7);
        assert_eq!(schedule.due(None), None);
        let gap = Duration::from_millis(10);
        let first = schedule.due(Some(gap)).expect("due");
        assert_eq!(schedule.due(Some(gap)), Some(first), "asking again does not move it");
        schedule.advance();
        assert_eq!(schedule.due(Some(gap)), Some(first + gap));
    }
}
