//! Fork detection for the random-number pool: a counter bumped in every child process by a
//! `pthread_atfork` handler, so per-thread buffers of random bytes are never reused by a child
//! (two processes using the same bytes as GCM ivs would reuse nonces under one key).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

static GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTER: Once = Once::new();

extern "C" fn bump_in_child() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// The number of forks this process descends from since the handler was registered. Changes
/// in a child process right after `fork()`. The first call registers the handler; if that
/// fails, the pool is not used (see `registered`).
pub(crate) fn generation() -> u64 {
    REGISTER.call_once(|| {
        // SAFETY: pthread_atfork only stores the function pointers; `bump_in_child` is a plain
        // extern "C" function that only touches an atomic, which is async-signal-safe and so
        // allowed in a child after fork.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(bump_in_child)) };
        if rc != 0 {
            REGISTER_FAILED.store(true, Ordering::SeqCst);
        }
    });
    GENERATION.load(Ordering::Acquire)
}

static REGISTER_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the fork handler is in place (when it is not, callers must not buffer randomness).
pub(crate) fn registered() -> bool {
    generation();
    !REGISTER_FAILED.load(Ordering::SeqCst)
}
