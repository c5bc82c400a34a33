//! The ERB pass the gem runs over its configuration file before YAML, limited to what
//! configuration files use: reading environment variables.
//!
//! Supported tags: `<%= ENV['X'] %>` and `<%= ENV["X"] %>` (an unset variable gives ""),
//! `<%= ENV.fetch('X') %>` (an unset variable is an error naming it),
//! `<%= ENV.fetch('X', 'default') %>`, `<%# comment %>`, and `<%%` for a literal `<%`.
//! Anything else is an error naming the line: this is not a Ruby interpreter, and guessing at
//! code would be worse than refusing it.

use crate::error::{Error, Result};

/// Renders `text`. `lookup` reads an environment variable; `source` names the file in errors.
/// Linear in the length of `text`: line numbers are counted as the text is consumed.
pub fn render(text: &str, source: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // The line `rest` starts on.
    let mut line = 1usize;
    while let Some(start) = rest.find("<%") {
        out.push_str(&rest[..start]);
        line += newlines(&rest[..start]);
        let after = &rest[start + 2..];
        if let Some(literal) = after.strip_prefix('%') {
            out.push_str("<%");
            rest = literal;
            continue;
        }
        let end = after.find("%>").ok_or_else(|| {
            Error::Config(format!(
                "{source}, line {line}: ERB tag `<%` is never closed with `%>`"
            ))
        })?;
        let tag = &after[..end];
        if let Some(expr) = tag.strip_prefix('=') {
            out.push_str(&eval(expr, source, line, lookup)?);
        } else if !tag.starts_with('#') {
            return Err(unsupported(tag, source, line));
        }
        line += newlines(tag);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn newlines(s: &str) -> usize {
    s.bytes().filter(|b| *b == b'\n').count()
}

/// An unsupported tag is described, never shown: configuration files put secrets in them
/// (`<%= ENV['KEY'] || 'fallback-key' %>`), and messages end up in logs.
fn unsupported(tag: &str, source: &str, line: usize) -> Error {
    let body = tag.trim();
    let what = if let Some(expr) = body.strip_prefix('=') {
        let expr = expr.trim();
        let hint = if expr.contains("||") {
            " (a `||` default: write ENV.fetch('NAME', 'default') instead)"
        } else if expr.ends_with('-') {
            " (the `-%>` trim form: write `%>`)"
        } else {
            ""
        };
        format!(
            "an output tag `<%= ... %>` holding an expression of {} characters that is not one \
             of the supported forms{hint}",
            expr.chars().count()
        )
    } else {
        format!(
            "a Ruby code tag `<% ... %>` of {} characters (code is not run)",
            body.chars().count()
        )
    };
    Error::Config(format!(
        "{source}, line {line}: unsupported ERB: {what}. Only <%= ENV['NAME'] %>, \
         <%= ENV[\"NAME\"] %>, <%= ENV.fetch('NAME') %>, <%= ENV.fetch('NAME', 'default') %> and \
         <%# comments %> are supported. Put the value in the file, or in an environment variable \
         read with one of those forms"
    ))
}

fn eval(
    expr: &str,
    source: &str,
    line: usize,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String> {
    let bad = || unsupported(&format!("={expr}"), source, line);
    let mut p = Parser { s: expr.trim() };
    if !p.eat("ENV") {
        return Err(bad());
    }
    if p.eat("[") {
        let name = p.string(source, line)?.ok_or_else(bad)?;
        if !p.eat("]") || !p.at_end() {
            return Err(bad());
        }
        return Ok(lookup(&name).unwrap_or_default());
    }
    if !(p.eat(".") && p.eat("fetch") && p.eat("(")) {
        return Err(bad());
    }
    let name = p.string(source, line)?.ok_or_else(bad)?;
    let default = if p.eat(",") {
        Some(p.string(source, line)?.ok_or_else(bad)?)
    } else {
        None
    };
    if !p.eat(")") || !p.at_end() {
        return Err(bad());
    }
    match (lookup(&name), default) {
        (Some(v), _) => Ok(v),
        (None, Some(d)) => Ok(d),
        (None, None) => Err(Error::Config(format!(
            "{source}, line {line}: ENV.fetch('{name}'): environment variable {name} is not set \
             and no default is given: set it, or write ENV.fetch('{name}', 'default')"
        ))),
    }
}

struct Parser<'a> {
    s: &'a str,
}

impl Parser<'_> {
    fn eat(&mut self, token: &str) -> bool {
        let t = self.s.trim_start();
        match t.strip_prefix(token) {
            Some(rest) => {
                self.s = rest;
                true
            }
            None => false,
        }
    }

    fn at_end(&self) -> bool {
        self.s.trim().is_empty()
    }

    /// A Ruby string literal, single- or double-quoted (no interpolation).
    fn string(&mut self, source: &str, line: usize) -> Result<Option<String>> {
        let t = self.s.trim_start();
        let Some(quote) = t.chars().next().filter(|c| *c == '\'' || *c == '"') else {
            return Ok(None);
        };
        let mut out = String::new();
        let mut chars = t[1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                c if c == quote => {
                    self.s = &t[1 + i + 1..];
                    return Ok(Some(out));
                }
                '\\' => {
                    let Some((_, e)) = chars.next() else { break };
                    match (quote, e) {
                        ('\'', '\\' | '\'') => out.push(e),
                        ('\'', _) => {
                            out.push('\\');
                            out.push(e);
                        }
                        (_, 'n') => out.push('\n'),
                        (_, 't') => out.push('\t'),
                        (_, 'r') => out.push('\r'),
                        (_, '0') => out.push('\0'),
                        (_, 'e') => out.push('\u{1b}'),
                        (_, 's') => out.push(' '),
                        (_, e) => out.push(e),
                    }
                }
                '#' if quote == '"' && t[1 + i + 1..].starts_with(['{', '$', '@']) => {
                    return Err(Error::Config(format!(
                        "{source}, line {line}: string interpolation (#{{...}}) is not supported \
                         in ERB tags"
                    )));
                }
                c => out.push(c),
            }
        }
        Err(Error::Config(format!(
            "{source}, line {line}: unterminated string in an ERB tag"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "SET" => Some("value".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn r(text: &str) -> Result<String> {
        render(text, "cfg.yml", &env)
    }

    #[test]
    fn renders_the_supported_forms() {
        assert_eq!(r("a: <%= ENV['SET'] %>\n").unwrap(), "a: value\n");
        assert_eq!(r("a: <%=ENV[\"SET\"]%>").unwrap(), "a: value");
        assert_eq!(r("a: <%= ENV['UNSET'] %>|").unwrap(), "a: |");
        assert_eq!(r("a: <%= ENV.fetch('SET') %>").unwrap(), "a: value");
        assert_eq!(
            r("a: <%= ENV.fetch( \"UNSET\" , 'd\\'x' ) %>").unwrap(),
            "a: d'x"
        );
        assert_eq!(r("a: <%= ENV.fetch('EMPTY', 'd') %>").unwrap(), "a: ");
        assert_eq!(r("<%# a comment\nover lines %>b").unwrap(), "b");
        assert_eq!(r("a: <%% literal").unwrap(), "a: <% literal");
        assert_eq!(r("no tags at all\n").unwrap(), "no tags at all\n");
    }

    #[test]
    fn fetch_of_an_unset_variable_names_it() {
        let e = r("x: 1\na: <%= ENV.fetch('UNSET') %>").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        let m = e.to_string();
        assert!(m.starts_with("cfg.yml, line 2:"), "{m}");
        assert!(m.contains("UNSET is not set"), "{m}");
    }

    #[test]
    fn anything_else_is_refused_with_its_line() {
        for bad in [
            "<% if true %>",
            "<%= 1 + 1 %>",
            "<%= ENV['A'] || 'x' %>",
            "<%= ENV['A'] -%>",
            "<%= Rails.env %>",
            "<%= ENV.fetch('A') { 'x' } %>",
            "<%= ENV[\"#{x}\"] %>",
            "<%= ENV['A' %>",
        ] {
            let e = r(&format!("a: 1\nb: 2\nc: {bad}\n")).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Config);
            assert!(e.to_string().starts_with("cfg.yml, line 3:"), "{bad}: {e}");
        }
        let e = r("a: <%= ENV['A']\n").unwrap_err();
        assert!(e.to_string().contains("never closed"), "{e}");
        let e = r("a: 1\n<%# two\nlines %>\n<%# one %>b: <% x %>").unwrap_err();
        assert!(e.to_string().starts_with("cfg.yml, line 4:"), "{e}");
    }

    #[test]
    fn unsupported_tags_are_described_not_shown() {
        let e = r("key: <%= ENV['K'] || 'fallback-key-4f9a' %>\n").unwrap_err();
        let m = e.to_string();
        assert!(!m.contains("fallback-key-4f9a"), "{m}");
        assert!(m.contains("expression of 31 characters"), "{m}");
        assert!(m.contains("ENV.fetch('NAME', 'default')"), "{m}");
        let m = r("<% secret = 'hunter2-xyz' %>").unwrap_err().to_string();
        assert!(!m.contains("hunter2-xyz"), "{m}");
        assert!(m.contains("code tag"), "{m}");
    }

    #[test]
    fn many_comments_render_with_correct_line_numbers() {
        let mut text = "<%# c %>\n".repeat(80_000);
        text.push_str("x: <%= ENV.fetch('UNSET') %>\n");
        let e = r(&text).unwrap_err();
        assert!(e.to_string().starts_with("cfg.yml, line 80001:"), "{e}");
        assert_eq!(r(&"<%# c %>".repeat(80_000)).unwrap(), "");
    }
}
