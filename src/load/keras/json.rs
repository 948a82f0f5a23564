//! A JSON reader that keeps byte spans. Strict JSON, plus the bare `NaN`, `Infinity` and `-Infinity`
//! that Python's `json.dumps` writes. Depth and size are bounded; nothing is ever evaluated.

use super::tree::{Entry, Kind, MAX_DEPTH, MAX_NODES, Node, line_col};
use crate::ir::Span;

/// Parses one JSON document. The error is a sentence with the line and column.
pub fn parse(text: &str) -> Result<Node, String> {
    parse_skipping(text, &[])
}

/// [`parse`], with the strings inside the values of `skip_keys` scanned but not kept (they read as
/// empty strings): a notebook's `outputs` (base64 images, logs) are most of its bytes, and nothing
/// nnlint reads.
pub fn parse_skipping(text: &str, skip_keys: &[&str]) -> Result<Node, String> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
        nodes: 0,
        skip_keys,
        skipping: 0,
    };
    if text.starts_with('\u{feff}') {
        p.pos = 3;
    }
    let result = p.document();
    result.map_err(|(at, what)| {
        let (line, col) = line_col(text, at);
        format!("invalid JSON at line {line}, column {col}: {what}")
    })
}

type Fail = (usize, String);

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    nodes: usize,
    skip_keys: &'a [&'a str],
    /// Inside the value of a key in `skip_keys`: strings are scanned, not kept.
    skipping: usize,
}

impl Parser<'_> {
    fn document(&mut self) -> Result<Node, Fail> {
        self.skip_ws();
        if self.pos >= self.bytes.len() {
            return Err((self.pos, "the file is empty".into()));
        }
        let node = self.value()?;
        self.skip_ws();
        if self.pos < self.bytes.len() {
            return Err((
                self.pos,
                "unexpected text after the end of the document".into(),
            ));
        }
        Ok(node)
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn node(&mut self, start: usize, kind: Kind) -> Result<Node, Fail> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err((start, format!("more than {MAX_NODES} values")));
        }
        Ok(Node {
            span: Span {
                offset: start,
                len: self.pos - start,
            },
            kind,
        })
    }

    fn value(&mut self) -> Result<Node, Fail> {
        let start = self.pos;
        match self.peek() {
            Some(b'{') => self.nested(|p| p.object()),
            Some(b'[') => self.nested(|p| p.array()),
            Some(b'"') => {
                let s = self.string()?;
                self.node(start, Kind::Str(s))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'a'..=b'z' | b'A'..=b'Z') => self.word(),
            Some(_) => Err((start, format!("unexpected character {}", self.char_here()))),
            None => Err((start, "unexpected end of the file".into())),
        }
    }

    fn char_here(&self) -> String {
        let c = self.text[self.pos..].chars().next().unwrap_or(' ');
        format!("`{}`", c.escape_debug())
    }

    fn nested(&mut self, f: impl FnOnce(&mut Self) -> Result<Node, Fail>) -> Result<Node, Fail> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err((self.pos, format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn object(&mut self) -> Result<Node, Fail> {
        let start = self.pos;
        self.pos += 1;
        let mut entries = vec![];
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return self.node(start, Kind::Map(entries));
        }
        loop {
            self.skip_ws();
            let key_start = self.pos;
            if self.peek() != Some(b'"') {
                return Err((self.pos, "expected a quoted key".into()));
            }
            let key = self.string()?;
            let key_span = Span {
                offset: key_start,
                len: self.pos - key_start,
            };
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err((self.pos, "expected `:` after the key".into()));
            }
            self.pos += 1;
            self.skip_ws();
            let skip = self.skip_keys.contains(&key.as_str());
            self.skipping += usize::from(skip);
            let value = self.value();
            self.skipping -= usize::from(skip);
            let value = value?;
            entries.push(Entry {
                key,
                key_span,
                value,
            });
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return self.node(start, Kind::Map(entries));
                }
                None => {
                    return Err((
                        self.pos,
                        "unexpected end of the file inside an object".into(),
                    ));
                }
                _ => return Err((self.pos, "expected `,` or `}`".into())),
            }
        }
    }

    fn array(&mut self) -> Result<Node, Fail> {
        let start = self.pos;
        self.pos += 1;
        let mut items = vec![];
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return self.node(start, Kind::List(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return self.node(start, Kind::List(items));
                }
                None => return Err((self.pos, "unexpected end of the file inside a list".into())),
                _ => return Err((self.pos, "expected `,` or `]`".into())),
            }
        }
    }

    /// A quoted string; `pos` is at the opening quote and ends after the closing one.
    fn string(&mut self) -> Result<String, Fail> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        if self.skipping > 0 {
            return self.skip_string(open);
        }
        loop {
            // Copy the run of plain characters in one go.
            let run_start = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[run_start..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(&mut out)?;
                }
                Some(_) => {
                    return Err((self.pos, "control character inside a string".into()));
                }
                None => return Err((open, "string is not closed".into())),
            }
        }
    }

    /// The rest of a string whose value is not kept: to its closing quote, escapes stepped over.
    fn skip_string(&mut self, open: usize) -> Result<String, Fail> {
        loop {
            match self.bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(String::new());
                }
                Some(b'\\') => self.pos += 2,
                Some(&b) if b < 0x20 => {
                    return Err((self.pos, "control character inside a string".into()));
                }
                Some(_) => self.pos += 1,
                None => return Err((open, "string is not closed".into())),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), Fail> {
        let at = self.pos - 1;
        let c = self
            .peek()
            .ok_or((at, "string is not closed".to_string()))?;
        self.pos += 1;
        match c {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let hi = self.hex4(at)?;
                let code = if (0xd800..0xdc00).contains(&hi) {
                    if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                        return Err((at, "unpaired surrogate in a \\u escape".into()));
                    }
                    self.pos += 2;
                    let lo = self.hex4(at)?;
                    if !(0xdc00..0xe000).contains(&lo) {
                        return Err((at, "unpaired surrogate in a \\u escape".into()));
                    }
                    0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                } else {
                    hi
                };
                let ch = char::from_u32(code).ok_or((at, "invalid \\u escape".to_string()))?;
                out.push(ch);
            }
            _ => return Err((at, "invalid escape in a string".into())),
        }
        Ok(())
    }

    fn hex4(&mut self, at: usize) -> Result<u32, Fail> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .ok_or((at, "invalid \\u escape".to_string()))?;
        self.pos += 4;
        Ok(digits)
    }

    fn number(&mut self) -> Result<Node, Fail> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
            if self.bytes[self.pos..].starts_with(b"Infinity") {
                self.pos += "Infinity".len();
                return self.node(start, Kind::Float(f64::NEG_INFINITY));
            }
        }
        let digits = |p: &mut Self| {
            let s = p.pos;
            while let Some(b'0'..=b'9') = p.peek() {
                p.pos += 1;
            }
            p.pos - s
        };
        let int_start = self.pos;
        let n = digits(self);
        if n == 0 {
            return Err((self.pos, "expected a digit".into()));
        }
        if n > 1 && self.bytes[int_start] == b'0' {
            return Err((int_start, "numbers must not have leading zeros".into()));
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            is_float = true;
            if digits(self) == 0 {
                return Err((self.pos, "expected a digit after the decimal point".into()));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            is_float = true;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err((self.pos, "expected a digit in the exponent".into()));
            }
        }
        let text = &self.text[start..self.pos];
        let kind = match (is_float, text.parse::<i64>()) {
            (false, Ok(i)) => Kind::Int(i),
            _ => Kind::Float(
                text.parse::<f64>()
                    .map_err(|_| (start, format!("invalid number `{text}`")))?,
            ),
        };
        self.node(start, kind)
    }

    fn word(&mut self) -> Result<Node, Fail> {
        let start = self.pos;
        while let Some(b'a'..=b'z' | b'A'..=b'Z') = self.peek() {
            self.pos += 1;
        }
        let kind = match &self.text[start..self.pos] {
            "true" => Kind::Bool(true),
            "false" => Kind::Bool(false),
            "null" => Kind::Null,
            "NaN" => Kind::Float(f64::NAN),
            "Infinity" => Kind::Float(f64::INFINITY),
            other => {
                let shown: String = other.chars().take(20).collect();
                return Err((start, format!("unexpected word `{shown}`")));
            }
        };
        self.node(start, kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_the_written_value() {
        let text = "{\n  \"activation\": \"softmax\",\n  \"units\": 1\n}";
        let root = parse(text).unwrap();
        let e = root.entry("activation").unwrap();
        let s = e.value.span;
        assert_eq!(&text[s.offset..s.offset + s.len], "\"softmax\"");
        let p = e.pair_span();
        assert_eq!(
            &text[p.offset..p.offset + p.len],
            "\"activation\": \"softmax\""
        );
        assert_eq!(root.get("units").unwrap().as_i64(), Some(1));
    }

    #[test]
    fn python_nan_and_infinity_are_numbers() {
        let root = parse("[NaN, Infinity, -Infinity, 1e-07, -0.5, 12]").unwrap();
        let v: Vec<f64> = root
            .as_list()
            .unwrap()
            .iter()
            .filter_map(Node::as_f64)
            .collect();
        assert!(v[0].is_nan());
        assert_eq!(
            &v[1..],
            &[f64::INFINITY, f64::NEG_INFINITY, 1e-7, -0.5, 12.0]
        );
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse("{\n  \"a\": 1,\n  \"b\" 2\n}").unwrap_err();
        assert_eq!(
            e,
            "invalid JSON at line 3, column 7: expected `:` after the key"
        );
        assert!(parse("").unwrap_err().contains("empty"));
        assert!(
            parse("{\"a\": tru}")
                .unwrap_err()
                .contains("unexpected word `tru`")
        );
        assert!(parse("[1, 2").unwrap_err().contains("end of the file"));
        assert!(parse("\"abc").unwrap_err().contains("not closed"));
        assert!(parse("{} x").unwrap_err().contains("after the end"));
    }

    #[test]
    fn escapes_decode_and_deep_nesting_is_refused() {
        let root = parse(r#"["a\"b\\c\u00e9\ud83d\ude00\n"]"#).unwrap();
        assert_eq!(root.as_list().unwrap()[0].as_str(), Some("a\"b\\cé😀\n"));
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(parse(&deep).unwrap_err().contains("nested deeper"));
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(&ok).is_ok());
    }
}
