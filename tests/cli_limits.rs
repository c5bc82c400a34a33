//! Issue 14: `--decrypt --prompt` refuses a value that inflates past the decompression limit,
//! and `--max-decompressed-size` raises it.
#![cfg(unix)]

mod cli_common;

use cli_common::*;
use symmetric_encryption::EncryptOptions;

const CONFIG: &str = "config/symmetric-encryption.yml";

#[test]
fn a_decompression_bomb_is_refused_unless_the_limit_is_raised() {
    let dir = scratch();
    let d = dir.path();
    run(
        d,
        &[
            "-g",
            "-a",
            "app",
            "-S",
            "development,production",
            "-K",
            "keys",
        ],
    )
    .ok();
    let ctx = library_context(d, CONFIG, "production", &[]);
    let opts = EncryptOptions {
        compress: Some(true),
        ..EncryptOptions::default()
    };
    let bomb = ctx.encrypt(&vec![0u8; (64 << 20) + 1], &opts).unwrap();
    assert!(bomb.len() < 200_000);
    let mut input = bomb.clone();
    input.push(b'\n');

    let msg = run_with(d, &["-E", "production", "-d", "-P"], &[], &input)
        .fails(&["64 MiB", "--max-decompressed-size"]);
    assert!(!msg.contains('\0'));
    run_with(
        d,
        &[
            "-E",
            "production",
            "-d",
            "-P",
            "--max-decompressed-size",
            "1K",
        ],
        &[],
        &input,
    )
    .fails(&["1 KiB"]);
    run_with(
        d,
        &[
            "-E",
            "production",
            "-d",
            "-P",
            "--max-decompressed-size",
            "65M",
            "-o",
            "out",
        ],
        &[],
        &input,
    )
    .ok();
    assert_eq!(
        std::fs::metadata(d.join("out")).unwrap().len(),
        (64 << 20) + 1
    );
    run_with(
        d,
        &[
            "-E",
            "production",
            "-d",
            "-P",
            "--max-decompressed-size",
            "lots",
        ],
        &[],
        &input,
    )
    .usage_error();
}
