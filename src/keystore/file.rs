//! The `file` keystore: a key file holding the encrypted data key (or the raw key when the entry
//! has no key-encrypting key), checked for mode and owner before it is read.
//!
//! Defaults as in the gem: the mode must be 0600 or 0400 and the file must belong to the user the
//! process runs as. An entry widens or changes this with `permissions` (`'0640'` or a list),
//! `owner` and `group` (names or ids, a single value or a list).

use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::key::SecretBytes;

/// The modes a key file may have when its entry sets no `permissions`.
pub const DEFAULT_PERMISSIONS: [u32; 2] = [0o600, 0o400];

/// A user or group, by name or by numeric id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// A numeric uid or gid.
    Id(u32),
    /// A user or group name.
    Name(String),
}

impl Principal {
    /// `"1000"` is an id, anything else a name.
    pub fn parse(text: &str) -> Principal {
        match text.trim().parse::<u32>() {
            Ok(id) => Principal::Id(id),
            Err(_) => Principal::Name(text.trim().to_string()),
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::Id(id) => write!(f, "{id}"),
            Principal::Name(n) => f.write_str(n),
        }
    }
}

/// What a key file must look like before it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePolicy {
    /// Allowed modes (permission bits). Empty: [`DEFAULT_PERMISSIONS`].
    pub permissions: Vec<u32>,
    /// Allowed owners. Empty: the effective user of this process.
    pub owner: Vec<Principal>,
    /// Allowed groups. Empty: any group.
    pub group: Vec<Principal>,
}

impl Default for FilePolicy {
    fn default() -> Self {
        FilePolicy {
            permissions: DEFAULT_PERMISSIONS.to_vec(),
            owner: Vec::new(),
            group: Vec::new(),
        }
    }
}

impl FilePolicy {
    /// The mode new key files get: the first allowed one.
    pub fn write_mode(&self) -> u32 {
        self.permissions.first().copied().unwrap_or(0o600) & 0o7777
    }
}

/// Formats a mode the way people type it: `0600`.
pub fn format_mode(mode: u32) -> String {
    format!("{:04o}", mode & 0o7777)
}

/// Parses a mode as written in a configuration: a string is octal (`"0644"`, `"644"`, `"0o644"`,
/// also the gem's old `"100600"` form, whose file-type bits are ignored).
pub fn parse_mode(text: &str) -> Result<u32> {
    let t = text.trim();
    let digits = t.strip_prefix("0o").unwrap_or(t);
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|_| !digits.is_empty())
        .map(|m| m & 0o7777)
        .ok_or_else(|| {
            Error::Config(format!(
                "permissions: {} is not an octal file mode: write it as a quoted string such \
                 as '0600' or '0640'",
                crate::error::describe_text(text)
            ))
        })
}

fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// The largest key file read: key files hold one encrypted (or raw) key of a few dozen bytes,
/// so anything much larger is not a key file.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// Reads a key file after checking its mode and owner against `policy`.
///
/// The file is opened once (following symbolic links, as Kubernetes secret mounts need), and
/// the checks are made on the opened descriptor (`fstat`), which is then read: a path swapped
/// between the check and the read cannot hand over another file. The open never blocks (a
/// FIFO is refused, not waited on), and at most [`MAX_KEY_FILE_BYTES`] are read.
pub fn read_key_file(path: &Path, policy: &FilePolicy) -> Result<SecretBytes> {
    let shown = path.display();
    let (file, meta) = match crate::sys::open_checked(path) {
        Ok(opened) => opened,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Keystore(format!(
                "key file {shown} not found: check key_filename (a relative path is resolved \
                 against the working directory) and that the key files were copied to this machine"
            )))
        }
        Err(e) => {
            return Err(Error::Keystore(format!(
                "cannot read key file {shown}: {e}"
            )))
        }
    };
    if !meta.is_file() {
        return Err(Error::Keystore(format!(
            "key file {shown} is {}, not a regular file: key_filename must name the file \
             holding the key (a symbolic link to one is fine)",
            crate::sys::file_kind(&meta)
        )));
    }
    check(path, &meta, policy)?;
    if meta.len() > MAX_KEY_FILE_BYTES {
        return Err(too_large(path, meta.len()));
    }
    let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(meta.len() as usize + 1));
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Keystore(format!("cannot read key file {shown}: {e}")))?;
    if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(too_large(path, bytes.len() as u64));
    }
    Ok(SecretBytes::from_slice(&bytes))
}

fn too_large(path: &Path, len: u64) -> Error {
    Error::Keystore(format!(
        "key file {} holds {len} bytes or more, but a key file is at most {MAX_KEY_FILE_BYTES} \
         bytes: key_filename must name the key file written by symmetric-encryption --generate",
        path.display()
    ))
}

#[cfg(unix)]
fn check(path: &Path, meta: &fs::Metadata, policy: &FilePolicy) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let shown = path.display();
    let mode = meta.mode() & 0o7777;
    let allowed: &[u32] = if policy.permissions.is_empty() {
        &DEFAULT_PERMISSIONS
    } else {
        &policy.permissions
    };
    if !allowed.iter().any(|p| p & 0o7777 == mode) {
        let listed: Vec<String> = allowed.iter().map(|m| format_mode(*m)).collect();
        return Err(Error::Keystore(format!(
            "key file {shown} has mode {}, but key files must have mode {}: anyone who can read it \
             can read the key. Run `chmod {} {shown}`, or, if mode {} is intended, list it in this \
             entry's permissions (for example permissions: '{}')",
            format_mode(mode),
            join_or(&listed),
            &format_mode(allowed[0])[1..],
            format_mode(mode),
            format_mode(mode),
        )));
    }

    let uid = meta.uid();
    if policy.owner.is_empty() {
        let me = users::current_uid();
        if uid != me {
            return Err(Error::Keystore(format!(
                "key file {shown} is owned by {}, but must be owned by the user running this \
                 process, {}: run `chown {} {shown}`, or name the owner in this entry's owner \
                 setting",
                users::describe_user(uid),
                users::describe_user(me),
                users::user_name(me).unwrap_or_else(|| me.to_string()),
            )));
        }
    } else if !matches_any(&policy.owner, uid, users::uid_of)? {
        return Err(Error::Keystore(format!(
            "key file {shown} is owned by {}, but this entry's owner setting allows only {}",
            users::describe_user(uid),
            join_or(
                &policy
                    .owner
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
            ),
        )));
    }

    let gid = meta.gid();
    if !policy.group.is_empty() && !matches_any(&policy.group, gid, users::gid_of)? {
        return Err(Error::Keystore(format!(
            "key file {shown} belongs to group {}, but this entry's group setting allows only {}: \
             run `chgrp {} {shown}` or change the group setting",
            users::describe_group(gid),
            join_or(
                &policy
                    .group
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
            ),
            policy.group[0],
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check(_path: &Path, _meta: &fs::Metadata, _policy: &FilePolicy) -> Result<()> {
    // Unix modes and owners do not exist here; the operating system's ACLs protect the file.
    Ok(())
}

#[cfg(unix)]
fn matches_any(allowed: &[Principal], id: u32, lookup: fn(&str) -> Option<u32>) -> Result<bool> {
    let mut unknown = Vec::new();
    for p in allowed {
        match p {
            Principal::Id(x) if *x == id => return Ok(true),
            Principal::Id(_) => {}
            Principal::Name(n) => match lookup(n) {
                Some(x) if x == id => return Ok(true),
                Some(_) => {}
                None => unknown.push(n.clone()),
            },
        }
    }
    if unknown.len() == allowed.len() {
        return Err(Error::Keystore(format!(
            "no user or group named {} exists on this machine (looked up in /etc/passwd and \
             /etc/group): give a numeric id instead",
            join_or(&unknown)
        )));
    }
    Ok(false)
}

/// Name lookups for the owner check, from `/etc/passwd` and `/etc/group`.
#[cfg(unix)]
mod users {
    fn lookup(file: &str, pred: impl Fn(&str, u32) -> bool) -> Option<(String, u32)> {
        let text = std::fs::read_to_string(file).ok()?;
        text.lines().find_map(|line| {
            let mut f = line.split(':');
            let name = f.next()?;
            let id = f.nth(1)?.parse().ok()?;
            pred(name, id).then(|| (name.to_string(), id))
        })
    }

    /// The process's effective user id.
    pub fn current_uid() -> u32 {
        crate::sys::effective_uid()
    }

    /// The user id of user `name` (from /etc/passwd).
    pub fn uid_of(name: &str) -> Option<u32> {
        lookup("/etc/passwd", |n, _| n == name).map(|(_, id)| id)
    }

    /// The group id of group `name` (from /etc/group).
    pub fn gid_of(name: &str) -> Option<u32> {
        lookup("/etc/group", |n, _| n == name).map(|(_, id)| id)
    }

    /// The name of user `uid` (from /etc/passwd).
    pub fn user_name(uid: u32) -> Option<String> {
        lookup("/etc/passwd", |_, id| id == uid).map(|(n, _)| n)
    }

    /// `uid 1000 (deploy)`, or `uid 1000` for a user without a name, for messages.
    pub fn describe_user(uid: u32) -> String {
        match user_name(uid) {
            Some(n) => format!("uid {uid} ({n})"),
            None => format!("uid {uid}"),
        }
    }

    /// `gid 1000 (deploy)`, or `gid 1000`, for messages.
    pub fn describe_group(gid: u32) -> String {
        match lookup("/etc/group", |_, id| id == gid) {
            Some((n, _)) => format!("gid {gid} ({n})"),
            None => format!("gid {gid}"),
        }
    }
}

/// Writes a key file with `mode`. An existing file is first renamed to `NAME.<unix time>` (with
/// `.1`, `.2`... appended if that name is taken too): key files are never overwritten. Missing
/// directories are created (mode 0700). Returns the name the previous file was moved to.
pub fn write_key_file(path: &Path, data: &[u8], mode: u32) -> Result<Option<PathBuf>> {
    let shown = path.display();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_dirs(dir)
            .map_err(|e| Error::io(format!("cannot create key directory {}", dir.display()), e))?;
    }
    let backup = if fs::symlink_metadata(path).is_ok() {
        let backup = backup_name(path);
        fs::rename(path, &backup).map_err(|e| {
            Error::io(
                format!(
                    "cannot move the existing key file {shown} aside to {}",
                    backup.display()
                ),
                e,
            )
        })?;
        Some(backup)
    } else {
        None
    };
    let mut f = open_new(path, mode)
        .map_err(|e| Error::io(format!("cannot create key file {shown}"), e))?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(format!("cannot write key file {shown}"), e))?;
    Ok(backup)
}

fn backup_name(path: &Path) -> PathBuf {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let base = format!("{}.{now}", path.display());
    let mut candidate = PathBuf::from(&base);
    let mut n = 1;
    while fs::symlink_metadata(&candidate).is_ok() {
        candidate = PathBuf::from(format!("{base}.{n}"));
        n += 1;
    }
    candidate
}

#[cfg(unix)]
fn create_dirs(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_dirs(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn open_new(path: &Path, mode: u32) -> std::io::Result<fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode & 0o7777)
        .open(path)?;
    // The umask may have taken bits away from `mode`; the file must have exactly `mode`.
    f.set_permissions(fs::Permissions::from_mode(mode & 0o7777))?;
    Ok(f)
}

#[cfg(not(unix))]
fn open_new(path: &Path, _mode: u32) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn set_mode(p: &Path, mode: u32) {
        fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn modes_parse_as_octal() {
        assert_eq!(parse_mode("0644").unwrap(), 0o644);
        assert_eq!(parse_mode("640").unwrap(), 0o640);
        assert_eq!(parse_mode("0o600").unwrap(), 0o600);
        assert_eq!(parse_mode("100600").unwrap(), 0o600);
        assert!(parse_mode("rw-r--r--").is_err());
        assert!(parse_mode("").is_err());
        assert_eq!(format_mode(0o100644), "0644");
    }

    #[test]
    fn writes_with_mode_and_keeps_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/dir/app_v1.kekek");
        assert_eq!(write_key_file(&p, b"first", 0o640).unwrap(), None);
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o7777,
            0o640
        );
        let b1 = write_key_file(&p, b"second", 0o600).unwrap().unwrap();
        let b2 = write_key_file(&p, b"third", 0o600).unwrap().unwrap();
        assert_ne!(b1, b2);
        assert_eq!(fs::read(&b1).unwrap(), b"first");
        assert_eq!(fs::read(&b2).unwrap(), b"second");
        assert_eq!(fs::read(&p).unwrap(), b"third");
        assert!(b1
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("app_v1.kekek."));
    }

    #[test]
    fn mode_and_owner_checks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        fs::write(&p, b"0123456789abcdef").unwrap();
        set_mode(&p, 0o644);
        let err = read_key_file(&p, &FilePolicy::default()).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Keystore);
        let msg = err.to_string();
        assert!(msg.contains("mode 0644"), "{msg}");
        assert!(msg.contains("chmod 600"), "{msg}");
        assert!(msg.contains("permissions: '0644'"), "{msg}");

        let wide = FilePolicy {
            permissions: vec![0o600, 0o644],
            ..FilePolicy::default()
        };
        assert_eq!(
            read_key_file(&p, &wide).unwrap().as_bytes(),
            b"0123456789abcdef"
        );

        set_mode(&p, 0o400);
        read_key_file(&p, &FilePolicy::default()).unwrap();

        let me = users::current_uid();
        let by_id = FilePolicy {
            owner: vec![Principal::Id(me)],
            ..FilePolicy::default()
        };
        read_key_file(&p, &by_id).unwrap();
        let other = FilePolicy {
            owner: vec![Principal::Id(me + 4242)],
            ..FilePolicy::default()
        };
        let msg = read_key_file(&p, &other).unwrap_err().to_string();
        assert!(msg.contains("owner setting allows only"), "{msg}");
        let nobody = FilePolicy {
            owner: vec![Principal::Name("no-such-user-xyz".into())],
            ..FilePolicy::default()
        };
        let msg = read_key_file(&p, &nobody).unwrap_err().to_string();
        assert!(
            msg.contains("no user or group named no-such-user-xyz"),
            "{msg}"
        );
        if let Some(name) = users::user_name(me) {
            let by_name = FilePolicy {
                owner: vec![Principal::Name(name)],
                ..FilePolicy::default()
            };
            read_key_file(&p, &by_name).unwrap();
        }
        let gid = {
            use std::os::unix::fs::MetadataExt;
            fs::metadata(&p).unwrap().gid()
        };
        let group_ok = FilePolicy {
            group: vec![Principal::Id(gid)],
            ..FilePolicy::default()
        };
        read_key_file(&p, &group_ok).unwrap();
        let group_bad = FilePolicy {
            group: vec![Principal::Id(gid + 4242)],
            ..FilePolicy::default()
        };
        let msg = read_key_file(&p, &group_bad).unwrap_err().to_string();
        assert!(msg.contains("group setting allows only"), "{msg}");
    }

    #[test]
    fn missing_file_names_it() {
        let err =
            read_key_file(Path::new("/nonexistent/k.key"), &FilePolicy::default()).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Keystore);
        assert!(err.to_string().contains("/nonexistent/k.key not found"));
    }
}
