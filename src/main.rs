//! The `symmetric-encryption` command: the Ruby gem's command line, without Ruby. All of it is
//! in the library ([`symmetric_encryption::cli::app`]), so the C ABI and the bindings run the
//! same command line.

use std::process::ExitCode;

fn main() -> ExitCode {
    let status = symmetric_encryption::cli::app::main(std::env::args_os());
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}
