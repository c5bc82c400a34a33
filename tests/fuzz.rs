//! Fuzzing on stable Rust: the targets of `fuzz/` (shared code, `fuzz/src/targets.rs`) run on
//! every seed from `tests/vectors`, then, when `SE_FUZZ_SECONDS` is set, on mutations of them
//! for that many seconds per target (the `scripts/suites/fuzz` suite sets it). The mutations
//! come from a seeded random generator (`SE_FUZZ_SEED`, printed), so a run can be repeated.
//!
//! A target that panics has its input saved under `target/fuzz-failures/`; replay it with
//! `SE_FUZZ_REPRO=that-file cargo test --test fuzz repro`. `SE_FUZZ_CORPUS_DIR=fuzz/corpus
//! cargo test --test fuzz write_corpus` writes the seeds for `cargo fuzz` (docs/src/fuzzing.md).

#[path = "../fuzz/src/targets.rs"]
mod targets;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use proptest::prelude::Rng;
use proptest::test_runner::{RngAlgorithm, TestRng};

fn targets() -> &'static targets::Targets {
    static T: OnceLock<targets::Targets> = OnceLock::new();
    T.get_or_init(|| {
        targets::Targets::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors"))
    })
}

fn seconds() -> f64 {
    std::env::var("SE_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0)
}

fn seed() -> u64 {
    std::env::var("SE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(14)
}

fn failures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures")
}

/// Runs one input; a panic saves the input and fails the test with where it is.
fn check(name: &str, input: &[u8]) {
    if catch_unwind(AssertUnwindSafe(|| targets().run(name, input))).is_ok() {
        return;
    }
    let dir = failures_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let hash = input.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    let path = dir.join(format!("{name}-{hash:016x}.bin"));
    std::fs::write(&path, input).unwrap();
    panic!(
        "fuzz target {name} failed on the input saved at {} (replay: SE_FUZZ_REPRO={} cargo test \
         --test fuzz repro)",
        path.display(),
        path.display()
    );
}

/// Byte values that often sit on a boundary: lengths, flags, versions.
const INTERESTING: [u8; 10] = [0, 1, 0x7f, 0x80, 0xff, 16, 12, 0x40, 0x20, 0x08];

fn below(rng: &mut TestRng, n: usize) -> usize {
    if n == 0 {
        0
    } else {
        (rng.next_u64() % n as u64) as usize
    }
}

/// One to four stacked mutations of a corpus entry.
fn mutate(corpus: &[Vec<u8>], rng: &mut TestRng) -> Vec<u8> {
    let mut v = corpus[below(rng, corpus.len())].clone();
    for _ in 0..1 + below(rng, 4) {
        let len = v.len();
        match below(rng, 10) {
            0 if len > 0 => {
                let i = below(rng, len);
                v[i] ^= 1 << below(rng, 8);
            }
            1 if len > 0 => {
                let i = below(rng, len);
                v[i] = rng.next_u32() as u8;
            }
            2 if len > 0 => {
                let i = below(rng, len);
                v[i] = INTERESTING[below(rng, INTERESTING.len())];
            }
            3 => {
                let i = below(rng, len + 1);
                let mut ins = vec![0u8; 1 + below(rng, 16)];
                rng.fill_bytes(&mut ins);
                v.splice(i..i, ins);
            }
            4 if len > 0 => {
                let i = below(rng, len);
                let n = 1 + below(rng, (len - i).min(64));
                v.drain(i..i + n);
            }
            5 if len > 0 => {
                let i = below(rng, len);
                let n = 1 + below(rng, (len - i).min(64));
                let copy = v[i..i + n].to_vec();
                let at = below(rng, len + 1);
                v.splice(at..at, copy);
            }
            6 => {
                let other = &corpus[below(rng, corpus.len())];
                if !other.is_empty() && len > 0 {
                    let from = below(rng, other.len());
                    let n = 1 + below(rng, (other.len() - from).min(256));
                    let at = below(rng, len);
                    let end = (at + n).min(len);
                    v.splice(at..end, other[from..from + n].iter().copied());
                }
            }
            7 => v.truncate(below(rng, len + 1)),
            8 if len >= 2 => {
                // A 16-bit little-endian length somewhere in a header.
                let i = below(rng, len.min(64) - 1);
                let x = [0u16, 1, 12, 15, 16, 17, 255, 256, 0x7fff, 0xffff][below(rng, 10)];
                v[i..i + 2].copy_from_slice(&x.to_le_bytes());
            }
            _ => {
                let mut more = vec![0u8; 1 + below(rng, 32)];
                rng.fill_bytes(&mut more);
                v.extend_from_slice(&more);
            }
        }
    }
    v
}

fn fuzz(name: &str) {
    let seeds = targets().seeds(name);
    assert!(!seeds.is_empty(), "no seeds for {name}");
    for s in &seeds {
        check(name, s);
    }
    let secs = seconds();
    if secs <= 0.0 {
        return;
    }
    let seed = seed();
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..8 + name.len().min(24)].copy_from_slice(&name.as_bytes()[..name.len().min(24)]);
    let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &key);
    let mut corpus = seeds;
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut count = 0u64;
    while Instant::now() < deadline {
        let input = mutate(&corpus, &mut rng);
        check(name, &input);
        // No coverage feedback on stable: keep some mutants so mutations compound.
        if rng.next_u32().is_multiple_of(16) && corpus.len() < 4096 {
            corpus.push(input);
        }
        count += 1;
    }
    eprintln!("fuzz {name}: {count} inputs in {secs} s (SE_FUZZ_SEED={seed})");
}

#[test]
fn value() {
    fuzz("value");
}

#[test]
fn header() {
    fuzz("header");
}

#[test]
fn stream() {
    fuzz("stream");
}

#[test]
fn config() {
    fuzz("config");
}

#[test]
fn c_api() {
    fuzz("c_api");
}

/// Replays a saved failure: `SE_FUZZ_REPRO=target/fuzz-failures/NAME-HASH.bin`.
#[test]
fn repro() {
    let Ok(path) = std::env::var("SE_FUZZ_REPRO") else {
        return;
    };
    let name = Path::new(&path)
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| {
            targets::NAMES
                .iter()
                .find(|t| n.starts_with(&format!("{t}-")))
        })
        .expect("the file name starts with a target name");
    let input = std::fs::read(&path).unwrap();
    targets().run(name, &input);
}

/// Writes the seeds as cargo-fuzz corpora: `SE_FUZZ_CORPUS_DIR=fuzz/corpus`.
#[test]
fn write_corpus() {
    let Ok(dir) = std::env::var("SE_FUZZ_CORPUS_DIR") else {
        return;
    };
    for name in targets::NAMES {
        let d = Path::new(&dir).join(name);
        std::fs::create_dir_all(&d).unwrap();
        for (i, s) in targets().seeds(name).iter().enumerate() {
            std::fs::write(d.join(format!("seed-{i:04}")), s).unwrap();
        }
    }
}
