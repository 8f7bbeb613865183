//! Flush-to-zero for the threads that train.
//!
//! Arithmetic on subnormal floats (magnitudes below `f32::MIN_POSITIVE`, about `1.2e-38`)
//! takes a microcode assist on x86-64, on the order of a hundred cycles per instruction that
//! reads or produces one. A confident softmax makes them: `e^{x − max}` for logits 87 or more
//! below the row's maximum, and the cross entropy's gradient `(p − t)/rows` for `p` below about
//! `rows·1.2e-38`. In the permutation-S4 preset after its λ drops (step 15,000), about 2 % of
//! that gradient's entries were subnormal, and the matrix products that read it took twice
//! the time (its steps 0.42 ms before, 0.9 ms after). The pruned fine-tune makes more: AdamW's
//! first moments of weights whose gradient is exactly zero decay by β₁ into the subnormals and
//! stay at the smallest one (0.9 times it rounds back to it); in the in-context preset's
//! fine-tune 70 % of them were, and the optimizer step went from 3 % to 31 % of the samples.
//!
//! [`flush_subnormals`] sets the calling thread to read subnormal inputs as zero and to write
//! zero for subnormal results (MXCSR's DAZ and FTZ bits), as PyTorch's
//! `set_flush_denormal(True)` and TensorFlow's compute threads do. It changes a result only
//! where a subnormal occurs, by less than `1.2e-38` in absolute value per operation.

/// MXCSR bit 6: subnormal inputs read as zero.
#[cfg(target_arch = "x86_64")]
const DENORMALS_ARE_ZERO: u32 = 1 << 6;
/// MXCSR bit 15: subnormal results written as zero.
#[cfg(target_arch = "x86_64")]
const FLUSH_TO_ZERO: u32 = 1 << 15;

/// Makes the calling thread's `f32`/`f64` arithmetic flush subnormals to zero, in its inputs
/// and its results, for the rest of the thread's life. Returns `false` where this is not
/// implemented (architectures other than x86-64): there nothing changes and subnormals are
/// computed exactly, only slower.
///
/// Call it at the start of a thread that does nothing but compute (a run's pool workers,
/// `bimt_presets::on_threads`): code on the same thread that relies on subnormal results sees
/// zeros instead.
pub fn flush_subnormals() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let mut csr = 0u32;
        // SAFETY: `stmxcsr` writes the 4-byte control register into `csr`; `ldmxcsr` reads it
        // back with two more mode bits set (no exception is unmasked, so no instruction can
        // start to trap).
        unsafe {
            core::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags));
            csr |= DENORMALS_ARE_ZERO | FLUSH_TO_ZERO;
            core::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, preserves_flags, readonly));
        }
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn flushes_inputs_and_results_on_its_own_thread_only() {
        let tiny = f32::MIN_POSITIVE;
        let (product, input, exp) = std::thread::spawn(move || {
            assert!(flush_subnormals());
            (
                // A normal input, a subnormal result: flushed to 0.
                black_box(tiny) * black_box(0.5f32),
                // A subnormal input read as 0.
                black_box(f32::from_bits(1)) * black_box(1e30f32),
                // The vectorised exp below −87.3 (its result would be subnormal).
                crate::host::exp_f32::<false>(black_box(-100.0)),
            )
        })
        .join()
        .unwrap();
        assert_eq!((product, input, exp), (0.0, 0.0, 0.0));
        // This thread keeps the IEEE default.
        assert_eq!(black_box(tiny) * black_box(0.5f32), tiny / 2.0);
        assert!(crate::host::exp_f32::<false>(black_box(-100.0)) > 0.0);
    }
}
