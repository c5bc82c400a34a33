//! YAML in: the rendered configuration text to a tree of [`Node`]s, read the way Ruby's Psych
//! reads the gem's files.
//!
//! The parser is `serde_norway` (the maintained fork of `serde_yaml`). Three things the gem's
//! files need that plain `serde_norway::Value` does not give, and how they are handled here:
//! - `!binary` values: `serde_norway` hands local tags to the visitor as enum variants, so
//!   [`Node`]'s visitor sees `binary` and decodes the base64 (leniently, as Ruby does).
//! - `!!binary` (the YAML core schema spelling): `serde_norway` silently drops core-schema tags
//!   it does not know. A `%TAG !! !` directive put in front of the document turns every `!!x`
//!   into the local tag `!x`, which reaches the visitor like `!binary`; the visitor then handles
//!   `str`, `int`, `float`, `bool`, `null`, `map`, `seq` itself.
//! - All-digit keys too large for 64 bits arrive as `u128`/`i128` and are kept as their digits.
//!
//! Merge keys (`<<`) are applied afterwards the way Psych applies them.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

use crate::encoding::Encoding;
use crate::error::{Error, Result};
use crate::key::SecretBytes;

/// One YAML value, with mapping order kept.
#[derive(Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    /// An integer, as its decimal digits (arbitrarily long).
    Int(String),
    Float(f64),
    Str(String),
    /// A `!binary` / `!!binary` value, decoded.
    Binary(SecretBytes),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
    /// Any other tag, e.g. `!ruby/object:Foo`, with its value.
    Tagged(String, Box<Node>),
}

impl fmt::Debug for Node {
    // Nodes may hold keys: show the shape only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())
    }
}

impl Node {
    /// What kind of value this is, for messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Int(_) => "an integer",
            Node::Float(_) => "a float",
            Node::Str(_) => "a string",
            Node::Binary(_) => "a binary value",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a mapping",
            Node::Tagged(..) => "a tagged value",
        }
    }

    /// The name of a mapping key as the gem sees it after `deep_symbolize_keys`: `:ciphers` and
    /// `ciphers` are the same key.
    pub(crate) fn key_name(&self) -> Option<String> {
        match self {
            Node::Str(s) => Some(s.strip_prefix(':').unwrap_or(s).to_string()),
            Node::Int(i) => Some(i.clone()),
            Node::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// The deepest nesting of flow collections (`[...]`, `{...}`) a configuration may have. The
/// gem's files nest three or four levels; the YAML parser's cost grows with the square of the
/// flow depth, so deep nesting is refused before parsing.
pub const MAX_FLOW_DEPTH: usize = 64;

/// Parses `text` (already through ERB) into a tree. `source` names it in errors.
pub(crate) fn parse(text: &str, source: &str) -> Result<Node> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    check_flow_depth(text, source)?;
    let Some(first) = text
        .lines()
        .map(str::trim_start)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
    else {
        return Ok(Node::Null);
    };
    let redefines = text.lines().any(|l| l.starts_with("%TAG !! "));
    let (prefix, offset) = if redefines {
        ("", 0)
    } else if first.starts_with('%') || first == "---" || first.starts_with("--- ") {
        ("%TAG !! !\n", 1)
    } else {
        ("%TAG !! !\n---\n", 2)
    };
    let doc = zeroize::Zeroizing::new(format!("{prefix}{text}"));
    let mut node: Node = serde_norway::from_str(&doc).map_err(|e| {
        let msg = e.to_string();
        match e.location() {
            Some(loc) => {
                let bare = msg
                    .rfind(" at line ")
                    .map_or(msg.as_str(), |i| &msg[..i])
                    .to_string();
                Error::Config(format!(
                    "{source}, line {}, column {}: invalid YAML: {bare}",
                    loc.line().saturating_sub(offset).max(1),
                    loc.column()
                ))
            }
            None => Error::Config(format!("{source}: invalid YAML: {msg}")),
        }
    })?;
    apply_merge(&mut node).map_err(|m| Error::Config(format!("{source}: {m}")))?;
    Ok(node)
}

/// Refuses text whose flow collections nest deeper than [`MAX_FLOW_DEPTH`], in one pass.
/// Brackets inside quoted scalars and comments do not count; a quote only opens a quoted
/// scalar where YAML allows one to start (after a space, a flow indicator, `:` or `-`).
fn check_flow_depth(text: &str, source: &str) -> Result<()> {
    let b = text.as_bytes();
    let (mut depth, mut line, mut i) = (0usize, 1usize, 0usize);
    while i < b.len() {
        let c = b[i];
        let prev = if i == 0 { b'\n' } else { b[i - 1] };
        let at_start = matches!(
            prev,
            b' ' | b'\t' | b'\n' | b'\r' | b'[' | b'{' | b',' | b':' | b'-'
        );
        match c {
            b'\n' => line += 1,
            b'#' if matches!(prev, b' ' | b'\t' | b'\n' | b'\r') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\'' | b'"' if at_start => {
                i += 1;
                while i < b.len() && b[i] != c {
                    match b[i] {
                        b'\\' if c == b'"' => i += 1,
                        b'\n' => line += 1,
                        _ => {}
                    }
                    i += 1;
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Err(Error::Config(format!(
                        "{source}, line {line}: lists and mappings written with [ ] or {{ }} \
                         nest more than {MAX_FLOW_DEPTH} levels deep: a configuration never \
                         needs that; check the file is the right one"
                    )));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Applies `<<` merge keys the way Psych does: in mapping order, a merged mapping overwrites
/// keys seen before it and is overwritten by keys after it; in a list of mappings the earlier
/// ones win. A `<<` whose value is not a mapping (or list of mappings) stays an ordinary key.
fn apply_merge(node: &mut Node) -> std::result::Result<(), String> {
    match node {
        Node::Seq(items) => items.iter_mut().try_for_each(apply_merge),
        Node::Tagged(_, inner) => apply_merge(inner),
        Node::Map(pairs) => {
            for (_, v) in pairs.iter_mut() {
                apply_merge(v)?;
            }
            if !pairs.iter().any(|(k, _)| is_merge_key(k)) {
                return Ok(());
            }
            let mut out: Vec<(Node, Node)> = Vec::with_capacity(pairs.len());
            fn upsert(out: &mut Vec<(Node, Node)>, k: Node, v: Node) {
                match out.iter_mut().find(|(ok, _)| *ok == k) {
                    Some(slot) => slot.1 = v,
                    None => out.push((k, v)),
                }
            }
            for (k, v) in std::mem::take(pairs) {
                if !is_merge_key(&k) {
                    upsert(&mut out, k, v);
                    continue;
                }
                match v {
                    Node::Map(m) => m.into_iter().for_each(|(k, v)| upsert(&mut out, k, v)),
                    Node::Seq(items) if items.iter().all(|i| matches!(i, Node::Map(_))) => {
                        let mut merged: Vec<(Node, Node)> = Vec::new();
                        for item in items.into_iter().rev() {
                            if let Node::Map(m) = item {
                                m.into_iter().for_each(|(k, v)| upsert(&mut merged, k, v));
                            }
                        }
                        merged.into_iter().for_each(|(k, v)| upsert(&mut out, k, v));
                    }
                    other => upsert(&mut out, k, other),
                }
            }
            *pairs = out;
            Ok(())
        }
        _ => Ok(()),
    }
}

fn is_merge_key(k: &Node) -> bool {
    matches!(k, Node::Str(s) if s == "<<")
}

impl<'de> de::Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Node, E> {
        Ok(Node::Int(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Node, E> {
        Ok(Node::Int(v.to_string()))
    }
    fn visit_i128<E>(self, v: i128) -> std::result::Result<Node, E> {
        Ok(Node::Int(v.to_string()))
    }
    fn visit_u128<E>(self, v: u128) -> std::result::Result<Node, E> {
        Ok(Node::Int(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_unit<E>(self) -> std::result::Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> std::result::Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> std::result::Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = a.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> std::result::Result<Node, A::Error> {
        let mut pairs = Vec::new();
        while let Some(pair) = a.next_entry()? {
            pairs.push(pair);
        }
        Ok(Node::Map(pairs))
    }
    fn visit_enum<A: EnumAccess<'de>>(self, a: A) -> std::result::Result<Node, A::Error> {
        let (tag, variant): (String, _) = a.variant()?;
        match tag.as_str() {
            "binary" => {
                let text = variant.newtype_variant_seed(RawText)?;
                Ok(Node::Binary(SecretBytes::new(
                    Encoding::Base64.decode(text.as_bytes()).unwrap_or_default(),
                )))
            }
            "str" => Ok(Node::Str(variant.newtype_variant_seed(RawText)?)),
            "ruby/symbol" | "ruby/sym" => {
                let text = variant.newtype_variant_seed(RawText)?;
                Ok(Node::Str(format!(":{text}")))
            }
            "int" => {
                let text = variant.newtype_variant_seed(RawText)?;
                let t = text.trim();
                let digits = t.strip_prefix('+').unwrap_or(t);
                if !digits.is_empty()
                    && digits
                        .strip_prefix('-')
                        .unwrap_or(digits)
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                {
                    Ok(Node::Int(digits.to_string()))
                } else {
                    Err(de::Error::custom(format!(
                        "a value tagged !!int is not an integer ({})",
                        crate::error::describe_text(&text)
                    )))
                }
            }
            "null" => {
                variant.newtype_variant_seed(RawText)?;
                Ok(Node::Null)
            }
            "float" | "bool" | "map" | "seq" | "omap" => variant.newtype_variant::<Node>(),
            _ => Ok(Node::Tagged(
                tag,
                Box::new(variant.newtype_variant::<Node>()?),
            )),
        }
    }
}

/// The text of a scalar exactly as written, whatever it looks like.
struct RawText;

impl<'de> DeserializeSeed<'de> for RawText {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<String, D::Error> {
        <String as de::Deserialize>::deserialize(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(n: &'a Node, key: &str) -> &'a Node {
        match n {
            Node::Map(p) => {
                &p.iter()
                    .find(|(k, _)| k.key_name().as_deref() == Some(key))
                    .unwrap()
                    .1
            }
            _ => panic!("not a map"),
        }
    }

    #[test]
    fn reads_the_forms_the_gem_writes() {
        let n = parse(
            "a: !binary |-\n  AAEC\nb: !!binary AAEC\nc: !!str 0x1F\nd: 0644\ne: :file\n\
             f: \"\\x01\\0\\e\\x7F\"\ng: 12345678901234567890123456789012\nh: !ruby/symbol foo\n\
             i: !!int '12'\nj: ~\nk: true\n",
            "t",
        )
        .unwrap();
        assert_eq!(
            get(&n, "a"),
            &Node::Binary(SecretBytes::from_slice(&[0, 1, 2]))
        );
        assert_eq!(
            get(&n, "b"),
            &Node::Binary(SecretBytes::from_slice(&[0, 1, 2]))
        );
        assert_eq!(get(&n, "c"), &Node::Str("0x1F".into()));
        assert_eq!(get(&n, "d"), &Node::Str("0644".into()));
        assert_eq!(get(&n, "e"), &Node::Str(":file".into()));
        assert_eq!(get(&n, "f"), &Node::Str("\u{1}\0\u{1b}\u{7f}".into()));
        assert_eq!(
            get(&n, "g"),
            &Node::Int("12345678901234567890123456789012".into())
        );
        assert_eq!(get(&n, "h"), &Node::Str(":foo".into()));
        assert_eq!(get(&n, "i"), &Node::Int("12".into()));
        assert_eq!(get(&n, "j"), &Node::Null);
        assert_eq!(get(&n, "k"), &Node::Bool(true));
    }

    #[test]
    fn document_markers_and_comments() {
        for text in [
            "---\na: 1\n",
            "# c\n---\na: 1\n",
            "# c\n\na: 1\n",
            "--- \na: 1\n",
        ] {
            assert_eq!(
                get(&parse(text, "t").unwrap(), "a"),
                &Node::Int("1".into()),
                "{text}"
            );
        }
        assert_eq!(parse("# only a comment\n", "t").unwrap(), Node::Null);
        assert_eq!(parse("", "t").unwrap(), Node::Null);
    }

    #[test]
    fn errors_give_the_line_of_the_original_text() {
        let e = parse("a: 1\nb: [\n", "cfg.yml").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        assert!(e.to_string().starts_with("cfg.yml, line 3"), "{e}");
        let e = parse("---\na: 1\nb: [\n", "cfg.yml").unwrap_err();
        assert!(e.to_string().starts_with("cfg.yml, line 4"), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,200}|[-:!&*|>'\"%@`#\\[\\]{}, \\n\\ta-z0-9]{0,200}") {
            let _ = parse(&s, "t");
            let _ = crate::config::Config::from_yaml_str(&s, "t");
        }
    }

    #[test]
    fn deep_flow_nesting_is_refused_at_once() {
        let e = parse(&"[".repeat(100_000), "cfg.yml").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        assert!(e.to_string().contains("more than 64 levels"), "{e}");
        let ok = format!(
            "a: {}1{}\n",
            "[".repeat(MAX_FLOW_DEPTH),
            "]".repeat(MAX_FLOW_DEPTH)
        );
        parse(&ok, "t").unwrap();
        let e = parse(&format!("a: 1\nb: {}", "{".repeat(MAX_FLOW_DEPTH + 1)), "t").unwrap_err();
        assert!(e.to_string().starts_with("t, line 2:"), "{e}");
        // Brackets in quoted scalars, plain scalars' quotes and comments do not count.
        let quoted = format!(
            "a: '{0}'\nb: \"{0}\\\"\"\nc: it's # {0}\nd: [1]\n",
            "[".repeat(100)
        );
        parse(&quoted, "t").unwrap();
    }

    #[test]
    fn a_bad_int_tag_does_not_show_the_value() {
        let e = parse("a: !!int 'sekrit-key-material'\n", "t").unwrap_err();
        let m = e.to_string();
        assert!(!m.contains("sekrit"), "{m}");
        assert!(m.contains("a string of 19 characters"), "{m}");
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let n = parse(
            "base: &base\n  x: 1\n  y: 2\nother: &o\n  y: 3\n  z: 4\n\
             a:\n  y: 0\n  <<: *base\n  x: 9\nb:\n  <<: [*o, *base]\nc: *base\n",
            "t",
        )
        .unwrap();
        let a = get(&n, "a");
        // Psych: the merge overwrites y: 0 written before it; x: 9 after it wins.
        assert_eq!(get(a, "x"), &Node::Int("9".into()));
        assert_eq!(get(a, "y"), &Node::Int("2".into()));
        let b = get(&n, "b");
        assert_eq!(get(b, "y"), &Node::Int("3".into()));
        assert_eq!(get(b, "x"), &Node::Int("1".into()));
        assert_eq!(get(b, "z"), &Node::Int("4".into()));
        assert_eq!(get(get(&n, "c"), "x"), &Node::Int("1".into()));
    }
}
