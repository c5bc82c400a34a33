//! Asking the person at the terminal: secrets without echo (`--prompt`), and a yes/no before
//! `--cleanup-keys` removes keys.
//!
//! When standard input is not a terminal nothing is asked: a secret to encrypt is the first line
//! of standard input and a value to decrypt all of it (so `--prompt` works in a pipe), and
//! `--cleanup-keys` goes ahead (as the gem does), having named what it removes.

use std::io::{self, BufRead, IsTerminal, Write};

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Whether standard input is a terminal (someone to ask).
pub fn stdin_is_terminal() -> bool {
    io::stdin().is_terminal()
}

/// How many times a mismatched double entry is asked again before giving up.
pub const ATTEMPTS: usize = 3;

fn strip_line_end(s: &mut String) {
    while s.ends_with('\n') || s.ends_with('\r') {
        s.pop();
    }
}

/// One line of standard input, without its line end. Empty input is an error.
fn read_stdin_line(what: &str) -> Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::io(format!("cannot read {what} from standard input"), e))?;
    strip_line_end(&mut line);
    Ok(line)
}

/// Reads a secret: from the terminal without echo after showing `prompt`, or, when standard
/// input is not a terminal, its first line.
pub fn read_secret(prompt: &str) -> Result<Zeroizing<String>> {
    if !stdin_is_terminal() {
        return read_stdin_line("the value");
    }
    let mut value = Zeroizing::new(
        rpassword::prompt_password(format!("{prompt} "))
            .map_err(|e| Error::io("cannot read from the terminal", e))?,
    );
    strip_line_end(&mut value);
    Ok(value)
}

/// Reads an encrypted value to decrypt: from the terminal without echo after showing
/// `prompt`, or, when standard input is not a terminal, all of it (a `base64` value spans
/// several lines), without surrounding whitespace.
pub fn read_value(prompt: &str) -> Result<Zeroizing<String>> {
    if stdin_is_terminal() {
        return read_secret(prompt);
    }
    let mut all = Zeroizing::new(String::new());
    io::Read::read_to_string(&mut io::stdin().lock(), &mut all)
        .map_err(|e| Error::io("cannot read the value from standard input", e))?;
    Ok(Zeroizing::new(all.trim().to_string()))
}

/// Reads a secret twice from the terminal and returns it when both entries match (asking
/// again up to [`ATTEMPTS`] times, as the gem does). Without a terminal, reads it once from
/// standard input.
pub fn read_secret_twice(prompt: &str, again: &str) -> Result<Zeroizing<String>> {
    if !stdin_is_terminal() {
        return read_stdin_line("the value");
    }
    for _ in 0..ATTEMPTS {
        let first = read_secret(prompt)?;
        let second = read_secret(again)?;
        if first == second {
            return Ok(first);
        }
        eprintln!("Values do not match, please try again");
    }
    Err(Error::Argument(format!(
        "the two entries did not match {ATTEMPTS} times: nothing was encrypted"
    )))
}

/// Asks `question` on the terminal; true only for the answer `yes` (any case). Without a
/// terminal nothing is asked and the answer is yes.
pub fn confirm(question: &str) -> Result<bool> {
    if !stdin_is_terminal() {
        return Ok(true);
    }
    let mut err = io::stderr().lock();
    let _ = write!(err, "{question} ");
    let _ = err.flush();
    let answer = read_stdin_line("the answer")?;
    Ok(answer.trim().eq_ignore_ascii_case("yes"))
}
