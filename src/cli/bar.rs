//! The progress line the command line draws on standard error, only when it is a terminal:
//! a bar for files (`--encrypt`, `--decrypt`) and a counter line for database columns
//! (`--re-encrypt-columns`). Redrawn at most five times a second.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::cli::crypt::{Input, Progress};

/// Inputs smaller than this get no progress bar.
const BAR_MIN_BYTES: u64 = 8 << 20;

/// A progress line on standard error.
pub(crate) struct Bar {
    enabled: bool,
    last: Option<Instant>,
    drawn: bool,
}

impl Bar {
    /// A bar for `input`: drawn only on a terminal, and only for large inputs.
    pub(crate) fn for_input(input: &Input) -> Bar {
        Bar::new(input.size().is_some_and(|s| s >= BAR_MIN_BYTES))
    }

    /// A progress line, drawn only when standard error is a terminal and `wanted`.
    pub(crate) fn new(wanted: bool) -> Bar {
        Bar {
            enabled: wanted && io::stderr().is_terminal(),
            last: None,
            drawn: false,
        }
    }

    /// Whether anything is ever drawn.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    fn due(&mut self) -> bool {
        if !self.enabled
            || self
                .last
                .is_some_and(|t| t.elapsed() < Duration::from_millis(200))
        {
            return false;
        }
        self.last = Some(Instant::now());
        true
    }

    /// Draws the bar for bytes done out of the total.
    pub(crate) fn update(&mut self, p: Progress) {
        if !self.due() {
            return;
        }
        let Some(total) = p.total.filter(|t| *t > 0) else {
            return;
        };
        let fraction = (p.done as f64 / total as f64).min(1.0);
        let width = 40;
        let filled = (fraction * width as f64) as usize;
        let mb = |b: u64| b as f64 / 1_000_000.0;
        let _ = write!(
            io::stderr(),
            "\r[{}{}] {:>3.0}% {:.1}/{:.1} MB",
            "#".repeat(filled),
            "-".repeat(width - filled),
            fraction * 100.0,
            mb(p.done),
            mb(total)
        );
        self.drawn = true;
    }

    /// Draws one line of text in place of the previous one.
    pub(crate) fn line(&mut self, text: &str) {
        if self.due() {
            let _ = write!(io::stderr(), "\r{text:<72.100}");
            self.drawn = true;
        }
    }

    /// Erases what was drawn (before other output, and at the end).
    pub(crate) fn clear(&mut self) {
        if self.drawn {
            let _ = write!(io::stderr(), "\r{:72}\r", "");
            self.drawn = false;
        }
    }
}
