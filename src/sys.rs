//! The few operating-system facts the library needs, in one place: the fork generation the
//! random pool checks, the effective user and group, and opening a file for a check-then-read
//! on the same descriptor. Besides `ffi`, this is the only module allowed `unsafe` code; every
//! block says why it is sound. Everything else goes through rustix's and std's safe wrappers.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::path::Path;

/// The number of forks this process descends from since the handler was registered; it
/// changes in a child process right after `fork()`. `None` when the handler could not be
/// registered: callers must then not buffer randomness. The first call registers it.
#[cfg(unix)]
pub(crate) fn fork_generation() -> Option<u64> {
    fork::generation()
}

/// Without `fork` there is nothing to detect: the generation never changes.
#[cfg(not(unix))]
pub(crate) fn fork_generation() -> Option<u64> {
    Some(0)
}

#[cfg(unix)]
mod fork {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    static GENERATION: AtomicU64 = AtomicU64::new(0);
    static REGISTERED: OnceLock<bool> = OnceLock::new();

    extern "C" fn bump_in_child() {
        GENERATION.fetch_add(1, Ordering::SeqCst);
    }

    pub(super) fn generation() -> Option<u64> {
        let registered = *REGISTERED.get_or_init(|| {
            // SAFETY: pthread_atfork only stores the function pointers; `bump_in_child` is a
            // plain extern "C" function that only touches an atomic, which is
            // async-signal-safe and so allowed in a child after fork.
            unsafe { libc::pthread_atfork(None, None, Some(bump_in_child)) == 0 }
        });
        registered.then(|| GENERATION.load(Ordering::Acquire))
    }
}

/// The effective user id of this process.
#[cfg(unix)]
pub(crate) fn effective_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Opens `path` for reading without ever blocking in `open` (a FIFO opens at once instead of
/// waiting for a writer, a terminal does not become the controlling one), following symbolic
/// links, and returns the file with the metadata of the opened descriptor (`fstat`): what is
/// checked is what will be read, whatever the path points to a moment later.
pub(crate) fn open_checked(path: &Path) -> io::Result<(File, Metadata)> {
    let mut opts = OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = opts.open(path)?;
    let meta = file.metadata()?;
    Ok((file, meta))
}

/// Opens an existing `path` for writing, without creating or truncating it and without
/// becoming its controlling terminal, and returns it with the opened descriptor's metadata.
/// Used for targets that are devices or FIFOs, which are written in place, never replaced.
pub(crate) fn open_existing_for_write(path: &Path) -> io::Result<(File, Metadata)> {
    let mut opts = OpenOptions::new();
    opts.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NOCTTY);
    }
    let file = opts.open(path)?;
    let meta = file.metadata()?;
    Ok((file, meta))
}

/// A short name for what kind of file `meta` describes, for messages.
pub(crate) fn file_kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_file() {
        return "a regular file";
    }
    if t.is_dir() {
        return "a directory";
    }
    if t.is_symlink() {
        return "a symbolic link";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_process_ones() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"x").unwrap();
        let (_, meta) = open_checked(&p).unwrap();
        assert_eq!(meta.uid(), effective_uid());
        assert!(meta.is_file());
        assert_eq!(file_kind(&meta), "a regular file");
    }

    #[test]
    fn a_fifo_opens_at_once_and_says_what_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        let ok = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .unwrap();
        assert!(ok.success());
        let (_, meta) = open_checked(&p).unwrap();
        assert_eq!(file_kind(&meta), "a FIFO (named pipe)");
    }

    #[test]
    fn the_generation_is_stable_in_one_process() {
        assert_eq!(fork_generation(), fork_generation());
    }
}
