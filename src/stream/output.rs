//! Where decrypted and encrypted files go: a regular file is written under a temporary name
//! and renamed onto the target when complete; a character device or a FIFO is written in
//! place (it is a destination, not a file to replace); anything else is refused.
//!
//! The rules, in order, for the path as given:
//! - nothing there, or a regular file: a temporary file (`O_EXCL`, mode 0600) in the same
//!   directory, renamed onto the target by [`AtomicFile::commit`]. A regular file that was
//!   there gives its permission bits, without setuid, setgid and sticky bits.
//! - a symbolic link: the link is replaced, never followed, when it leads to a regular file
//!   or nowhere (the new file has mode 0600: a planted link does not choose the mode); when it
//!   leads to a character device or FIFO owned by this user or by root (`/dev/stdout`,
//!   `/dev/null`), that is written in place.
//! - a character device or FIFO: written in place; opening a FIFO waits for its reader.
//! - a directory, block device or socket: an error saying so.
//!
//! Written in place, data reaches the device as it is produced: a decrypt that fails half-way
//! has already written the chunks verified before the failure (as on standard output).

use std::fs::{File, Metadata};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::IO_BLOCK;
use crate::error::{Error, Result};

/// The file behind an [`AtomicFile`].
pub(crate) enum Out {
    /// A temporary file in the target's directory, renamed on commit.
    Temp(tempfile::NamedTempFile),
    /// The target itself: a character device or a FIFO.
    Direct(File),
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Out::Temp(t) => t.write(buf),
            Out::Direct(f) => f.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Out::Temp(t) => t.flush(),
            Out::Direct(f) => f.flush(),
        }
    }
}

/// A file written under a temporary name in the target's directory and renamed onto the target
/// by [`AtomicFile::commit`] (or a device written in place: see the module documentation).
/// Dropped without commit, the temporary file is removed.
pub(crate) struct AtomicFile {
    pub file: BufWriter<Out>,
    target: PathBuf,
}

enum Plan {
    Temp,
    Direct,
}

fn is_device_or_fifo(meta: &Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        t.is_char_device() || t.is_fifo()
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        false
    }
}

fn refuse(target: &Path, meta: &Metadata) -> Error {
    Error::Argument(format!(
        "{} is {}: the output must be a regular file (created or replaced), a character device \
         or a FIFO; give another file name",
        target.display(),
        crate::sys::file_kind(meta)
    ))
}

fn plan(target: &Path) -> Result<Plan> {
    let lmeta = match std::fs::symlink_metadata(target) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Plan::Temp),
        Err(e) => return Err(Error::io(format!("cannot examine {}", target.display()), e)),
    };
    if lmeta.is_file() {
        return Ok(Plan::Temp);
    }
    if is_device_or_fifo(&lmeta) {
        return Ok(Plan::Direct);
    }
    if !lmeta.file_type().is_symlink() {
        return Err(refuse(target, &lmeta));
    }
    match std::fs::metadata(target) {
        // Dangling, or leads to a regular file: the link itself is replaced.
        Err(_) => Ok(Plan::Temp),
        Ok(m) if m.is_file() => Ok(Plan::Temp),
        Ok(m) if is_device_or_fifo(&m) => {
            check_link_owner(target, &m)?;
            Ok(Plan::Direct)
        }
        Ok(m) => Err(refuse(target, &m)),
    }
}

/// A link planted by someone else could send plaintext into their FIFO or terminal: follow it
/// only to a device or FIFO owned by this user or by root.
#[cfg(unix)]
fn check_link_owner(target: &Path, meta: &Metadata) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let uid = meta.uid();
    let me = crate::sys::effective_uid();
    if uid == me || uid == 0 {
        return Ok(());
    }
    Err(Error::Argument(format!(
        "{} is a symbolic link to {} owned by uid {uid}, not by this user (uid {me}) or root: \
         refusing to write into it; give the device or FIFO's own path, or another file name",
        target.display(),
        crate::sys::file_kind(meta)
    )))
}

#[cfg(not(unix))]
fn check_link_owner(_target: &Path, _meta: &Metadata) -> Result<()> {
    Ok(())
}

impl AtomicFile {
    /// Prepares writing `target` (see the module documentation for what each kind of target
    /// gets). Errors: [`Error::Argument`] for a target that cannot be written (a directory, a
    /// block device...), [`Error::Io`] when the temporary file or the device cannot be opened.
    pub fn create(target: &Path) -> Result<Self> {
        if let Plan::Direct = plan(target)? {
            let (f, meta) = crate::sys::open_existing_for_write(target).map_err(|e| {
                Error::io(format!("cannot open {} for writing", target.display()), e)
            })?;
            if is_device_or_fifo(&meta) {
                return Ok(AtomicFile {
                    file: BufWriter::with_capacity(IO_BLOCK, Out::Direct(f)),
                    target: target.to_path_buf(),
                });
            }
            // Replaced by something else between the look and the open: start over the safe
            // way, never writing into what was opened.
            drop(f);
            if let Plan::Direct = plan(target)? {
                return Err(Error::Argument(format!(
                    "{} changed while it was being opened: try again",
                    target.display()
                )));
            }
        }
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = target
            .file_name()
            .ok_or_else(|| Error::Argument(format!("{} is not a file name", target.display())))?
            .to_string_lossy();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| {
                Error::io(
                    format!("cannot create a temporary file in {}", dir.display()),
                    e,
                )
            })?;
        Ok(AtomicFile {
            file: BufWriter::with_capacity(IO_BLOCK, Out::Temp(tmp)),
            target: target.to_path_buf(),
        })
    }

    /// The path being written.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes, syncs and renames the file onto the target. An existing regular file keeps its
    /// permission bits (not setuid, setgid or sticky); a new file, or one replacing a symbolic
    /// link, is readable and writable by the owner only. A device or FIFO is only flushed.
    pub fn commit(self) -> Result<()> {
        let target = self.target;
        let write_err = |e| Error::io(format!("cannot write {}", target.display()), e);
        let out = self
            .file
            .into_inner()
            .map_err(|e| write_err(e.into_error()))?;
        let tmp = match out {
            Out::Direct(_) => return Ok(()),
            Out::Temp(t) => t,
        };
        if let Ok(meta) = std::fs::symlink_metadata(&target) {
            if meta.is_file() {
                tmp.as_file()
                    .set_permissions(copied_permissions(&meta))
                    .map_err(write_err)?;
            }
        }
        tmp.as_file().sync_all().map_err(write_err)?;
        tmp.persist(&target)
            .map_err(|e| Error::io(format!("cannot rename onto {}", target.display()), e.error))?;
        Ok(())
    }
}

/// Writes everything `reader` yields (typically a [`Reader`](super::Reader): decrypted data) to
/// the file `target` through an `AtomicFile`: the target appears only after `reader`
/// reached its end without an error, so for an authenticated stream only once every chunk was
/// verified. A device or FIFO target is written in place (module documentation). Returns the
/// number of bytes written.
pub fn copy_to_file(reader: &mut impl io::Read, target: &Path) -> Result<u64> {
    let mut out = AtomicFile::create(target)?;
    let mut buf = zeroize::Zeroizing::new(vec![0u8; IO_BLOCK]);
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(super::into_error(e)),
        };
        out.file
            .write_all(&buf[..n])
            .map_err(|e| Error::io(format!("cannot write {}", target.display()), e))?;
        total += n as u64;
    }
    out.commit()?;
    Ok(total)
}

#[cfg(unix)]
fn copied_permissions(meta: &Metadata) -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(meta.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn copied_permissions(meta: &Metadata) -> std::fs::Permissions {
    meta.permissions()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    fn write(target: &Path, data: &[u8]) -> Result<()> {
        let mut f = AtomicFile::create(target)?;
        f.file.write_all(data).unwrap();
        f.commit()
    }

    #[test]
    fn new_files_are_0600_and_existing_ones_keep_their_mode_without_setid_bits() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out");
        write(&p, b"one").unwrap();
        assert_eq!(mode(&p), 0o600);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o6755)).unwrap();
        write(&p, b"two").unwrap();
        assert_eq!(mode(&p), 0o755);
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
    }

    #[test]
    fn a_link_is_replaced_not_followed_and_does_not_give_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o666)).unwrap();
        let link = dir.path().join("out");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        write(&link, b"plain").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
        assert_eq!(mode(&link), 0o600);
    }

    #[test]
    fn devices_are_written_in_place_and_directories_refused() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("null");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        write(&link, b"gone").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        write(Path::new("/dev/null"), b"gone").unwrap();
        let e = write(dir.path(), b"x").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Argument);
        assert!(e.to_string().contains("is a directory"), "{e}");
    }
}
