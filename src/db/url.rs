//! Database URLs: which database, where, and how to print one without its password.

use std::fmt;

use crate::error::{Error, Result};

/// The environment variable that holds the URL when `--db` is not given.
pub const URL_ENV: &str = "SYMMETRIC_ENCRYPTION_DB";

/// Which kind of database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// `sqlite:PATH`: an SQLite file.
    Sqlite,
    /// `postgres://...` or `postgresql://...`.
    Postgres,
    /// `mysql://...` or `mariadb://...`.
    MySql,
}

/// A parsed connection URL. Its `Display` and `Debug` hide the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl {
    kind: DbKind,
    /// The URL as the driver wants it (`mariadb://` spelled `mysql://`).
    url: String,
}

impl DbUrl {
    /// Parses `sqlite:PATH` (relative or absolute; `sqlite://PATH` too), `postgres://`,
    /// `postgresql://`, `mysql://` or `mariadb://` URLs.
    pub fn parse(url: &str) -> Result<Self> {
        let url = url.trim();
        let (scheme, rest) = url.split_once(':').ok_or_else(|| bad_scheme(url))?;
        let kind = match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => DbKind::Sqlite,
            "postgres" | "postgresql" => DbKind::Postgres,
            "mysql" | "mariadb" => DbKind::MySql,
            _ => return Err(bad_scheme(url)),
        };
        let url = match kind {
            DbKind::Sqlite => {
                let path = rest.strip_prefix("//").unwrap_or(rest);
                if path.is_empty() {
                    return Err(Error::Argument(
                        "the database URL sqlite: names no file: write sqlite:PATH, for example \
                         sqlite:db/production.sqlite3"
                            .into(),
                    ));
                }
                format!("sqlite:{path}")
            }
            DbKind::Postgres => url.to_string(),
            DbKind::MySql => format!("mysql:{rest}"),
        };
        if kind != DbKind::Sqlite && !rest.starts_with("//") {
            return Err(Error::Argument(format!(
                "the database URL {} is not valid: write {scheme}://USER:PASSWORD@HOST:PORT/DATABASE",
                redact(url.as_str())
            )));
        }
        Ok(DbUrl { kind, url })
    }

    /// The URL from `--db`, else from `SYMMETRIC_ENCRYPTION_DB`.
    pub fn from_arg_or_env(arg: Option<&str>) -> Result<Self> {
        match arg {
            Some(u) => DbUrl::parse(u).map_err(|e| e.context("--db")),
            None => match std::env::var(URL_ENV) {
                Ok(u) if !u.trim().is_empty() => DbUrl::parse(&u).map_err(|e| e.context(URL_ENV)),
                _ => Err(Error::Argument(format!(
                    "no database given: pass --db URL (sqlite:PATH, postgres://..., mysql://...) \
                     or set {URL_ENV}"
                ))),
            },
        }
    }

    /// The kind of database.
    pub fn kind(&self) -> DbKind {
        self.kind
    }

    /// The full URL, password included, for the driver only. Never print it.
    pub(crate) fn secret_url(&self) -> &str {
        &self.url
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.url))
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({})", redact(&self.url))
    }
}

fn bad_scheme(url: &str) -> Error {
    Error::Argument(format!(
        "the database URL {} is not one this tool knows: use sqlite:PATH, postgres://..., \
         postgresql://..., mysql://... or mariadb://...",
        redact(url)
    ))
}

/// `scheme://user:password@host/...` with the password replaced by `***`; query parameters
/// named like a password are dropped the same way. Malformed URLs too (`postgres:/u:pw@h`):
/// whatever stands between the scheme and the last `@` is taken for credentials.
pub fn redact(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let mut out = match head.rfind('@') {
        Some(at) => {
            let (cred_part, host) = head.split_at(at);
            let scheme_end = match cred_part.find("://") {
                Some(i) => i + 3,
                None => cred_part.find(':').map_or(0, |i| {
                    i + 1
                        + cred_part[i + 1..]
                            .bytes()
                            .take_while(|&b| b == b'/')
                            .count()
                }),
            };
            let (scheme, cred) = cred_part.split_at(scheme_end);
            match cred.split_once(':') {
                Some((user, _)) => format!("{scheme}{user}:***{host}"),
                None => head.to_string(),
            }
        }
        None => head.to_string(),
    };
    if let Some(q) = query {
        let params: Vec<String> = q
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.to_ascii_lowercase().contains("pass") => format!("{k}=***"),
                _ => p.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// `text` with the URL's password, if it has one, replaced by `***` (for driver messages).
pub(crate) fn scrub(text: String, url: &DbUrl) -> String {
    match password(&url.url) {
        Some(pw) if !pw.is_empty() && text.contains(pw) => text.replace(pw, "***"),
        _ => text,
    }
}

fn password(url: &str) -> Option<&str> {
    let head = url.split('?').next()?;
    let cred = &head[..head.rfind('@')?];
    let cred = cred.split_once("://").map_or(cred, |(_, c)| c);
    cred.split_once(':').map(|(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(DbUrl::parse("sqlite:a.db").unwrap().kind(), DbKind::Sqlite);
        assert_eq!(
            DbUrl::parse("sqlite:///tmp/a.db").unwrap().secret_url(),
            "sqlite:/tmp/a.db"
        );
        assert_eq!(
            DbUrl::parse("postgresql://u@h/d").unwrap().kind(),
            DbKind::Postgres
        );
        let m = DbUrl::parse("mariadb://u:p@h:3306/d").unwrap();
        assert_eq!(m.kind(), DbKind::MySql);
        assert_eq!(m.secret_url(), "mysql://u:p@h:3306/d");
        assert!(DbUrl::parse("oracle://x").is_err());
        assert!(DbUrl::parse("sqlite:").is_err());
        assert!(DbUrl::parse("postgres:nohost").is_err());
    }

    #[test]
    fn passwords_are_never_shown() {
        let u =
            DbUrl::parse("postgres://app:s3cret@db:5432/prod?sslmode=require&password=x2").unwrap();
        let shown = format!("{u} {u:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("x2"),
            "{shown}"
        );
        assert!(shown.contains("postgres://app:***@db:5432/prod?sslmode=require&password=***"));
        assert_eq!(redact("mysql://root@h/d"), "mysql://root@h/d");
        for bad in [
            "pg://a:s3cret@h/d",
            "postgres:/a:s3cret@h/d",
            "mysql:a:s3cret@h:1/d",
        ] {
            let e = DbUrl::parse(bad).unwrap_err().to_string();
            assert!(!e.contains("s3cret") && e.contains("a:***@h"), "{e}");
        }
        assert_eq!(redact("sqlite:/tmp/a@b.db"), "sqlite:/tmp/a@b.db");
        let u = DbUrl::parse("postgres://u:p%40ss@h/d").unwrap();
        assert_eq!(scrub("bad p%40ss here".into(), &u), "bad *** here");
    }
}
