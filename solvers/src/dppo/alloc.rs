//! Keep freed memory in the process during training.
//!
//! libtorch allocates and frees tensors of a few MB in every minibatch step.
//! With glibc's defaults those go to fresh `mmap`s or get trimmed off the
//! heap, and every reuse pays page faults (13 % of a training's CPU time
//! was kernel page handling, measured with `perf`). Raising the mmap and
//! trim thresholds keeps the pages; it costs some resident memory and
//! changes no result.

/// Largest block served by `mmap` and free heap kept before trimming (bytes).
const KEEP_BYTES: libc::c_int = 1 << 30;

/// Tune glibc's allocator for the training loop (no-op elsewhere).
#[allow(unsafe_code)]
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is thread-safe and
    // takes no pointers. A failure (return 0) leaves the defaults, which is fine.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, KEEP_BYTES);
        libc::mallopt(libc::M_TRIM_THRESHOLD, KEEP_BYTES);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}
