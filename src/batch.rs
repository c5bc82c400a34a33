//! Many values in one call: [`Context::encrypt_many`] and [`Context::decrypt_many`], with a
//! result per value, run on all cores when the batch is large enough to gain from it.
//!
//! The work is split into contiguous ranges, one per thread, on scoped threads started for
//! the call and joined before it returns. There is no pool that outlives a call, so nothing
//! is left running in a process that forks (the C ABI is used from pre-forking servers), and
//! nothing is shared between calls. Small batches run on the calling thread: a thread is only
//! started for at least [`MIN_VALUES_PER_THREAD`] values or [`MIN_BYTES_PER_THREAD`] bytes.
//!
//! The number of threads is, in order: the `threads` argument when it is not 0, else the
//! `SYMMETRIC_ENCRYPTION_THREADS` environment variable, else the number of CPUs the process
//! may use ([`std::thread::available_parallelism`]).

use std::ops::Range;
use std::sync::OnceLock;

use zeroize::Zeroizing;

use crate::context::{Context, EncryptOptions};
use crate::error::{Error, ErrorKind, Result};

/// The environment variable that caps the threads of a batch call when its `threads` is 0.
pub const THREADS_ENV: &str = "SYMMETRIC_ENCRYPTION_THREADS";

/// A thread is started only for at least this many values...
pub const MIN_VALUES_PER_THREAD: usize = 2048;

/// ... or this many input bytes.
pub const MIN_BYTES_PER_THREAD: usize = 1 << 20;

/// The most threads a batch call uses for `threads` (0 = the default: see the module docs).
///
/// An invalid `SYMMETRIC_ENCRYPTION_THREADS` (not a positive integer) is an error rather than
/// a silent fallback, so that a typo in a deployment does not go unnoticed.
pub fn thread_limit(threads: usize) -> Result<usize> {
    if threads > 0 {
        return Ok(threads);
    }
    match std::env::var(THREADS_ENV) {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(Error::Argument(format!(
                "{THREADS_ENV} must be a positive number of threads, not {v:?}: set it to \
                 1 or more, or unset it to use every CPU"
            ))),
        },
        Err(_) => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// How many threads to use for `count` values of `bytes` bytes in all, at most `limit`.
pub fn threads_for(count: usize, bytes: usize, limit: usize) -> usize {
    let by_count = count / MIN_VALUES_PER_THREAD;
    let by_bytes = bytes / MIN_BYTES_PER_THREAD;
    by_count
        .max(by_bytes)
        .clamp(1, limit.max(1))
        .min(count.max(1))
}

/// Runs `work` over `0..count` split into `threads` contiguous ranges and returns the results
/// of the ranges in order. One range runs on the calling thread. A panic in a worker is
/// raised again on the calling thread.
pub fn split<T: Send>(
    count: usize,
    threads: usize,
    work: impl Fn(Range<usize>) -> T + Sync,
) -> Vec<T> {
    let threads = threads.clamp(1, count.max(1));
    if threads == 1 {
        return vec![work(0..count)];
    }
    let ranges: Vec<Range<usize>> = (0..threads)
        .map(|t| t * count / threads..(t + 1) * count / threads)
        .collect();
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = ranges[1..]
            .iter()
            .cloned()
            .map(|r| scope.spawn(move || work(r)))
            .collect();
        let mut out = Vec::with_capacity(threads);
        out.push(work(ranges[0].clone()));
        for h in handles {
            match h.join() {
                Ok(v) => out.push(v),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

/// As [`split`], with `items` (one per index) cut into the same ranges: each range's work gets
/// its own part of `items` to write, so results go straight where the caller wants them.
pub fn split_mut<E: Send, T: Send>(
    items: &mut [E],
    threads: usize,
    work: impl Fn(Range<usize>, &mut [E]) -> T + Sync,
) -> Vec<T> {
    let count = items.len();
    let threads = threads.clamp(1, count.max(1));
    if threads == 1 {
        return vec![work(0..count, items)];
    }
    let mut parts = Vec::with_capacity(threads);
    let mut rest = items;
    for t in 0..threads {
        let range = t * count / threads..(t + 1) * count / threads;
        let (part, tail) = rest.split_at_mut(range.len());
        parts.push((range, part));
        rest = tail;
    }
    let work = &work;
    std::thread::scope(|scope| {
        let mut parts = parts.into_iter();
        let (first_range, first) = parts.next().expect("threads >= 2");
        let handles: Vec<_> = parts
            .map(|(r, part)| scope.spawn(move || work(r, part)))
            .collect();
        let mut out = Vec::with_capacity(threads);
        out.push(work(first_range, first));
        for h in handles {
            match h.join() {
                Ok(v) => out.push(v),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

impl Context {
    /// Encrypts every value of `values` with the same `opts`, and returns a result per value,
    /// in order: one value that fails does not lose the others. Large batches run on up to
    /// `threads` threads (0 = the default: `SYMMETRIC_ENCRYPTION_THREADS`, else every CPU).
    ///
    /// Fails as a whole only for a bad `SYMMETRIC_ENCRYPTION_THREADS`.
    pub fn encrypt_many<V: AsRef<[u8]> + Sync>(
        &self,
        values: &[V],
        opts: &EncryptOptions,
        threads: usize,
    ) -> Result<Vec<Result<Vec<u8>>>> {
        self.many(values, threads, |v| self.encrypt(v, opts))
    }

    /// Decrypts every value of `values` and returns a result per value, in order. As
    /// [`Context::encrypt_many`] for threads and failures.
    pub fn decrypt_many<V: AsRef<[u8]> + Sync>(
        &self,
        values: &[V],
        threads: usize,
    ) -> Result<Vec<Result<Vec<u8>>>> {
        self.many(values, threads, |v| self.decrypt(v))
    }

    fn many<V: AsRef<[u8]> + Sync>(
        &self,
        values: &[V],
        threads: usize,
        one: impl Fn(&[u8]) -> Result<Vec<u8>> + Sync,
    ) -> Result<Vec<Result<Vec<u8>>>> {
        let limit = thread_limit(threads)?;
        let bytes = values.iter().map(|v| v.as_ref().len()).sum();
        let n = threads_for(values.len(), bytes, limit);
        let parts = split(values.len(), n, |r| {
            values[r]
                .iter()
                .map(|v| one(v.as_ref()))
                .collect::<Vec<_>>()
        });
        Ok(parts.into_iter().flatten().collect())
    }
}

/// The results of a batch (the C ABI's `se_batch`), as the threads left them: one buffer per
/// thread, so that a caller that joins them (`se_batch_join`) copies them once. For a value
/// that failed, its slot holds the error's message instead, and `failed` names its index and
/// kind (in index order). [`Packed::data`] and [`Packed::offsets`] give them as one buffer
/// (value `i` is `data[offsets[i]..offsets[i + 1]]`), built on first use. Every buffer is
/// wiped when dropped.
pub(crate) struct Packed {
    parts: Vec<Part>,
    count: usize,
    pub failed: Vec<(usize, ErrorKind)>,
    flat: OnceLock<Flat>,
}

/// [`Packed`] as one buffer: `data` is None when there is one part (then it is the buffer).
struct Flat {
    data: Option<Zeroizing<Vec<u8>>>,
    offsets: Vec<usize>,
}

impl Packed {
    fn flat(&self) -> &Flat {
        self.flat.get_or_init(|| {
            let mut offsets = Vec::with_capacity(self.count + 1);
            offsets.push(0);
            let mut end = 0;
            for part in &self.parts {
                for len in &part.lens {
                    end += len;
                    offsets.push(end);
                }
            }
            let data = (self.parts.len() > 1).then(|| {
                let mut data = Zeroizing::new(Vec::with_capacity(end));
                for part in &self.parts {
                    data.extend_from_slice(&part.data);
                }
                data
            });
            Flat { data, offsets }
        })
    }

    /// Every result, one after the other.
    pub fn data(&self) -> &[u8] {
        match (&self.flat().data, self.parts.first()) {
            (Some(data), _) => data,
            (None, Some(part)) => &part.data,
            (None, None) => &[],
        }
    }

    /// The `count + 1` offsets of the results into [`Packed::data`].
    pub fn offsets(&self) -> &[usize] {
        &self.flat().offsets
    }

    /// The results joined by `sep` (wiped when dropped). Fails when a result contains `sep`.
    pub fn join(&self, sep: u8) -> Result<Zeroizing<Vec<u8>>> {
        let mut total = self.count.saturating_sub(1);
        for part in &self.parts {
            if memchr::memchr(sep, &part.data).is_some() {
                return Err(Error::Argument(format!(
                    "a result contains the separator byte {sep}: read the results by their offsets"
                )));
            }
            total += part.data.len();
        }
        let mut joined = Zeroizing::new(Vec::with_capacity(total));
        let mut first = true;
        for part in &self.parts {
            let mut at = 0;
            for &len in &part.lens {
                if !first {
                    joined.push(sep);
                }
                first = false;
                joined.extend_from_slice(&part.data[at..at + len]);
                at += len;
            }
        }
        Ok(joined)
    }
}

/// One thread's share of a [`Packed`].
#[derive(Default)]
struct Part {
    data: Zeroizing<Vec<u8>>,
    lens: Vec<usize>,
    failed: Vec<(usize, ErrorKind)>,
}

impl Context {
    /// Encrypts `values` into one [`Packed`].
    pub(crate) fn encrypt_packed(
        &self,
        values: &[&[u8]],
        opts: &EncryptOptions,
        threads: usize,
    ) -> Result<Packed> {
        // Resolved once, so that a bad option fails the call instead of every value.
        self.resolve(opts)?;
        pack(values, threads, false, |v, _, out| {
            out.extend_from_slice(&self.encrypt(v, opts)?);
            Ok(())
        })
    }

    /// Decrypts `values` into one [`Packed`].
    pub(crate) fn decrypt_packed(&self, values: &[&[u8]], threads: usize) -> Result<Packed> {
        pack(values, threads, true, |v, scratch, out| {
            self.decrypt_append(v, scratch, out)
        })
    }
}

/// Runs `one(value, scratch, out)` over `values` on up to `threads` threads: it appends the
/// value's result to `out`, its thread's results buffer, and may use `scratch`, a buffer
/// each thread reuses from value to value. `plaintext`: the results are plaintexts.
fn pack(
    values: &[&[u8]],
    threads: usize,
    plaintext: bool,
    one: impl Fn(&[u8], &mut Vec<u8>, &mut Vec<u8>) -> Result<()> + Sync,
) -> Result<Packed> {
    let count = values.len();
    let bytes = values.iter().map(|v| v.len()).sum();
    let n = threads_for(count, bytes, thread_limit(threads)?);
    let mut parts = split(count, n, |range| {
        // Room for the results up front (a plaintext is shorter than its encoded value; an
        // encrypted value a third longer than its plaintext plus a header, iv and tag), so
        // that the buffer rarely grows (each growth copies and wipes it).
        let input: usize = values[range.clone()].iter().map(|v| v.len()).sum();
        let room = if plaintext {
            input / 4 * 3
        } else {
            input / 3 * 4 + range.len() * 96
        };
        let mut part = Part {
            data: Zeroizing::new(Vec::with_capacity(room)),
            lens: Vec::with_capacity(range.len()),
            ..Part::default()
        };
        let mut scratch = Vec::new();
        for i in range {
            let at = part.data.len();
            if let Err(e) = one(values[i], &mut scratch, &mut part.data) {
                // Whatever the failed value left is wiped, and its message takes its place.
                crate::wipe::resize(&mut part.data, at);
                crate::wipe::extend(&mut part.data, e.to_string().as_bytes());
                part.failed.push((i, e.kind()));
            }
            part.lens.push(part.data.len() - at);
        }
        part
    });
    let mut failed = Vec::new();
    for part in &mut parts {
        failed.append(&mut part.failed);
    }
    Ok(Packed {
        parts,
        count,
        failed,
        flat: OnceLock::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The batches' decrypt path (`decrypt_append`, in place for plain GCM values) gives what
    /// `decrypt` gives, for every kind of value, and on failure the same error; the caller's
    /// results before it are untouched.
    #[test]
    fn decrypt_append_is_decrypt() {
        let ctx = crate::context::samples::context();
        let plain = b"some plaintext, long enough to compress: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let values = crate::context::samples::values(&ctx, &[plain]);
        let mut scratch = Vec::new();
        for (n, v) in values.iter().enumerate() {
            let mut out = b"earlier results".to_vec();
            let got = ctx.decrypt_append(v, &mut scratch, &mut out);
            match ctx.decrypt(v) {
                Ok(want) => {
                    assert!(got.is_ok(), "value {n}: {got:?}");
                    assert_eq!(&out[..15], b"earlier results", "value {n}");
                    assert_eq!(&out[15..], &want[..], "value {n}");
                }
                Err(want) => {
                    let got = got.expect_err("decrypt failed, decrypt_append must too");
                    assert_eq!(
                        (got.kind(), got.to_string()),
                        (want.kind(), want.to_string())
                    );
                    assert_eq!(&out[..15], b"earlier results", "value {n}");
                }
            }
        }
    }

    #[test]
    fn small_batches_stay_on_one_thread() {
        assert_eq!(threads_for(0, 0, 8), 1);
        assert_eq!(threads_for(10, 100, 8), 1);
        assert_eq!(threads_for(MIN_VALUES_PER_THREAD * 3, 0, 8), 3);
        assert_eq!(threads_for(MIN_VALUES_PER_THREAD * 100, 0, 2), 2);
        // Few values, many bytes: one thread per value at most.
        assert_eq!(threads_for(2, 64 << 20, 8), 2);
        assert_eq!(threads_for(1, 64 << 20, 8), 1);
    }

    #[test]
    fn split_covers_every_index_once_in_order() {
        for (count, threads) in [(0, 1), (1, 4), (7, 3), (10_000, 4), (5, 5)] {
            let parts = split(count, threads, |r| r.collect::<Vec<_>>());
            let all: Vec<usize> = parts.into_iter().flatten().collect();
            assert_eq!(all, (0..count).collect::<Vec<_>>(), "{count} on {threads}");
        }
    }

    #[test]
    fn split_mut_hands_each_range_its_items() {
        for (count, threads) in [(0, 1), (1, 4), (7, 3), (10_000, 4), (5, 5)] {
            let mut items = vec![usize::MAX; count];
            let parts = split_mut(&mut items, threads, |r, part| {
                assert_eq!(r.len(), part.len());
                for (slot, i) in part.iter_mut().zip(r.clone()) {
                    *slot = i;
                }
                r
            });
            assert_eq!(
                items,
                (0..count).collect::<Vec<_>>(),
                "{count} on {threads}"
            );
            let ranges: Vec<usize> = parts.into_iter().flatten().collect();
            assert_eq!(ranges, (0..count).collect::<Vec<_>>());
        }
    }

    /// Each thread's buffer is kept as it is; data, offsets and join read across them.
    #[test]
    fn packed_results_read_the_same_from_one_part_or_many() {
        let count = MIN_VALUES_PER_THREAD * 3 + 17;
        let inputs: Vec<Vec<u8>> = (0..count)
            .map(|i| vec![b'a' + (i % 7) as u8; i % 5])
            .collect();
        let values: Vec<&[u8]> = inputs.iter().map(|v| v.as_slice()).collect();
        let one = |v: &[u8]| -> Result<Vec<u8>> {
            if v.len() == 3 && v[0] == b'c' {
                Err(Error::Cipher("refused".into()))
            } else {
                Ok(v.iter().rev().copied().collect())
            }
        };
        let expected: Vec<Vec<u8>> = values
            .iter()
            .map(|v| one(v).unwrap_or_else(|e| e.to_string().into_bytes()))
            .collect();
        // As pack calls it: appends, and a failure may leave a partial result behind.
        let append = |v: &[u8], _: &mut Vec<u8>, out: &mut Vec<u8>| -> Result<()> {
            match one(v) {
                Ok(r) => out.extend_from_slice(&r),
                Err(e) => {
                    out.extend_from_slice(b"left behind");
                    return Err(e);
                }
            }
            Ok(())
        };
        for threads in [1, 3] {
            let packed = pack(&values, threads, true, append).unwrap();
            assert_eq!(packed.parts.len(), threads);
            let (data, offsets) = (packed.data(), packed.offsets());
            assert_eq!(offsets.len(), count + 1);
            for (i, want) in expected.iter().enumerate() {
                assert_eq!(&data[offsets[i]..offsets[i + 1]], &want[..], "value {i}");
            }
            let failed: Vec<usize> = packed.failed.iter().map(|f| f.0).collect();
            let want_failed: Vec<usize> = (0..count)
                .filter(|&i| values[i].len() == 3 && values[i][0] == b'c')
                .collect();
            assert_eq!(failed, want_failed);
            assert_eq!(&packed.join(b'|').unwrap()[..], &expected.join(&b'|')[..]);
            assert!(packed.join(b'a').is_err(), "a result holds the separator");
        }
    }

    #[test]
    fn split_really_uses_other_threads() {
        let ids = split(4, 4, |_| std::thread::current().id());
        let distinct: std::collections::HashSet<_> = ids.into_iter().collect();
        assert_eq!(distinct.len(), 4);
    }
}
