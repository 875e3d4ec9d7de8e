//! The hot loops of a session built twice, for the target's baseline and for AVX2, the
//! second picked at run time when the processor has it: four `f64`s an instruction instead
//! of two, the same IEEE operations in the same order (Rust never fuses a multiply and an
//! add on its own), so the same results to the bit.

/// Runs `f`, built for AVX2 when this processor has it, else as built for the target. The
/// AVX2 build covers what is inlined into the call, so `f` is a closure marked
/// `#[inline(always)]` (else it is built once, for the target, and called) and so are the
/// functions holding the loops it reaches.
#[inline]
pub(crate) fn run<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `avx2` may use the AVX2 instructions, and this processor has them.
        #[allow(unsafe_code)]
        return unsafe { avx2(f) };
    }
    f()
}

/// `f()` with AVX2 enabled.
///
/// # Safety
///
/// The processor must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}
