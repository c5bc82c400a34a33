//! `se_context`: one environment's ciphers, built from a configuration or from code.

use std::ffi::c_char;
use std::sync::Arc;

use super::{bytes, check_out, guard, guard_value, opt_str, se_status, write_out};
use crate::cipher::{Cipher, CipherName};
use crate::context::Context;
use crate::encoding::Encoding;
use crate::error::Error;

/// An opaque, immutable set of ciphers (one environment of a configuration). Safe to use from
/// many threads at once. Free with `se_context_free`.
pub struct se_context {
    pub(crate) inner: Arc<Context>,
}

impl se_context {
    pub(crate) fn boxed(ctx: Context) -> *mut se_context {
        Box::into_raw(Box::new(se_context {
            inner: Arc::new(ctx),
        }))
    }
}

/// Borrows a context handle.
///
/// # Safety
/// `ctx` must be NULL or a pointer returned by this library and not yet freed.
pub(crate) unsafe fn ctx_ref<'a>(ctx: *const se_context) -> Result<&'a Context, Error> {
    if ctx.is_null() {
        return Err(Error::Argument("ctx is NULL".into()));
    }
    // SAFETY: non-NULL, and the caller guarantees it is a live handle from se_context_*.
    Ok(unsafe { &(*ctx).inner })
}

/// Loads one environment of a configuration file (the gem's `symmetric-encryption.yml`) with
/// its keys: key files, environment variables or KMS.
///
/// `path` NULL: `SYMMETRIC_ENCRYPTION_CONFIG`, else `config/symmetric-encryption.yml`.
/// `environment` NULL: `SYMMETRIC_ENCRYPTION_ENV`, `RACK_ENV`, `RAILS_ENV`, else "development".
/// Relative key file paths resolve against the process's working directory, as in the gem.
/// On success `*out` owns a new context (free it with `se_context_free`); on failure `*out` is
/// left NULL. The context is immutable and may be shared by many threads.
/// Errors: `SE_ERROR_CONFIG` (file missing or invalid, unknown environment, bad entry: the
/// message names the file, environment and entry), `SE_ERROR_KEYSTORE` (key file missing or
/// with the wrong permissions or owner, variable unset, KMS failure), `SE_ERROR_AUTHENTICATION`
/// (a key-encrypting key does not decrypt its key), `SE_ERROR_ARGUMENT` (NULL out, bad UTF-8).
///
/// # Safety
/// `path` and `environment` NULL or NUL-terminated; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_context_load(
    path: *const c_char,
    environment: *const c_char,
    out: *mut *mut se_context,
) -> se_status {
    // SAFETY: forwarded caller contract; a NULL key_dir is allowed.
    unsafe { se_context_load_in(path, environment, std::ptr::null(), out) }
}

/// As `se_context_load`, from configuration text (`yaml_len` bytes of UTF-8; ERB is processed
/// first, as for files). Relative key file paths resolve against the working directory.
///
/// # Safety
/// `yaml` valid for `yaml_len` bytes; `environment` NULL or NUL-terminated; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_context_load_yaml(
    yaml: *const c_char,
    yaml_len: usize,
    environment: *const c_char,
    out: *mut *mut se_context,
) -> se_status {
    // SAFETY: forwarded caller contract; a NULL key_dir is allowed.
    unsafe { se_context_load_yaml_in(yaml, yaml_len, environment, std::ptr::null(), out) }
}

/// As `se_context_load`, with relative key file paths resolved against `key_dir` instead of
/// the working directory (NULL: the working directory). For a process that loads the
/// configuration of an application started elsewhere: a data-engine worker, a cron job.
///
/// # Safety
/// `path`, `environment` and `key_dir` NULL or NUL-terminated; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_context_load_in(
    path: *const c_char,
    environment: *const c_char,
    key_dir: *const c_char,
    out: *mut *mut se_context,
) -> se_status {
    if !out.is_null() {
        // SAFETY: non-NULL, writable per the contract.
        unsafe { out.write(std::ptr::null_mut()) };
    }
    guard("se_context_load_in", || {
        check_out(out, "out")?;
        // SAFETY: caller's contract.
        let (path, env, dir) = unsafe {
            (
                opt_str(path, "path")?,
                opt_str(environment, "environment")?,
                opt_str(key_dir, "key_dir")?,
            )
        };
        let path = path.map_or_else(crate::config::default_path, Into::into);
        let mut config = crate::Config::from_path(&path)?;
        if let Some(dir) = dir {
            config = config.with_key_dir(dir);
        }
        let ctx = config.context(env)?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, se_context::boxed(ctx), "out") }
    })
}

/// As `se_context_load_yaml`, with relative key file paths resolved against `key_dir` (NULL:
/// the working directory).
///
/// # Safety
/// `yaml` valid for `yaml_len` bytes; `environment` and `key_dir` NULL or NUL-terminated;
/// `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_context_load_yaml_in(
    yaml: *const c_char,
    yaml_len: usize,
    environment: *const c_char,
    key_dir: *const c_char,
    out: *mut *mut se_context,
) -> se_status {
    if !out.is_null() {
        // SAFETY: non-NULL, writable per the contract.
        unsafe { out.write(std::ptr::null_mut()) };
    }
    guard("se_context_load_yaml_in", || {
        check_out(out, "out")?;
        if yaml.is_null() {
            return Err(Error::Argument("yaml is NULL".into()));
        }
        // SAFETY: caller's contract.
        let (text, env, dir) = unsafe {
            (
                bytes(yaml.cast(), yaml_len, "yaml")?,
                opt_str(environment, "environment")?,
                opt_str(key_dir, "key_dir")?,
            )
        };
        let text = std::str::from_utf8(text)
            .map_err(|_| Error::Argument("yaml is not valid UTF-8".into()))?;
        let mut config = crate::Config::from_yaml_str(text, "<yaml>")?;
        if let Some(dir) = dir {
            config = config.with_key_dir(dir);
        }
        let ctx = config.context(env)?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, se_context::boxed(ctx), "out") }
    })
}

/// Frees a context. NULL is accepted. The keys it held (raw key, AES key schedule, GHASH key,
/// HMAC state, configured iv) are zeroized once no other context shares them: contexts made
/// by `se_context_select`, `se_context_combine` and `se_context_with_max_decompressed_size`
/// share their ciphers, and open readers and writers hold them too.
///
/// # Safety
/// `ctx` must be NULL or a handle from this library not yet freed, and no other thread may be
/// using it.
#[no_mangle]
pub unsafe extern "C" fn se_context_free(ctx: *mut se_context) {
    guard_value("se_context_free", (), || {
        if !ctx.is_null() {
            // SAFETY: a live handle created by Box::into_raw in se_context::boxed; the caller
            // gives up its pointer here.
            drop(unsafe { Box::from_raw(ctx) });
        }
    })
}

/// Builds a context holding one cipher, as the gem's `Cipher.new` does.
///
/// `cipher_name`: "aes-256-gcm", "aes-128-cbc", ... (NULL = "aes-256-cbc", the gem's default).
/// `key`/`key_len`: the raw key (16, 24 or 32 bytes to match the cipher). `iv`/`iv_len`: the
/// configured iv, or NULL/0 for none (CBC then uses 16 zero bytes; GCM values never use it).
/// `version`: 0..255. `encoding`: "base64strict" (NULL = default), "base64", "base64urlsafe",
/// "base16" or "none". `always_add_header`: 1 or 0 (-1 = default, 1).
/// On success `*out` owns a new context: free it with `se_context_free`.
/// Errors: `SE_ERROR_ARGUMENT` (NULL key or out, bad version), `SE_ERROR_CONFIG` (unknown
/// cipher or encoding, wrong key or iv length: the message gives the byte counts, never bytes).
///
/// # Safety
/// Pointers must be NULL or valid for the given lengths; strings NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn se_context_new_cipher(
    cipher_name: *const c_char,
    key: *const u8,
    key_len: usize,
    iv: *const u8,
    iv_len: usize,
    version: i32,
    encoding: *const c_char,
    always_add_header: i32,
    out: *mut *mut se_context,
) -> se_status {
    guard("se_context_new_cipher", || {
        check_out(out, "out")?;
        // SAFETY: caller's contract on every pointer argument.
        let (name, key, iv, encoding) = unsafe {
            (
                opt_str(cipher_name, "cipher_name")?,
                bytes(key, key_len, "key")?,
                bytes(iv, iv_len, "iv")?,
                opt_str(encoding, "encoding")?,
            )
        };
        if key.is_empty() {
            return Err(Error::Argument("key is empty".into()));
        }
        let name = CipherName::from_name(name.unwrap_or("aes-256-cbc"))?;
        let version = u8::try_from(version)
            .map_err(|_| Error::Argument(format!("version must be 0..255, got {version}")))?;
        let encoding = encoding
            .map(Encoding::from_name)
            .transpose()?
            .unwrap_or_default();
        let cipher = Cipher::new(name, key, (!iv.is_empty()).then_some(iv))?
            .with_version(version)
            .with_encoding(encoding)
            .with_always_add_header(flag(always_add_header, true, "always_add_header")?);
        let ctx = Context::new(vec![cipher])?;
        // SAFETY: checked non-NULL above; valid for writes per the caller's contract.
        unsafe { write_out(out, se_context::boxed(ctx), "out") }
    })
}

/// Combines contexts into one: the ciphers of `contexts[0]` (its primary becomes the primary),
/// then those of the others, in order. This is how `cipher=` and `secondary_ciphers=` are
/// built from single ciphers. `randomize_iv`: 1 or 0, or -1 to keep that of `contexts[0]`.
/// The inputs are not consumed. Errors: `SE_ERROR_ARGUMENT` (NULL or empty list),
/// `SE_ERROR_CONFIG` (two ciphers with one version, incompatible encodings).
///
/// # Safety
/// `contexts` must point to `count` live context handles.
#[no_mangle]
pub unsafe extern "C" fn se_context_combine(
    contexts: *const *const se_context,
    count: usize,
    randomize_iv: i32,
    out: *mut *mut se_context,
) -> se_status {
    guard("se_context_combine", || {
        check_out(out, "out")?;
        if count == 0 {
            return Err(Error::Argument("contexts is empty".into()));
        }
        if contexts.is_null() {
            return Err(Error::Argument("contexts is NULL".into()));
        }
        // SAFETY: non-NULL, and the caller guarantees `count` handles.
        let list = unsafe { std::slice::from_raw_parts(contexts, count) };
        let mut ciphers = Vec::new();
        let mut first_randomize = false;
        let mut first_limit = crate::DEFAULT_MAX_DECOMPRESSED_SIZE;
        for (i, &c) in list.iter().enumerate() {
            // SAFETY: each element is a live handle per the caller's contract.
            let ctx = unsafe { ctx_ref(c) }
                .map_err(|_| Error::Argument(format!("contexts[{i}] is NULL")))?;
            if i == 0 {
                first_randomize = ctx.randomize_iv();
                first_limit = ctx.max_decompressed_size();
            }
            ciphers.extend(ctx.ciphers().cloned());
        }
        let randomize = if randomize_iv < 0 {
            first_randomize
        } else {
            flag(randomize_iv, false, "randomize_iv")?
        };
        let ctx = Context::new(ciphers)?
            .with_randomize_iv(randomize)
            .with_max_decompressed_size(first_limit);
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, se_context::boxed(ctx), "out") }
    })
}

/// A new context holding only cipher `index` of `ctx` (0 = its primary), with the same
/// `randomize_iv`: how one cipher of a loaded configuration is singled out (the gem's
/// `SymmetricEncryption.cipher(version)` used as a primary). Free `*out` with
/// `se_context_free`. Errors: `SE_ERROR_ARGUMENT` (NULL, index out of range).
///
/// # Safety
/// `ctx` a live handle; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_context_select(
    ctx: *const se_context,
    index: usize,
    out: *mut *mut se_context,
) -> se_status {
    guard("se_context_select", || {
        check_out(out, "out")?;
        // SAFETY: caller's contract.
        let ctx = unsafe { ctx_ref(ctx) }?;
        let count = ctx.ciphers().count();
        let cipher = ctx.ciphers().nth(index).cloned().ok_or_else(|| {
            Error::Argument(format!(
                "index {index} is out of range: the context has {count} ciphers"
            ))
        })?;
        let selected = Context::new(vec![cipher])?
            .with_randomize_iv(ctx.randomize_iv())
            .with_max_decompressed_size(ctx.max_decompressed_size());
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, se_context::boxed(selected), "out") }
    })
}

/// The number of ciphers in `ctx` (0 for NULL). The primary is index 0.
///
/// # Safety
/// `ctx` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn se_context_cipher_count(ctx: *const se_context) -> usize {
    guard_value("se_context_cipher_count", 0, || {
        // SAFETY: caller's contract.
        unsafe { ctx_ref(ctx) }
            .map(|c| c.ciphers().count())
            .unwrap_or(0)
    })
}

/// What a cipher of a context is (never its key or iv).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct se_cipher_info {
    /// 0..255.
    pub version: i32,
    /// e.g. "aes-256-gcm", NUL-terminated.
    pub cipher_name: [c_char; 32],
    /// e.g. "base64strict", NUL-terminated.
    pub encoding: [c_char; 16],
    /// 1 or 0.
    pub always_add_header: i32,
    /// 1 for GCM ciphers, 0 for CBC.
    pub authenticated: i32,
    /// Key length in bytes.
    pub key_len: u32,
    /// Configured iv length in bytes (0 = none).
    pub iv_len: u32,
}

pub(crate) fn fill_name<const N: usize>(dst: &mut [c_char; N], s: &str) {
    *dst = [0; N];
    for (d, b) in dst.iter_mut().zip(s.bytes().take(N - 1)) {
        *d = b as c_char;
    }
}

/// Describes cipher `index` of `ctx` (0 = primary) into `*out`. `randomize_iv` of the context
/// is available from `se_context_randomize_iv`. Errors: `SE_ERROR_ARGUMENT` (NULL, index out
/// of range).
///
/// # Safety
/// `ctx` must be a live handle; `out` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn se_context_cipher_info(
    ctx: *const se_context,
    index: usize,
    out: *mut se_cipher_info,
) -> se_status {
    guard("se_context_cipher_info", || {
        check_out(out, "out")?;
        // SAFETY: caller's contract.
        let ctx = unsafe { ctx_ref(ctx) }?;
        let count = ctx.ciphers().count();
        let c = ctx.ciphers().nth(index).ok_or_else(|| {
            Error::Argument(format!(
                "index {index} is out of range: the context has {count} ciphers"
            ))
        })?;
        let mut info = se_cipher_info {
            version: c.version() as i32,
            cipher_name: [0; 32],
            encoding: [0; 16],
            always_add_header: c.always_add_header() as i32,
            authenticated: c.cipher_name().is_authenticated() as i32,
            key_len: c.key().len() as u32,
            iv_len: c.iv().map_or(0, |iv| iv.len() as u32),
        };
        fill_name(&mut info.cipher_name, c.cipher_name().as_str());
        fill_name(&mut info.encoding, c.encoding().name());
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, info, "out") }
    })
}

/// 1 when values encrypted with `ctx` get a random iv by default, else 0 (also for NULL).
///
/// # Safety
/// `ctx` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn se_context_randomize_iv(ctx: *const se_context) -> i32 {
    guard_value("se_context_randomize_iv", 0, || {
        // SAFETY: caller's contract.
        unsafe { ctx_ref(ctx) }
            .map(|c| c.randomize_iv() as i32)
            .unwrap_or(0)
    })
}

/// Reads a -1/0/1 tri-state flag.
pub(crate) fn flag(v: i32, default: bool, what: &str) -> Result<bool, Error> {
    match v {
        -1 => Ok(default),
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(Error::Argument(format!(
            "{what} must be -1 (default), 0 or 1, got {v}"
        ))),
    }
}

/// A new context with the same ciphers as `ctx` (shared, not copied) and another
/// decompression limit: the most a compressed value may inflate to when `se_decrypt`,
/// `se_decrypt_version`, `se_decrypt_binary`, `se_decrypt_many` or `se_decrypt_into` decrypts
/// it. Every context starts with 64 MiB (67108864 bytes). A value that would inflate past the
/// limit fails with `SE_ERROR_CIPHER` and a message naming the limit, after at most the limit
/// was inflated (and, for `se_decrypt_into`, at most `out_cap` bytes were held). Values that are
/// not compressed are never larger than their ciphertext and are not affected. `ctx` is not
/// changed (contexts are immutable, so threads sharing it are not disturbed); contexts made from
/// the new one by `se_context_select` and `se_context_combine` (as `contexts[0]`) keep its
/// limit. Free `*out` with `se_context_free`.
/// Errors: `SE_ERROR_ARGUMENT` (NULL ctx or out, a limit of 0).
///
/// # Safety
/// `ctx` a live handle; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_context_with_max_decompressed_size(
    ctx: *const se_context,
    max_decompressed_size: u64,
    out: *mut *mut se_context,
) -> se_status {
    if !out.is_null() {
        // SAFETY: non-NULL, writable per the contract.
        unsafe { out.write(std::ptr::null_mut()) };
    }
    guard("se_context_with_max_decompressed_size", || {
        check_out(out, "out")?;
        if max_decompressed_size == 0 {
            return Err(Error::Argument(
                "max_decompressed_size must be at least 1 byte (the default is 67108864, 64 MiB)"
                    .into(),
            ));
        }
        // SAFETY: caller's contract.
        let ctx = unsafe { ctx_ref(ctx) }?;
        let limited = ctx
            .clone()
            .with_max_decompressed_size(max_decompressed_size);
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, se_context::boxed(limited), "out") }
    })
}

/// The decompression limit of `ctx` in bytes (see `se_context_with_max_decompressed_size`;
/// 67108864 unless changed), or 0 for NULL.
///
/// # Safety
/// `ctx` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn se_context_max_decompressed_size(ctx: *const se_context) -> u64 {
    guard_value("se_context_max_decompressed_size", 0, || {
        // SAFETY: caller's contract.
        unsafe { ctx_ref(ctx) }
            .map(|c| c.max_decompressed_size())
            .unwrap_or(0)
    })
}
