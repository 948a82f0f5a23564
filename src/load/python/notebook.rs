//! Jupyter notebooks: the code cells, each with a map from a byte of its decoded code to the byte of
//! the `.ipynb` JSON text it was written at, so findings point at the right line and column of the
//! file itself (JSON escapes `\"`, `\n`, `\uXXXX` and surrogate pairs walked one by one).

use crate::load::LoadError;
use crate::load::keras::{json, tree::Node};

pub struct Cell {
    /// 1-based position among all the notebook's cells (markdown included), as Jupyter numbers them.
    pub index: usize,
    /// The cell's code, magics and shell lines blanked with spaces (byte lengths kept).
    pub code: String,
    /// `map[i]`: offset in the JSON text of byte `i` of `code`; one more entry for the end.
    map: Vec<usize>,
}

impl Cell {
    pub fn to_file(&self, offset: usize) -> usize {
        self.map
            .get(offset)
            .or(self.map.last())
            .copied()
            .unwrap_or(0)
    }
}

pub fn code_cells(text: &str) -> Result<Vec<Cell>, LoadError> {
    let root = json::parse_skipping(text, &["outputs", "attachments"])
        .map_err(|e| LoadError::new(format!("the notebook is not valid JSON: {e}")))?;
    let cells = root
        .get("cells")
        .or_else(|| {
            // nbformat 3: worksheets[0].cells, code in `input`.
            root.get("worksheets")
                .and_then(Node::as_list)
                .and_then(|w| w.first())
                .and_then(|w| w.get("cells"))
        })
        .and_then(Node::as_list)
        .ok_or_else(|| LoadError::not_a_model("not a Jupyter notebook: no `cells` list"))?;
    let mut out = vec![];
    for (i, cell) in cells.iter().enumerate() {
        if cell.get("cell_type").and_then(Node::as_str) != Some("code") {
            continue;
        }
        let Some(source) = cell.get("source").or_else(|| cell.get("input")) else {
            continue;
        };
        let parts: Vec<&Node> = match source.as_list() {
            Some(items) => items.iter().filter(|n| n.as_str().is_some()).collect(),
            None if source.as_str().is_some() => vec![source],
            None => continue,
        };
        let mut code = String::new();
        let mut map = vec![];
        for p in &parts {
            decode_into(text, p, &mut code, &mut map);
        }
        let end = parts.last().map_or(cell.span.offset, |p| {
            p.span.offset + p.span.len.saturating_sub(1)
        });
        map.push(end);
        out.push(Cell {
            index: i + 1,
            code: blank_magics(&code),
            map,
        });
    }
    Ok(out)
}

/// Appends the decoded JSON string literal at `node.span` to `code`, recording where each byte came
/// from.
fn decode_into(text: &str, node: &Node, code: &mut String, map: &mut Vec<usize>) {
    let start = node.span.offset + 1;
    let end = (node.span.offset + node.span.len).saturating_sub(1);
    let Some(raw) = text.get(start..end.max(start)) else {
        return;
    };
    let bytes = raw.as_bytes();
    let mut i = 0;
    // A character written plainly maps byte for byte; an escaped one maps to its backslash.
    let push = |c: char, at: usize, escaped: bool, code: &mut String, map: &mut Vec<usize>| {
        for k in 0..c.len_utf8() {
            map.push(if escaped { at } else { at + k });
        }
        code.push(c);
    };
    while i < bytes.len() {
        let at = start + i;
        if bytes[i] != b'\\' {
            let c = raw[i..].chars().next().unwrap_or(' ');
            push(c, at, false, code, map);
            i += c.len_utf8();
            continue;
        }
        let Some(&e) = bytes.get(i + 1) else {
            break;
        };
        let simple = match e {
            b'"' => Some('"'),
            b'\\' => Some('\\'),
            b'/' => Some('/'),
            b'b' => Some('\u{8}'),
            b'f' => Some('\u{c}'),
            b'n' => Some('\n'),
            b'r' => Some('\r'),
            b't' => Some('\t'),
            _ => None,
        };
        if let Some(c) = simple {
            push(c, at, true, code, map);
            i += 2;
            continue;
        }
        let hex = |k: usize| -> Option<u32> {
            raw.get(k..k + 4)
                .and_then(|h| u32::from_str_radix(h, 16).ok())
        };
        match (e, hex(i + 2)) {
            (b'u', Some(hi)) if (0xD800..0xDC00).contains(&hi) => {
                let lo = (raw.get(i + 6..i + 8) == Some("\\u"))
                    .then(|| hex(i + 8))
                    .flatten()
                    .filter(|lo| (0xDC00..0xE000).contains(lo));
                match lo {
                    Some(lo) => {
                        let c = char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                            .unwrap_or('\u{fffd}');
                        push(c, at, true, code, map);
                        i += 12;
                    }
                    None => {
                        push('\u{fffd}', at, true, code, map);
                        i += 6;
                    }
                }
            }
            (b'u', Some(u)) => {
                push(char::from_u32(u).unwrap_or('\u{fffd}'), at, true, code, map);
                i += 6;
            }
            _ => {
                push('\\', at, true, code, map);
                i += 1;
            }
        }
    }
}

/// IPython lines that are not Python (`%matplotlib inline`, `!pip install keras`, a `%%bash` cell):
/// replaced by spaces so every later offset stays where it was.
fn blank_magics(code: &str) -> String {
    let cell_magic = code.trim_start().starts_with("%%");
    let mut out = String::with_capacity(code.len());
    for line in code.split_inclusive('\n') {
        let t = line.trim_start();
        if cell_magic || t.starts_with('%') || t.starts_with('!') {
            for b in line.bytes() {
                out.push(if b == b'\n' { '\n' } else { ' ' });
            }
        } else {
            out.push_str(line);
        }
    }
    // Blanking multi-byte characters changes nothing in length: one space per byte.
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_into_the_json_text_through_escapes() {
        let text = r#"{"cells": [{"cell_type": "markdown", "source": ["x"]},
 {"cell_type": "code", "source": ["%matplotlib inline\n", "s = \"\u00e9\"\n", "y = 1\n"]}]}"#;
        let cells = code_cells(text).unwrap();
        assert_eq!(cells.len(), 1);
        let c = &cells[0];
        assert_eq!(c.index, 2);
        assert!(
            c.code.starts_with("                  \ns = \"é\"\ny = 1\n"),
            "{:?}",
            c.code
        );
        let y = c.code.find("y = 1").unwrap();
        assert_eq!(&text[c.to_file(y)..c.to_file(y) + 5], "y = 1");
        let s = c.code.find("s =").unwrap();
        assert_eq!(&text[c.to_file(s)..c.to_file(s) + 3], "s =");
        // The é came from a \u escape: its bytes map to the backslash.
        let e = c.code.find('é').unwrap();
        assert_eq!(&text[c.to_file(e)..c.to_file(e) + 6], "\\u00e9");
    }
}
