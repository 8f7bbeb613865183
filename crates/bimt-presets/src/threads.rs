//! How many threads a run computes on.
//!
//! The CPU backends parallelise large matrix products and reductions on rayon's pool. A run
//! executes inside a pool of its own ([`on_threads`]), so that the thread that drives the
//! training step is one of the pool's workers instead of a third thread competing with them.

/// The default threads per run when `runs` run at once on this machine: one on machines with
/// two cores or fewer, else the cores shared out among the runs. On the project's 2-core
/// machine (`bimt bench`, one thread against two) one thread is faster for the full-batch
/// presets (modular addition 270 against 227 steps/s, MNIST 983 against 850) and within 2 % for
/// the others (in-context 552 against 564).
pub fn default_threads(runs: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores <= 2 {
        1
    } else {
        (cores / runs.max(1)).max(1)
    }
}

/// Runs `f` in a rayon pool of `threads` threads (the calling thread waits).
pub fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> Result<T, String> {
    if threads == 0 {
        return Err("--threads 0: a run needs at least one thread".into());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| format!("cannot start {threads} threads: {e}"))?;
    Ok(pool.install(f))
}
