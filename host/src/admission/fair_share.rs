//! The server-wide limit on requests running at once, and the share of it one
//! source may take.
//!
//! Fairness: the last tenth of the server's slots is kept for sources that
//! hold less than their share (the limit divided by the sources with
//! requests running, plus one for a newcomer). One source alone can use nine
//! tenths of the server, but never every slot: a new client always finds one.
//! The share is checked against the count of free slots at the moment a slot
//! is taken (one compare-and-swap), so two requests of one source arriving
//! together cannot both pass the check and take the reserve between them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The server-wide limit on requests running at once (HTTP and WebSocket share it).
pub(crate) struct InFlightLimit {
    running: AtomicUsize,
    pub(super) max: usize,
}

/// Why [`InFlightLimit::take`] gave no slot.
pub(super) enum NoSlot {
    Full,
    Declined,
}

/// One request's slot in the [`InFlightLimit`], given back when dropped.
pub(crate) struct Slot(Arc<InFlightLimit>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}

impl InFlightLimit {
    /// At most `max` requests at once.
    pub(crate) fn new(max: usize) -> Self {
        Self { running: AtomicUsize::new(0), max }
    }

    /// Requests running now.
    pub(crate) fn now(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }

    /// Slots kept for sources under their share: a tenth, at least one.
    pub(super) fn reserve(&self) -> usize {
        (self.max / 10).max(1)
    }

    /// Takes a slot unless every slot is taken or `declined(free)` says no
    /// for the number of slots free at that moment.
    pub(super) fn take(self: &Arc<Self>, declined: impl Fn(usize) -> bool) -> Result<Slot, NoSlot> {
        let mut running = self.running.load(Ordering::Acquire);
        loop {
            if running >= self.max {
                return Err(NoSlot::Full);
            }
            if declined(self.max - running) {
                return Err(NoSlot::Declined);
            }
            match self.running.compare_exchange_weak(running, running + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(Slot(self.clone())),
                Err(now) => running = now,
            }
        }
    }
}
