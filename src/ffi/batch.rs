//! Many values in one call: `se_encrypt_batch` / `se_decrypt_batch` (packed in and out, a
//! status per value, for bindings that pay per crossing) and `se_encrypt_many` /
//! `se_decrypt_many` (an array of slices, all-or-nothing). All of them run large batches on
//! several threads (see `crate::batch`).

use super::context::{ctx_ref, se_context};
use super::value::{options, se_bytes_free, se_encrypt_options};
use super::{bytes, bytes_out, check_out, guard, guard_value, se_bytes, se_status, write_out};
use crate::batch::{self, Packed};
use crate::error::Error;

/// A borrowed input buffer, for the batch calls.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct se_slice {
    /// The bytes (NULL allowed when `len` is 0).
    pub data: *const u8,
    /// Their number.
    pub len: usize,
}

/// The results of `se_encrypt_batch` / `se_decrypt_batch`, owned by the library: read them
/// with `se_batch_data`, `se_batch_offsets` and `se_batch_statuses`, free with
/// `se_batch_free` (which wipes the data). Immutable: may be read from several threads.
pub struct se_batch {
    packed: Packed,
    statuses: Vec<i32>,
}

/// How the values of a packed call are laid out in `data`.
enum Layout {
    /// `count + 1` offsets: value `i` is `data[offsets[i]..offsets[i + 1]]`.
    Offsets(*const usize, usize),
    /// Values separated by this byte (which no value contains).
    Separator(u8),
}

/// The values of `data` between the bytes `sep` (one more than there are separators).
fn split_at(data: &[u8], sep: u8) -> Vec<&[u8]> {
    let mut values = Vec::with_capacity(data.len() / 64 + 1);
    let mut start = 0;
    for end in memchr::memchr_iter(sep, data) {
        values.push(&data[start..end]);
        start = end + 1;
    }
    values.push(&data[start..]);
    values
}

/// The values `offsets` describes, checked against `data`.
///
/// # Safety
/// `offsets` NULL or valid for `count + 1` items.
unsafe fn by_offsets(
    data: &[u8],
    offsets: *const usize,
    count: usize,
) -> Result<Vec<&[u8]>, Error> {
    if offsets.is_null() {
        return Err(Error::Argument(
            "offsets is NULL: pass count + 1 offsets (0 and then where each value ends)".into(),
        ));
    }
    // SAFETY: non-NULL, valid for count + 1 items per the contract.
    let offsets = unsafe { std::slice::from_raw_parts(offsets, count.saturating_add(1)) };
    for i in 0..count {
        if offsets[i] > offsets[i + 1] || offsets[i + 1] > data.len() {
            return Err(Error::Argument(format!(
                "offsets[{}] = {} and offsets[{}] = {} do not describe a value inside the {} \
                 bytes of data: offsets must not decrease and must end within data_len",
                i,
                offsets[i],
                i + 1,
                offsets[i + 1],
                data.len()
            )));
        }
    }
    Ok((0..count)
        .map(|i| &data[offsets[i]..offsets[i + 1]])
        .collect())
}

/// Shared shape of the packed calls: validates the packed input and hands `run` the values.
///
/// # Safety
/// As for the exported batch functions.
#[allow(clippy::too_many_arguments)]
unsafe fn packed_call(
    name: &str,
    ctx: *const se_context,
    data: *const u8,
    data_len: usize,
    layout: Layout,
    out: *mut *mut se_batch,
    run: impl FnOnce(&crate::Context, &[&[u8]]) -> Result<Packed, Error>,
) -> se_status {
    if !out.is_null() {
        // SAFETY: non-NULL out-parameter, writable per the caller's contract.
        unsafe { out.write(std::ptr::null_mut()) };
    }
    guard(name, || {
        check_out(out, "out")?;
        // SAFETY: caller's contract: ctx live, data valid for data_len.
        let (ctx, data) = unsafe { (ctx_ref(ctx)?, bytes(data, data_len, "data")?) };
        let values: Vec<&[u8]> = match layout {
            // SAFETY: forwarded caller contract on offsets.
            Layout::Offsets(offsets, count) => unsafe { by_offsets(data, offsets, count)? },
            Layout::Separator(sep) => split_at(data, sep),
        };
        let count = values.len();
        let packed = run(ctx, &values)?;
        let statuses = {
            let mut s = vec![se_status::SE_OK as i32; count];
            for &(i, kind) in &packed.failed {
                s[i] = se_status::from(kind) as i32;
            }
            s
        };
        let batch = Box::new(se_batch { packed, statuses });
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, Box::into_raw(batch), "out") }
    })
}

/// Encrypts `count` values with the same `options` (NULL = defaults) in one call, each with
/// its own result. The values are packed: value `i` is `data[offsets[i] .. offsets[i + 1]]`,
/// so `offsets` has `count + 1` entries (usually 0, then where each value ends). Large batches
/// run on several threads: at most `threads`, or when it is 0 `SYMMETRIC_ENCRYPTION_THREADS`,
/// else every CPU; batches under 2048 values and 1 MiB stay on the calling thread.
///
/// One value that fails does not fail the call: `se_batch_statuses` gives each value's status,
/// and a failed value's slot holds its error message (UTF-8) instead of a result. On success
/// `*out` holds the results; free it with `se_batch_free`. Errors of the call itself:
/// `SE_ERROR_ARGUMENT` (NULL `ctx`, `out` or `offsets`, offsets that decrease or run past
/// `data_len`, a bad `SYMMETRIC_ENCRYPTION_THREADS`), `SE_ERROR_CIPHER` (`options.version` is
/// not configured).
///
/// # Safety
/// `ctx` a live context; `data` valid for `data_len` bytes; `offsets` valid for `count + 1`
/// items; `options` NULL or readable; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_encrypt_batch(
    ctx: *const se_context,
    data: *const u8,
    data_len: usize,
    offsets: *const usize,
    count: usize,
    options: *const se_encrypt_options,
    threads: usize,
    out: *mut *mut se_batch,
) -> se_status {
    // SAFETY: forwarded caller contract.
    let opts = unsafe { self::options(options) };
    // SAFETY: forwarded caller contract.
    unsafe {
        packed_call(
            "se_encrypt_batch",
            ctx,
            data,
            data_len,
            Layout::Offsets(offsets, count),
            out,
            |c, values| c.encrypt_packed(values, &opts?, threads),
        )
    }
}

/// Decrypts `count` packed values in one call, each with its own result (the plaintexts, or
/// a failed value's message). As `se_encrypt_batch` for packing, threads and failures; a
/// value's status is what `se_decrypt` would return for it.
///
/// # Safety
/// As `se_encrypt_batch`.
#[no_mangle]
pub unsafe extern "C" fn se_decrypt_batch(
    ctx: *const se_context,
    data: *const u8,
    data_len: usize,
    offsets: *const usize,
    count: usize,
    threads: usize,
    out: *mut *mut se_batch,
) -> se_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        packed_call(
            "se_decrypt_batch",
            ctx,
            data,
            data_len,
            Layout::Offsets(offsets, count),
            out,
            |c, values| c.decrypt_packed(values, threads),
        )
    }
}

/// As `se_encrypt_batch`, with the values separated by the byte `sep` instead of described by
/// offsets (`data_len` 0 is one empty value; use `se_encrypt_batch` with `count` 0 for none).
/// For bindings whose language joins and splits strings fast (Python, Ruby): a NUL separator
/// when no value contains NUL. Read the results with the offsets, or joined again with
/// `se_batch_join`.
///
/// # Safety
/// As `se_encrypt_batch`, without `offsets`.
#[no_mangle]
pub unsafe extern "C" fn se_encrypt_batch_split(
    ctx: *const se_context,
    data: *const u8,
    data_len: usize,
    sep: u8,
    options: *const se_encrypt_options,
    threads: usize,
    out: *mut *mut se_batch,
) -> se_status {
    // SAFETY: forwarded caller contract.
    let opts = unsafe { self::options(options) };
    // SAFETY: forwarded caller contract.
    unsafe {
        packed_call(
            "se_encrypt_batch_split",
            ctx,
            data,
            data_len,
            Layout::Separator(sep),
            out,
            |c, values| c.encrypt_packed(values, &opts?, threads),
        )
    }
}

/// As `se_decrypt_batch`, with the values separated by the byte `sep` (see
/// `se_encrypt_batch_split`).
///
/// # Safety
/// As `se_decrypt_batch`, without `offsets`.
#[no_mangle]
pub unsafe extern "C" fn se_decrypt_batch_split(
    ctx: *const se_context,
    data: *const u8,
    data_len: usize,
    sep: u8,
    threads: usize,
    out: *mut *mut se_batch,
) -> se_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        packed_call(
            "se_decrypt_batch_split",
            ctx,
            data,
            data_len,
            Layout::Separator(sep),
            out,
            |c, values| c.decrypt_packed(values, threads),
        )
    }
}

/// The results of `batch` joined by the byte `sep`, in `*out` (free it with `se_bytes_free`,
/// which wipes it): for a language that splits a string faster than it slices one per value.
/// Errors: `SE_ERROR_ARGUMENT` (NULL `batch` or `out`, or `sep` occurs in a result or a failed
/// value's message: then use the offsets).
///
/// # Safety
/// `batch` live; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn se_batch_join(
    batch: *const se_batch,
    sep: u8,
    out: *mut se_bytes,
) -> se_status {
    let body = || {
        // SAFETY: NULL or live per the contract.
        let Some(b) = (unsafe { batch.as_ref() }) else {
            return Err(Error::Argument("batch is NULL".into()));
        };
        let mut joined = b.packed.join(sep)?;
        Ok(std::mem::take(&mut *joined))
    };
    // SAFETY: `out` NULL or writable, per the caller's contract.
    unsafe { bytes_out("se_batch_join", out, body) }
}

/// The number of values in `batch` (0 for NULL).
///
/// # Safety
/// `batch` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn se_batch_count(batch: *const se_batch) -> usize {
    // SAFETY: NULL or live per the contract.
    guard_value("se_batch_count", 0, || {
        unsafe { batch.as_ref() }.map_or(0, |b| b.statuses.len())
    })
}

/// How many values of `batch` failed (0 for NULL).
///
/// # Safety
/// `batch` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn se_batch_failures(batch: *const se_batch) -> usize {
    // SAFETY: NULL or live per the contract.
    guard_value("se_batch_failures", 0, || {
        unsafe { batch.as_ref() }.map_or(0, |b| b.packed.failed.len())
    })
}

/// All results of `batch` in one buffer; `*len` (may be NULL) gets its size. Result `i` is
/// `data[offsets[i] .. offsets[i + 1]]` with `se_batch_offsets`. Owned by the batch: valid
/// until `se_batch_free`. NULL when the buffer is empty or `batch` is NULL.
///
/// # Safety
/// `batch` NULL or live; `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn se_batch_data(batch: *const se_batch, len: *mut usize) -> *const u8 {
    guard_value("se_batch_data", std::ptr::null(), || {
        // SAFETY: NULL or live per the contract.
        let data: &[u8] = unsafe { batch.as_ref() }.map_or(&[], |b| b.packed.data());
        if !len.is_null() {
            // SAFETY: non-NULL, writable per the contract.
            unsafe { len.write(data.len()) };
        }
        if data.is_empty() {
            std::ptr::null()
        } else {
            data.as_ptr()
        }
    })
}

/// The `count + 1` offsets of `batch`'s results into `se_batch_data` (the first is 0). Owned
/// by the batch; NULL for a NULL batch.
///
/// # Safety
/// `batch` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn se_batch_offsets(batch: *const se_batch) -> *const usize {
    guard_value("se_batch_offsets", std::ptr::null(), || {
        // SAFETY: NULL or live per the contract.
        unsafe { batch.as_ref() }.map_or(std::ptr::null(), |b| b.packed.offsets().as_ptr())
    })
}

/// The `count` statuses of `batch`'s values (`se_status` values as `int32_t`: 0 = `SE_OK`).
/// Owned by the batch; NULL for a NULL or empty batch.
///
/// # Safety
/// `batch` NULL or live.
#[no_mangle]
pub unsafe extern "C" fn se_batch_statuses(batch: *const se_batch) -> *const i32 {
    guard_value("se_batch_statuses", std::ptr::null(), || {
        // SAFETY: NULL or live per the contract.
        match unsafe { batch.as_ref() } {
            Some(b) if !b.statuses.is_empty() => b.statuses.as_ptr(),
            _ => std::ptr::null(),
        }
    })
}

/// Frees `batch`, wiping its data. NULL is accepted.
///
/// # Safety
/// `batch` NULL or a live batch, not used again.
#[no_mangle]
pub unsafe extern "C" fn se_batch_free(batch: *mut se_batch) {
    guard_value("se_batch_free", (), || {
        if !batch.is_null() {
            // SAFETY: from Box::into_raw in packed_call, freed once per the contract.
            drop(unsafe { Box::from_raw(batch) });
        }
    })
}

/// The most threads a batch call given `threads` may use, as the library resolves it: `threads`
/// when it is positive, else `SYMMETRIC_ENCRYPTION_THREADS`, else the CPUs this process may run
/// on (its CPU affinity and its cgroup's CPU quota). For a binding that schedules its own work
/// around batch calls (the Python and Ruby pipelines), so that it counts threads as the library
/// does. Errors: `SE_ERROR_ARGUMENT` (NULL `out`, a `SYMMETRIC_ENCRYPTION_THREADS` that is not a
/// positive number, with a message saying so).
///
/// # Safety
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn se_batch_thread_limit(threads: usize, out: *mut usize) -> se_status {
    guard("se_batch_thread_limit", || {
        check_out(out, "out")?;
        let limit = batch::thread_limit(threads)?;
        // SAFETY: checked non-NULL above, writable per the contract.
        unsafe { out.write(limit) };
        Ok(())
    })
}

/// The caller's input slices, read from the batch threads.
struct Inputs<'a>(&'a [se_slice]);

// SAFETY: the slices are only read, and the caller's contract keeps the bytes they point to
// valid and unchanged for the duration of the call, whichever thread reads them.
unsafe impl Sync for Inputs<'_> {}

impl Inputs<'_> {
    /// Input `i` (a method, so that closures capture the wrapper, not its slice).
    fn get(&self, i: usize) -> se_slice {
        self.0[i]
    }
}

/// Shared shape of the all-or-nothing batch calls: `prepare` checks what holds for the whole
/// call (its options), then `one` runs over the `count` inputs on the batch threads, each
/// thread writing its results straight into its part of `outs` (no hand-over after them). On
/// failure every output is freed (plaintexts wiped) and empty, `*failed_index` (may be NULL)
/// gets the first failing index and the status is that input's.
///
/// # Safety
/// As for the exported batch functions.
unsafe fn many_call<P, Prepare, One>(
    name: &str,
    ctx: *const se_context,
    inputs: *const se_slice,
    count: usize,
    outs: *mut se_bytes,
    failed_index: *mut usize,
    (prepare, one): (Prepare, One),
) -> se_status
where
    P: Sync,
    Prepare: FnOnce(&crate::Context) -> Result<P, Error>,
    One: Fn(&crate::Context, &P, &[u8]) -> Result<Vec<u8>, Error> + Sync,
{
    guard(name, || {
        if count == 0 {
            return Ok(());
        }
        if inputs.is_null() || outs.is_null() {
            return Err(Error::Argument("inputs or outs is NULL".into()));
        }
        // SAFETY: caller's contract: ctx is live, `inputs` holds `count` slices and `outs` room
        // for `count` se_bytes.
        let (ctx, inputs, outs) = unsafe {
            (
                ctx_ref(ctx)?,
                std::slice::from_raw_parts(inputs, count),
                std::slice::from_raw_parts_mut(outs, count),
            )
        };
        let inputs = Inputs(inputs);
        let (shared, threads) = match prepare(ctx).and_then(|shared| {
            let limit = batch::thread_limit(0)?;
            // The total size only matters when the count alone does not fill every thread:
            // summing a million lengths is a pass over the inputs on this thread alone.
            let total = if count / batch::MIN_VALUES_PER_THREAD >= limit {
                0
            } else {
                inputs.0.iter().map(|s| s.len).sum()
            };
            Ok((shared, batch::threads_for(count, total, limit)))
        }) {
            Ok(ready) => ready,
            Err(e) => {
                // Nothing to free: every output empty, as the contract promises on failure.
                outs.fill_with(|| se_bytes::EMPTY);
                return Err(e);
            }
        };
        // Each thread checks its inputs and writes its results straight into its part of
        // `outs`, stopping at its first failure: nothing after it is kept anyway. The part is
        // emptied first, so that even a panic (an internal error) leaves no stray pointer.
        let inputs = &inputs;
        let failures = batch::split_mut(outs, threads, |range, outs| {
            outs.fill_with(|| se_bytes::EMPTY);
            for (o, i) in outs.iter_mut().zip(range) {
                let s = inputs.get(i);
                // SAFETY: each slice is valid for its length per the contract.
                let result = unsafe { bytes(s.data, s.len, "inputs[i].data") }
                    .and_then(|v| one(ctx, &shared, v));
                match result {
                    Ok(v) => *o = se_bytes::from_boxed(crate::wipe::into_boxed_slice(v)),
                    Err(e) => return Some((i, e)),
                }
            }
            None
        });
        // The ranges are in order, so the first failure found is the lowest index.
        let failure = failures.into_iter().flatten().next();
        if failure.is_some() {
            for o in outs.iter_mut() {
                // SAFETY: every non-empty entry was made above by se_bytes::from_boxed.
                unsafe { se_bytes_free(o) };
            }
        }
        let Some((i, e)) = failure else {
            return Ok(());
        };
        if !failed_index.is_null() {
            // SAFETY: non-NULL, writable per the contract.
            unsafe { failed_index.write(i) };
        }
        Err(e.context(format_args!("value {i}")))
    })
}

/// Encrypts `count` values in one call (bulk work such as re-encrypting a column after a key
/// rotation), with the same `options` for all. `outs` must have room for `count` results; free
/// each with `se_bytes_free`. All or nothing: on failure nothing is left allocated in `outs`,
/// and `*failed_index` (may be NULL) says which input failed first. Large batches run on
/// several threads as for `se_encrypt_batch` with `threads` 0; `se_encrypt_batch` also gives a
/// result per value.
///
/// # Safety
/// `ctx` a live context; `inputs` `count` valid slices; `outs` writable for `count` items.
#[no_mangle]
pub unsafe extern "C" fn se_encrypt_many(
    ctx: *const se_context,
    inputs: *const se_slice,
    count: usize,
    options: *const se_encrypt_options,
    outs: *mut se_bytes,
    failed_index: *mut usize,
) -> se_status {
    // SAFETY: forwarded caller contract.
    let opts = unsafe { self::options(options) };
    // SAFETY: forwarded caller contract.
    unsafe {
        many_call(
            "se_encrypt_many",
            ctx,
            inputs,
            count,
            outs,
            failed_index,
            (
                |c: &crate::Context| {
                    let opts = opts?;
                    c.resolve(&opts)?;
                    Ok(opts)
                },
                |c: &crate::Context, opts: &_, v: &[u8]| c.encrypt(v, opts),
            ),
        )
    }
}

/// Decrypts `count` values in one call. As `se_encrypt_many` for ownership, threads and
/// failures.
///
/// # Safety
/// As `se_encrypt_many`.
#[no_mangle]
pub unsafe extern "C" fn se_decrypt_many(
    ctx: *const se_context,
    inputs: *const se_slice,
    count: usize,
    outs: *mut se_bytes,
    failed_index: *mut usize,
) -> se_status {
    // SAFETY: forwarded caller contract.
    unsafe {
        many_call(
            "se_decrypt_many",
            ctx,
            inputs,
            count,
            outs,
            failed_index,
            (
                |_: &crate::Context| Ok(()),
                |c: &crate::Context, _: &(), v: &[u8]| c.decrypt(v),
            ),
        )
    }
}
