//! The C ABI: every `extern "C"` function of the library, and nothing else.
//!
//! Each export runs its body through `guard`, which catches panics (a panic becomes
//! `SE_ERROR_INTERNAL` with a message, never an abort across the boundary), records the
//! message of a failure for `se_last_error`, and turns the crate's [`Error`] into a
//! [`se_status`]. Pointer checks live in the small helpers below so each function body is only
//! its logic. This is the only module with `unsafe` code.

#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, ErrorKind};

mod batch;
mod chunk;
mod config;
mod context;
mod secret;
mod stream;
mod value;

pub use batch::*;
pub use chunk::*;
pub use config::*;
pub use context::*;
pub use secret::*;
pub use stream::*;
pub use value::*;

/// Status of every fallible call. `SE_OK` is success; the message of any other status is
/// available from `se_last_error()` on the same thread.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum se_status {
    /// Success.
    SE_OK = 0,
    /// A bad or NULL argument, a bad option value, invalid UTF-8 where text is required.
    SE_ERROR_ARGUMENT = 1,
    /// The configuration file or an entry is invalid, or the environment is missing.
    SE_ERROR_CONFIG = 2,
    /// A key file, environment variable or KMS problem, including file permissions.
    SE_ERROR_KEYSTORE = 3,
    /// Unknown version, bad header, bad padding, wrong key.
    SE_ERROR_CIPHER = 4,
    /// The auth tag did not match: tampered, truncated, or the wrong key.
    SE_ERROR_AUTHENTICATION = 5,
    /// The input is not valid for the configured encoding.
    SE_ERROR_ENCODING = 6,
    /// File or stream I/O.
    SE_ERROR_IO = 7,
    /// A bug in the library; the message says where.
    SE_ERROR_INTERNAL = 99,
}

impl From<ErrorKind> for se_status {
    fn from(k: ErrorKind) -> Self {
        match k {
            ErrorKind::Argument => se_status::SE_ERROR_ARGUMENT,
            ErrorKind::Config => se_status::SE_ERROR_CONFIG,
            ErrorKind::Keystore => se_status::SE_ERROR_KEYSTORE,
            ErrorKind::Cipher => se_status::SE_ERROR_CIPHER,
            ErrorKind::Authentication => se_status::SE_ERROR_AUTHENTICATION,
            ErrorKind::Encoding => se_status::SE_ERROR_ENCODING,
            ErrorKind::Io => se_status::SE_ERROR_IO,
            ErrorKind::Internal => se_status::SE_ERROR_INTERNAL,
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Runs `body` behind the panic boundary and records its error for `se_last_error`.
pub(crate) fn guard(name: &str, body: impl FnOnce() -> Result<(), Error>) -> se_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => se_status::SE_OK,
        Ok(Err(e)) => {
            set_last_error(&e.to_string());
            e.kind().into()
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(&format!(
                "internal error in {name} (a bug in symmetric-encryption, please report it): {what}"
            ));
            se_status::SE_ERROR_INTERNAL
        }
    }
}

/// Like [`guard`] for functions that cannot fail but must not unwind: a panic gives `fallback`.
pub(crate) fn guard_value<T>(name: &str, fallback: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(_) => {
            set_last_error(&format!("internal error in {name}: a panic was caught"));
            fallback
        }
    }
}

/// The library version, e.g. "0.1.0". A static string: do not free it.
#[no_mangle]
pub extern "C" fn se_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The crypto backend compiled in, e.g. "rustcrypto (...)"; for AWS-LC also its version and
/// whether FIPS mode is active ("aws-lc FIPS (...): AWS-LC 4.2.0, FIPS mode active" in a
/// `fips` build). A static string: do not free it.
#[no_mangle]
pub extern "C" fn se_backend() -> *const c_char {
    static BACKEND: std::sync::OnceLock<CString> = std::sync::OnceLock::new();
    BACKEND
        .get_or_init(|| CString::new(crate::crypto::backend()).unwrap_or_default())
        .as_ptr()
}

/// The message of the last failed call on the calling thread: UTF-8, NUL-terminated, owned by
/// the library, valid until the next failing call on this thread. Never NULL ("" when no call
/// has failed). Messages never contain key material or plaintext.
#[no_mangle]
pub extern "C" fn se_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

// ---- helpers shared by the export modules -------------------------------------------------

/// Borrows `len` bytes at `data`. NULL is accepted only when `len` is 0.
///
/// # Safety
/// `data` must be NULL or point to `len` readable bytes that stay valid and unchanged for the
/// returned lifetime.
pub(crate) unsafe fn bytes<'a>(data: *const u8, len: usize, what: &str) -> Result<&'a [u8], Error> {
    if data.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(Error::Argument(format!(
            "{what} is NULL but its length is {len}"
        )));
    }
    if len > isize::MAX as usize {
        return Err(Error::Argument(format!("{what} length {len} is too large")));
    }
    // SAFETY: non-NULL, length bounded by isize::MAX, and the caller guarantees `len` readable
    // bytes at `data` for 'a.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// Borrows a NUL-terminated UTF-8 string; `None` for NULL.
///
/// # Safety
/// `s` must be NULL or a valid NUL-terminated string that outlives the returned borrow.
pub(crate) unsafe fn opt_str<'a>(s: *const c_char, what: &str) -> Result<Option<&'a str>, Error> {
    if s.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let c = unsafe { CStr::from_ptr(s) };
    c.to_str()
        .map(Some)
        .map_err(|_| Error::Argument(format!("{what} is not valid UTF-8")))
}

/// Like [`opt_str`], but NULL is an argument error.
///
/// # Safety
/// As [`opt_str`].
pub(crate) unsafe fn req_str<'a>(s: *const c_char, what: &str) -> Result<&'a str, Error> {
    // SAFETY: forwarded contract.
    unsafe { opt_str(s, what) }?.ok_or_else(|| Error::Argument(format!("{what} is NULL")))
}

/// Checks an out-pointer and writes `value` through it.
///
/// # Safety
/// `out` must be NULL or valid for a write of `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T, what: &str) -> Result<(), Error> {
    if out.is_null() {
        return Err(Error::Argument(format!(
            "{what} (the out-parameter) is NULL"
        )));
    }
    // SAFETY: non-NULL, and the caller guarantees it is valid for writes of T.
    unsafe { out.write(value) };
    Ok(())
}

/// Rejects a NULL out-pointer before any work is done.
pub(crate) fn check_out<T>(out: *mut T, what: &str) -> Result<(), Error> {
    if out.is_null() {
        Err(Error::Argument(format!(
            "{what} (the out-parameter) is NULL"
        )))
    } else {
        Ok(())
    }
}

/// Shared shape of the calls that give one `se_bytes` in `out`: `*out` is emptied first (so a
/// failed call leaves nothing to free), a NULL `out` fails before `body` runs, and on success
/// `body`'s bytes are handed over (free them with `se_bytes_free`).
///
/// # Safety
/// `out` NULL or valid for a write of an `se_bytes`.
pub(crate) unsafe fn bytes_out(
    name: &str,
    out: *mut se_bytes,
    body: impl FnOnce() -> Result<Vec<u8>, Error>,
) -> se_status {
    if !out.is_null() {
        // SAFETY: non-NULL out-parameter, writable per the caller's contract.
        unsafe { out.write(se_bytes::EMPTY) };
    }
    guard(name, || {
        check_out(out, "out")?;
        let result = body()?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, se_bytes::from_vec(result), "out") }
    })
}
