//! A thread of lowest CPU priority with a runtime of its own, for work done ahead of demand.
//!
//! Spares for fresh calls are made here, not as tasks on the request workers: a task spawned
//! from a request worker waits in that worker's own queue (tokio keeps the newest spawn in a
//! slot other workers do not steal from) until the request's task yields, so the
//! instantiation would run right after the call it was meant to be ahead of, on the same
//! core. A thread of its own runs on whichever core is idle, and at nice 19 it gets only
//! what the request workers leave when the machine is busy.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::mpsc;

/// One piece of work for the idle thread.
pub(crate) type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The sending end of the idle thread's queue; the thread ends when the last clone is dropped.
#[derive(Clone)]
pub(crate) struct IdleWorker {
    jobs: Option<mpsc::UnboundedSender<Job>>,
}

impl IdleWorker {
    /// Starts the thread; without it (no thread or runtime could be made) jobs are refused.
    pub(crate) fn start() -> Self {
        let (sender, mut jobs) = mpsc::unbounded_channel::<Job>();
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => {
                tracing::warn!("no idle-time thread, spares are not made ahead of calls: {e}");
                return Self { jobs: None };
            }
        };
        let spawned = std::thread::Builder::new().name("berth-idle".into()).spawn(move || {
            // The lowest priority for this thread alone (Linux nice values are per thread).
            if let Err(e) = rustix::process::setpriority_process(None, 19) {
                tracing::debug!("the idle-time thread keeps normal priority: {e}");
            }
            runtime.block_on(async move {
                while let Some(job) = jobs.recv().await {
                    job.await;
                }
            });
        });
        match spawned {
            Ok(_) => Self { jobs: Some(sender) },
            Err(e) => {
                tracing::warn!("no idle-time thread, spares are not made ahead of calls: {e}");
                Self { jobs: None }
            }
        }
    }

    /// Queues `job` behind the others; false when the thread is not running.
    pub(crate) fn run(&self, job: Job) -> bool {
        self.jobs.as_ref().is_some_and(|jobs| jobs.send(job).is_ok())
    }
}
