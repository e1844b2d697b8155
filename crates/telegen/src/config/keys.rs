//! Key-path index of a YAML document: where each key (and each sequence item) sits.
//!
//! The typed deserialisation reports a line and column but no key path, and semantic
//! validation knows a key path but no line. This index joins the two: it deserialises the
//! same text once more into an untyped tree whose keys and sequence items carry
//! serde-saphyr [`Spanned`] locations, and flattens it into document order:
//! `agent.network.tcp.sample_rate` -> line 12, column 5; `agent.network.include_ports[1]`
//! -> the item's own position. Works for block and flow style alike.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// A position in the source text, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
}

/// One key or sequence item of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// Full path, e.g. `agent.network.tcp.sample_rate` or `agent.network.include_ports[0]`.
    pub path: String,
    pub pos: Pos,
}

/// Every key and sequence item of a document, in document order.
#[derive(Debug, Clone, Default)]
pub struct KeyIndex {
    entries: Vec<KeyEntry>,
}

impl KeyIndex {
    /// Index `text`. Fails with serde-saphyr's error when the text is not valid YAML.
    pub fn build(text: &str) -> Result<KeyIndex, serde_saphyr::Error> {
        let root: Option<Node> = serde_saphyr::from_str(text)?;
        let mut entries = Vec::new();
        if let Some(root) = root {
            flatten(&root, "", &mut entries);
        }
        entries.sort_by_key(|e| e.pos);
        Ok(KeyIndex { entries })
    }

    pub fn entries(&self) -> &[KeyEntry] {
        &self.entries
    }

    /// Where `path` is written, if it is in the document.
    pub fn position_of(&self, path: &str) -> Option<Pos> {
        self.entries.iter().find(|e| e.path == path).map(|e| e.pos)
    }

    /// The key or item an error at `pos` belongs to: the last entry that starts at or
    /// before it (a value always follows its key; an unknown-key error points at the key).
    pub fn path_at(&self, pos: Pos) -> Option<&str> {
        let idx = self.entries.partition_point(|e| e.pos <= pos);
        idx.checked_sub(1).map(|i| self.entries[i].path.as_str())
    }
}

fn flatten(node: &Node, prefix: &str, out: &mut Vec<KeyEntry>) {
    match node {
        Node::Map(items) => {
            for (key, child) in items {
                let path = if prefix.is_empty() {
                    key.value.clone()
                } else {
                    format!("{prefix}.{}", key.value)
                };
                out.push(KeyEntry { path: path.clone(), pos: pos_of(&key.referenced) });
                flatten(child, &path, out);
            }
        }
        Node::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let path = format!("{prefix}[{i}]");
                out.push(KeyEntry { path: path.clone(), pos: pos_of(&item.referenced) });
                flatten(&item.value, &path, out);
            }
        }
        Node::Leaf => {}
    }
}

fn pos_of(loc: &serde_saphyr::Location) -> Pos {
    Pos { line: loc.line(), column: loc.column() }
}

/// An untyped YAML node; only the structure and locations are kept.
#[derive(Debug)]
enum Node {
    Map(Vec<(Spanned<String>, Node)>),
    Seq(Vec<Spanned<Node>>),
    Leaf,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
            let value = map.next_value::<Node>()?;
            let Spanned { value: KeyText(text), referenced, defined } = key;
            items.push((Spanned { value: text, referenced, defined }, value));
        }
        Ok(Node::Map(items))
    }
}

/// A mapping key of any scalar type, as text (`80: x` has the key `80`).
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyText, E> {
                Ok(KeyText("null".into()))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: u64, column: u64) -> Pos {
        Pos { line, column }
    }

    #[test]
    fn block_and_flow_keys_and_items() {
        let text = "agent:\n  network:\n    tcp: {sample_rate: 3}\n    include_ports:\n      - 80\n      - 443\n    exclude_ports: [1, 2]\n";
        let idx = KeyIndex::build(text).unwrap();
        assert_eq!(idx.position_of("agent"), Some(at(1, 1)));
        assert_eq!(idx.position_of("agent.network.tcp"), Some(at(3, 5)));
        assert_eq!(idx.position_of("agent.network.tcp.sample_rate"), Some(at(3, 11)));
        assert_eq!(idx.position_of("agent.network.include_ports[1]"), Some(at(6, 9)));
        assert_eq!(idx.position_of("agent.network.exclude_ports[1]"), Some(at(7, 24)));
        assert_eq!(idx.path_at(at(6, 9)), Some("agent.network.include_ports[1]"));
        assert_eq!(idx.path_at(at(3, 24)), Some("agent.network.tcp.sample_rate"));
        assert_eq!(idx.path_at(at(1, 0)), None);
    }

    #[test]
    fn empty_document_has_no_keys() {
        assert!(KeyIndex::build("").unwrap().entries().is_empty());
        assert!(KeyIndex::build("# only a comment\n").unwrap().entries().is_empty());
    }

    #[test]
    fn non_string_keys_are_text() {
        let idx = KeyIndex::build("a:\n  80: x\n  true: y\n").unwrap();
        assert_eq!(idx.position_of("a.80"), Some(at(2, 3)));
        assert_eq!(idx.position_of("a.true"), Some(at(3, 3)));
    }
}
