//! Plaintext buffers that are wiped when they grow, shrink into a boxed slice, or are dropped.
//!
//! `Vec` growth reallocates and frees the old allocation as it is, so a buffer that held
//! plaintext and grew leaves copies of it in freed memory. These helpers grow by hand: a new
//! allocation, a copy, and `zeroize` over the whole old allocation (its spare capacity too)
//! before it is freed.

use zeroize::Zeroize;

/// Makes room for `additional` more bytes in `v`, wiping the old allocation if it moves.
pub(crate) fn reserve(v: &mut Vec<u8>, additional: usize) {
    let needed = v.len().saturating_add(additional);
    if needed <= v.capacity() {
        return;
    }
    let cap = needed.max(v.capacity().saturating_mul(2)).max(64);
    let mut grown = Vec::with_capacity(cap);
    grown.extend_from_slice(v);
    // Zeroize for Vec wipes the whole capacity, then clears it.
    v.zeroize();
    *v = grown;
}

/// Appends `data` to `v` (see [`reserve`]).
pub(crate) fn extend(v: &mut Vec<u8>, data: &[u8]) {
    reserve(v, data.len());
    v.extend_from_slice(data);
}

/// Resizes `v` to `len`, filling with zero bytes (see [`reserve`]); shrinking wipes the tail.
pub(crate) fn resize(v: &mut Vec<u8>, len: usize) {
    if len < v.len() {
        v[len..].zeroize();
        v.truncate(len);
        return;
    }
    reserve(v, len - v.len());
    v.resize(len, 0);
}

/// `v` as a boxed slice without an unwiped copy: `Vec::into_boxed_slice` reallocates when the
/// capacity is larger than the length, and frees the old allocation unwiped.
pub(crate) fn into_boxed_slice(mut v: Vec<u8>) -> Box<[u8]> {
    if v.capacity() == v.len() {
        return v.into_boxed_slice();
    }
    let exact: Box<[u8]> = Box::from(&v[..]);
    v.zeroize();
    exact
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_keeps_the_contents() {
        let mut v = Vec::new();
        for i in 0..1000u32 {
            extend(&mut v, &i.to_le_bytes());
        }
        assert_eq!(v.len(), 4000);
        assert_eq!(&v[4..8], &1u32.to_le_bytes());
        resize(&mut v, 10);
        assert_eq!(v.len(), 10);
        resize(&mut v, 5000);
        assert_eq!(v.len(), 5000);
        assert!(v[10..].iter().all(|&b| b == 0));
        let mut w = Vec::with_capacity(100);
        w.extend_from_slice(b"abc");
        assert_eq!(&*into_boxed_slice(w), b"abc");
        assert_eq!(&*into_boxed_slice(b"xyz".to_vec()), b"xyz");
    }
}
