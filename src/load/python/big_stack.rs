//! Parsing and interpreting one Python file recurses as deep as the file nests (ruff's parser, the
//! drop of its tree), deeper than rayon's 2 MiB threads allow. Each thread that loads Python gets
//! one long-lived helper thread with a large stack and hands it the work: a thread per file would
//! cost a spawn per file, and under AddressSanitizer (the fuzz build) every thread ever started
//! keeps some memory, so a thread per input grows the fuzzer until it is killed.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;

use crate::ir::Model;
use crate::load::LoadError;

/// The helper's stack: reserved, not committed, so only the pages a deep file touches cost memory.
const STACK_BYTES: usize = 512 << 20;

type Job = Box<dyn FnOnce() + Send>;

thread_local! {
    /// This thread's helper; dropping the sender (when this thread ends) ends the helper.
    static HELPER: RefCell<Option<mpsc::Sender<Job>>> = const { RefCell::new(None) };
}

/// Runs `f` on this thread's big-stack helper and waits for it. A panic inside `f` becomes an
/// error for this file (the helper lives on); a helper that cannot start is an error, never a crash.
pub fn run<F>(f: F) -> Result<Model, LoadError>
where
    F: FnOnce() -> Result<Model, LoadError> + Send + 'static,
{
    let (reply, answer) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let result = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
            Err(LoadError::new(
                "internal error while reading the Python source",
            ))
        });
        let _ = reply.send(result);
    });
    HELPER.with(|slot| -> Result<(), LoadError> {
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            *slot = Some(start()?);
        }
        let helper = slot.as_ref().expect("set above");
        if let Err(mpsc::SendError(job)) = helper.send(job) {
            // The helper is gone (it can only end by a panic that escaped catch_unwind): start a
            // new one for this job.
            let fresh = start()?;
            fresh.send(job).map_err(|_| gone())?;
            *slot = Some(fresh);
        }
        Ok(())
    })?;
    answer.recv().unwrap_or_else(|_| Err(gone()))
}

fn start() -> Result<mpsc::Sender<Job>, LoadError> {
    // Where the system refuses a reservation that large (strict overcommit), a smaller one still
    // covers every file the nesting limits let through.
    let mut refused = None;
    for stack in [STACK_BYTES, STACK_BYTES / 8] {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new()
            .name("nnlint-python".into())
            .stack_size(stack)
            .spawn(move || {
                for job in inbox {
                    job();
                }
            });
        match spawned {
            Ok(_) => return Ok(jobs),
            Err(e) => refused = Some(e),
        }
    }
    let e = refused.map(|e| e.to_string()).unwrap_or_default();
    Err(LoadError::new(format!(
        "cannot start the parser thread ({e})"
    )))
}

fn gone() -> LoadError {
    LoadError::new("internal error: the parser thread stopped")
}
