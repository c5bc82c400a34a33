//! One tokio runtime per network call (the `aws-kms` and `vault` features).
//!
//! Callers of this library are synchronous (the C ABI, the command line, Ruby and Python) and
//! keys are fetched rarely, so each call to a key service gets a current-thread runtime of its
//! own, shut down when the call returns. Nothing (no runtime, no thread, no connection pool)
//! outlives a call, which keeps the library safe in processes that fork after loading it.

use std::future::Future;

use crate::error::{Error, Result};

/// Runs the future `make` builds on a current-thread runtime made for it and shut down after
/// it. When the caller is itself on a tokio runtime (a Rust program calling this library from
/// async code), a runtime cannot be started on its thread, so the call runs on a scoped thread.
/// `service` names the service in errors (`Vault`).
pub(crate) fn run<T, F, Fut>(service: &str, make: F) -> Result<T>
where
    T: Send,
    F: FnOnce() -> Fut + Send,
    Fut: Future<Output = Result<T>>,
{
    let go = move || -> Result<T> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                Error::Keystore(format!(
                    "cannot start a tokio runtime for {service} calls: {e}"
                ))
            })?;
        let out = rt.block_on(make());
        // A DNS lookup still running on a blocking thread is left to finish on its own.
        rt.shutdown_background();
        out
    };
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(go)
                .join()
                .unwrap_or_else(|_| Err(Error::Internal(format!("a {service} call panicked"))))
        })
    } else {
        go()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_inside_and_outside_a_tokio_runtime() {
        assert_eq!(run("test", || async { Ok(7) }).unwrap(), 7);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let got = rt.block_on(async { run("test", || async { Ok(8) }) });
        assert_eq!(got.unwrap(), 8);
    }
}
