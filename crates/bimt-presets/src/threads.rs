//! How many threads a run computes on.
//!
//! The CPU backends parallelise large matrix products and reductions on rayon's pool. A run
//! executes inside a pool of its own ([`on_threads`]), so that the thread that drives the
//! training step is one of the pool's workers instead of a third thread competing with them.
//! Every worker flushes subnormal floats to zero ([`bimt_kernels::flush_subnormals`]): a
//! confident softmax's gradient and the fine-tune's AdamW moments fall into that range, where
//! each operation takes a microcode assist (the permutation-S4 preset's late steps ran twice
//! as slow).

use crate::error::Error;

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

/// The most threads (or runs at once) per core: beyond four only switching grows, and thousands
/// of threads exhaust the machine before a run starts.
pub const MAX_PER_CORE: usize = 4;

/// Refuses a count of `what` (`--threads`, `--jobs`) outside 1 to [`MAX_PER_CORE`] per core.
pub fn check_per_core(what: &str, count: usize) -> Result<(), Error> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let most = MAX_PER_CORE * cores;
    if (1..=most).contains(&count) {
        return Ok(());
    }
    Err(Error::Settings(format!(
        "{what} {count}: expected 1 to {most} on this machine's {cores} cores (more than \
         {MAX_PER_CORE} per core only slow a run down)"
    )))
}

/// Runs `f` in a rayon pool of `threads` threads (the calling thread waits), each of which
/// flushes subnormal floats to zero; `threads` must pass [`check_per_core`].
pub fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> Result<T, Error> {
    check_per_core("--threads", threads)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .start_handler(|_| {
            bimt_kernels::flush_subnormals();
        })
        .build()
        .map_err(|e| Error::Settings(format!("cannot start {threads} threads: {e}")))?;
    Ok(pool.install(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn every_worker_flushes_subnormals() {
        let products = on_threads(2, || {
            rayon::broadcast(|_| black_box(f32::MIN_POSITIVE) * black_box(0.5f32))
        })
        .unwrap();
        assert_eq!(products, vec![0.0, 0.0]);
        // The calling thread keeps subnormals.
        assert!(black_box(f32::MIN_POSITIVE) * black_box(0.5f32) > 0.0);
    }

    #[test]
    fn zero_threads_and_thousands_are_refused() {
        let err = on_threads(0, || ()).unwrap_err().to_string();
        assert!(err.contains("--threads 0"), "{err}");
        let err = on_threads(100_000, || ()).unwrap_err().to_string();
        assert!(err.contains("--threads 100000: expected 1 to"), "{err}");
    }
}
