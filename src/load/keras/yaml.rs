//! YAML configs: saphyr-parser's event stream, built into the same spanned tree as JSON. Aliases are
//! expanded against the node budget (no billion laughs), tags never construct anything (`!!python/tuple`
//! is read as the list it is), and only the first document is used.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};

use super::tree::{Entry, Kind, MAX_DEPTH, MAX_NODES, Node};
use crate::ir::Span;

/// Most values all aliases of a document may expand to (Keras configs rarely use aliases at all); each
/// value costs about 80 bytes, so this bounds a billion-laughs document to a few MB.
pub const MAX_ALIAS_NODES: usize = 100_000;

enum Frame {
    List {
        start: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: usize,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<(String, Span)>,
    },
}

/// Parses the first YAML document of `text`. The error is a sentence with the line and column.
pub fn parse(text: &str) -> Result<Node, String> {
    let mut offsets = ByteOffsets::new(text);
    let mut stack: Vec<Frame> = vec![];
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let mut nodes = 0usize;
    let mut aliased = 0usize;
    let mut root: Option<Node> = None;
    let at = |line: usize, col: usize| format!("invalid YAML at line {line}, column {}", col + 1);

    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| {
            let m = e.marker();
            format!("{}: {}", at(m.line(), m.col()), e.info())
        })?;
        let start = offsets.byte(span.start.index());
        let end = offsets.byte(span.end.index()).max(start);
        let here = Span {
            offset: start,
            len: end - start,
        };
        let fail = |what: &str| format!("{}: {what}", at(span.start.line(), span.start.col()));
        let finished = match event {
            Event::StreamStart | Event::DocumentStart(_) | Event::Nothing => continue,
            Event::DocumentEnd | Event::StreamEnd => break,
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(fail(&format!("nested deeper than {MAX_DEPTH} levels")));
                }
                stack.push(match event {
                    Event::SequenceStart(..) => Frame::List {
                        start,
                        anchor,
                        items: vec![],
                    },
                    _ => Frame::Map {
                        start,
                        anchor,
                        entries: vec![],
                        key: None,
                    },
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match stack.pop() {
                    Some(Frame::List {
                        start,
                        anchor,
                        items,
                    }) => (
                        Node {
                            span: Span {
                                offset: start,
                                len: end.saturating_sub(start),
                            },
                            kind: Kind::List(items),
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        start,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            span: Span {
                                offset: start,
                                len: end.saturating_sub(start),
                            },
                            kind: Kind::Map(entries),
                        },
                        anchor,
                    ),
                    None => return Err(fail("unbalanced end of a collection")),
                };
                nodes += 1;
                remember(&mut anchors, anchor, &node);
                node
            }
            Event::Scalar(value, style, anchor, tag) => {
                let node = Node {
                    span: here,
                    kind: scalar(&value, style, tag.as_deref()),
                };
                nodes += 1;
                remember(&mut anchors, anchor, &node);
                node
            }
            Event::Alias(id) => {
                let (node, count) = anchors
                    .get(&id)
                    .ok_or_else(|| fail("alias to an unknown anchor"))?;
                nodes += count;
                aliased += count;
                // Checked before the copy is made: an alias bomb stops here, in bounded memory.
                if aliased > MAX_ALIAS_NODES {
                    return Err(fail(&format!(
                        "aliases expand to more than {MAX_ALIAS_NODES} values"
                    )));
                }
                let mut node = node.clone();
                node.span = here;
                node
            }
        };
        if nodes > MAX_NODES {
            return Err(fail(&format!(
                "more than {MAX_NODES} values (aliases expanded)"
            )));
        }
        match stack.last_mut() {
            None => {
                root = Some(finished);
                break;
            }
            Some(Frame::List { items, .. }) => items.push(finished),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    let k = match &finished.kind {
                        Kind::Str(s) => s.clone(),
                        Kind::Int(i) => i.to_string(),
                        Kind::Float(f) => f.to_string(),
                        Kind::Bool(b) => b.to_string(),
                        Kind::Null => "null".into(),
                        Kind::List(_) | Kind::Map(_) => {
                            return Err(fail("a list or mapping used as a mapping key"));
                        }
                    };
                    *key = Some((k, finished.span));
                }
                Some((k, key_span)) => entries.push(Entry {
                    key: k,
                    key_span,
                    value: finished,
                }),
            },
        }
    }
    root.ok_or_else(|| "the file has no YAML document".to_string())
}

fn remember(anchors: &mut HashMap<usize, (Node, usize)>, anchor: usize, node: &Node) {
    if anchor > 0 {
        anchors.insert(anchor, (node.clone(), count(node)));
    }
}

fn count(node: &Node) -> usize {
    1 + match &node.kind {
        Kind::List(items) => items.iter().map(count).sum(),
        Kind::Map(entries) => entries.iter().map(|e| count(&e.value)).sum(),
        _ => 0,
    }
}

/// YAML 1.2 core schema for plain scalars; quoted and block scalars are strings. Tags other than the
/// core `!!str`/`!!int`/`!!float`/`!!bool`/`!!null` are ignored: nothing is ever constructed from them.
fn scalar(value: &str, style: ScalarStyle, tag: Option<&Tag>) -> Kind {
    let core = tag
        .filter(|t| t.is_yaml_core_schema())
        .map(|t| t.suffix.as_str());
    match core {
        Some("str") => return Kind::Str(value.to_string()),
        Some("null") => return Kind::Null,
        _ => {}
    }
    if style != ScalarStyle::Plain && core.is_none() {
        return Kind::Str(value.to_string());
    }
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return Kind::Null,
        "true" | "True" | "TRUE" => return Kind::Bool(true),
        "false" | "False" | "FALSE" => return Kind::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Kind::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Kind::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Kind::Float(f64::NEG_INFINITY),
        _ => {}
    }
    if let Some(i) = parse_int(value) {
        return Kind::Int(i);
    }
    if is_float(value)
        && let Ok(f) = value.parse::<f64>()
    {
        return Kind::Float(f);
    }
    Kind::Str(value.to_string())
}

fn parse_int(s: &str) -> Option<i64> {
    if let Some(hex) = s.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = s.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
fn is_float(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = all_digits(int)
        && frac.is_none_or(all_digits)
        && (!int.is_empty() || frac.is_some_and(|f| !f.is_empty()));
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
}

/// saphyr's markers count characters; spans in the IR are bytes. Events arrive in source order, so a
/// forward-moving cursor converts each marker in amortised constant time.
struct ByteOffsets<'a> {
    text: &'a str,
    ascii: bool,
    chars: usize,
    bytes: usize,
}

impl<'a> ByteOffsets<'a> {
    fn new(text: &'a str) -> Self {
        ByteOffsets {
            text,
            ascii: text.is_ascii(),
            chars: 0,
            bytes: 0,
        }
    }

    fn byte(&mut self, char_index: usize) -> usize {
        if self.ascii {
            return char_index.min(self.text.len());
        }
        if char_index < self.chars {
            self.chars = 0;
            self.bytes = 0;
        }
        for c in self.text[self.bytes..].chars() {
            if self.chars == char_index {
                break;
            }
            self.chars += 1;
            self.bytes += c.len_utf8();
        }
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(text: &str, span: Span) -> &str {
        &text[span.offset..span.offset + span.len]
    }

    #[test]
    fn block_yaml_keeps_spans_and_types() {
        let text = "# é comment\nclass_name: Sequential\nconfig:\n  layers:\n  - class_name: Dense\n    config: {units: 1, activation: \"softmax\", rate: 1.0e-07, x: .nan, y: ~}\n";
        let root = parse(text).unwrap();
        assert_eq!(root.get("class_name").unwrap().as_str(), Some("Sequential"));
        let layer = &root
            .get("config")
            .unwrap()
            .get("layers")
            .unwrap()
            .as_list()
            .unwrap()[0];
        let cfg = layer.get("config").unwrap();
        let act = cfg.entry("activation").unwrap();
        assert_eq!(text_of(text, act.pair_span()), "activation: \"softmax\"");
        assert_eq!(cfg.get("units").unwrap().as_i64(), Some(1));
        assert_eq!(cfg.get("rate").unwrap().as_f64(), Some(1e-7));
        assert!(cfg.get("x").unwrap().as_f64().unwrap().is_nan());
        assert!(cfg.get("y").unwrap().is_null());
        let units = cfg.entry("units").unwrap();
        assert_eq!(text_of(text, units.pair_span()), "units: 1");
    }

    #[test]
    fn json_text_parses_as_yaml_too() {
        let text = "{\n\t\"a\": [1, 2.5, \"x\"],\n\t\"b\": {\"c\": null}\n}";
        let root = parse(text).unwrap();
        assert_eq!(root.get("a").unwrap().as_list().unwrap().len(), 3);
        let a = root.entry("a").unwrap();
        assert_eq!(text_of(text, a.key_span), "\"a\"");
    }

    #[test]
    fn python_tuple_tags_are_lists_and_aliases_expand_within_budget() {
        let text = "k: !!python/tuple [3, 3]\nbase: &b {units: 4}\ncopy: *b\n";
        let root = parse(text).unwrap();
        assert_eq!(root.get("k").unwrap().as_list().unwrap().len(), 2);
        assert_eq!(
            root.get("copy").unwrap().get("units").unwrap().as_i64(),
            Some(4)
        );
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            bomb.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        assert!(parse(&bomb).unwrap_err().contains("more than"));
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.starts_with("invalid YAML at line"), "{e}");
        assert!(parse("").unwrap_err().contains("no YAML document"));
    }
}
