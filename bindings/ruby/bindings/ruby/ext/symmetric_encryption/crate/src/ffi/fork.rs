//! Fork detection for the random-number pool: a counter bumped in every child process by a
//! `pthread_atfork` handler, so per-thread buffers of random bytes are never reused by a child
//! (two processes using the same bytes as GCM ivs would reuse nonces under one key).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTERED: OnceLock<bool> = OnceLock::new();

extern "C" fn bump_in_child() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// The number of forks this process descends from since the handler was registered; it
/// changes in a child process right after `fork()`. `None` when the handler could not be
/// registered: callers must then not buffer randomness. The first call registers it.
pub(crate) fn generation() -> Option<u64> {
    let registered = *REGISTERED.get_or_init(|| {
        // SAFETY: pthread_atfork only stores the function pointers; `bump_in_child` is a plain
        // extern "C" function that only touches an atomic, which is async-signal-safe and so
        // allowed in a child after fork.
        unsafe { libc::pthread_atfork(None, None, Some(bump_in_child)) == 0 }
    });
    registered.then(|| GENERATION.load(Ordering::Acquire))
}
