//! Stream throughput on a large file, for `benches/stream_1gib.sh` (run it in release mode).
//!
//! ```text
//! stream_bench encrypt-file|decrypt-file|encrypt|decrypt aes-256-gcm|aes-256-cbc SOURCE [TARGET]
//! ```
//! - `encrypt-file` / `decrypt-file`: `stream::encrypt_file` / `decrypt_file` from SOURCE to
//!   TARGET, uncompressed: the whole path a user takes, temp file, fsync and rename included.
//! - `encrypt` / `decrypt`: a `Writer` / `Reader` between the file SOURCE and a sink that
//!   discards: the stream code alone.
//!
//! `SE_BENCH_CHUNK` sets the GCM chunk size of the encrypting runs (default 64 KiB).
//!
//! Prints one line: the operation, the plaintext bytes, the seconds and MB/s (10^6 bytes/s, as
//! `openssl speed` counts).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use symmetric_encryption::stream::{
    self, FileWriter, Reader, ReaderOptions, Writer, WriterOptions,
};
use symmetric_encryption::{Cipher, CipherName, Context, Result};

fn pump(input: &mut impl Read, output: &mut impl Write) -> io::Result<u64> {
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0;
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        output.write_all(&buf[..n])?;
        total += n as u64;
    }
}

fn run(op: &str, cipher: &str, source: &Path, target: Option<&Path>) -> Result<u64> {
    let name = CipherName::from_name(cipher)?;
    let key: Vec<u8> = (0..name.key_len() as u8).collect();
    let iv: Vec<u8> = (0..name.iv_len() as u8).collect();
    let ctx = Context::new(vec![Cipher::new(name, &key, Some(&iv))?.with_version(1)])?;
    let io_err = |e| symmetric_encryption::Error::io("benchmark I/O", e);
    let need_target =
        || target.ok_or_else(|| symmetric_encryption::Error::Argument("TARGET is needed".into()));
    let opts = WriterOptions {
        compress: Some(false),
        chunk_size: std::env::var("SE_BENCH_CHUNK")
            .ok()
            .and_then(|c| c.parse().ok()),
        ..WriterOptions::default()
    };
    match op {
        "encrypt-file" => {
            // What stream::encrypt_file does, with the chunk size settable.
            let mut w = FileWriter::create(&ctx, need_target()?, &opts)?;
            let n = pump(&mut File::open(source).map_err(io_err)?, &mut w)
                .map_err(stream::into_error)?;
            w.finish()?;
            Ok(n)
        }
        "decrypt-file" => {
            let target = need_target()?;
            stream::decrypt_file(&ctx, source, target)?;
            Ok(std::fs::metadata(target).map_err(io_err)?.len())
        }
        "encrypt" => {
            let mut w = Writer::new(&ctx, io::sink(), &opts)?;
            let n = pump(&mut File::open(source).map_err(io_err)?, &mut w)
                .map_err(stream::into_error)?;
            w.finish()?;
            Ok(n)
        }
        "decrypt" => {
            let file = File::open(source).map_err(io_err)?;
            let mut r = Reader::new(&ctx, file, &ReaderOptions::default())?;
            pump(&mut r, &mut io::sink()).map_err(stream::into_error)
        }
        _ => Err(symmetric_encryption::Error::Argument(format!(
            "unknown operation {op}"
        ))),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!(
            "usage: {} encrypt-file|decrypt-file|encrypt|decrypt CIPHER SOURCE [TARGET]",
            args[0]
        );
        return ExitCode::from(2);
    }
    let start = Instant::now();
    let result = run(
        &args[1],
        &args[2],
        Path::new(&args[3]),
        args.get(4).map(Path::new),
    );
    let secs = start.elapsed().as_secs_f64();
    match result {
        Ok(bytes) => {
            println!(
                "{:<13} {:<12} {bytes} bytes in {secs:.2} s = {:.0} MB/s",
                args[1],
                args[2],
                bytes as f64 / secs / 1e6
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{} {}: {e}", args[1], args[2]);
            ExitCode::FAILURE
        }
    }
}
