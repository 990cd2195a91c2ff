//! A small JSON text writer for the hot path: messages and outputs are written straight into one string, with
//! application data (already valid JSON text) copied in raw rather than parsed and re-encoded.

use std::fmt::Write;

pub struct JsonWriter {
    out: String,
    /// True right after an opening bracket or a key: the next value takes no comma.
    first: bool,
}

impl Default for JsonWriter {
    fn default() -> Self {
        JsonWriter::new()
    }
}

impl JsonWriter {
    pub fn new() -> JsonWriter {
        JsonWriter { out: String::with_capacity(256), first: true }
    }

    pub fn finish(self) -> String {
        self.out
    }

    /// Where the next value goes: the length of the text written so far, in bytes.
    pub fn position(&self) -> usize {
        self.out.len()
    }

    /// The text written so far.
    pub fn as_str(&self) -> &str {
        &self.out
    }

    /// Writes the comma that the next value needs, so that the value's text starts at `len()`; the next
    /// value then takes none.
    pub fn comma_before_value(&mut self) {
        self.comma();
        self.first = true;
    }

    fn comma(&mut self) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
    }

    pub fn begin_object(&mut self) -> &mut Self {
        self.comma();
        self.out.push('{');
        self.first = true;
        self
    }

    pub fn end_object(&mut self) -> &mut Self {
        self.out.push('}');
        self.first = false;
        self
    }

    pub fn begin_array(&mut self) -> &mut Self {
        self.comma();
        self.out.push('[');
        self.first = true;
        self
    }

    pub fn end_array(&mut self) -> &mut Self {
        self.out.push(']');
        self.first = false;
        self
    }

    /// Writes an object key; the value written next belongs to it.
    pub fn key(&mut self, key: &str) -> &mut Self {
        self.comma();
        write_escaped(&mut self.out, key);
        self.out.push(':');
        self.first = true;
        self
    }

    pub fn string(&mut self, value: &str) -> &mut Self {
        self.comma();
        write_escaped(&mut self.out, value);
        self
    }

    pub fn int(&mut self, value: i64) -> &mut Self {
        self.comma();
        if value < 0 {
            self.out.push('-');
        }
        write_decimal(&mut self.out, value.unsigned_abs());
        self
    }

    pub fn uint(&mut self, value: u64) -> &mut Self {
        self.comma();
        write_decimal(&mut self.out, value);
        self
    }

    pub fn bool(&mut self, value: bool) -> &mut Self {
        self.comma();
        self.out.push_str(if value { "true" } else { "false" });
        self
    }

    pub fn null(&mut self) -> &mut Self {
        self.comma();
        self.out.push_str("null");
        self
    }

    /// Copies JSON text that is known to be valid (empty text is written as null).
    pub fn raw(&mut self, json: &str) -> &mut Self {
        self.comma();
        self.out.push_str(if json.is_empty() { "null" } else { json });
        self
    }

    pub fn opt_string(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.string(value),
            None => self.null(),
        }
    }
}

/// Digits without the formatting machinery, which showed in profiles: every message carries several numbers.
fn write_decimal(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&digits[start..]).unwrap_or("0"));
}

fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// Whether any byte of `bytes` needs escaping, eight bytes at a time: every entry on the wire carries an id,
/// and checking it byte by byte showed in profiles.
fn any_needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte of `word` is zero exactly when the corresponding high bit of the result is set (no false positives
    // once combined with `!word`).
    let has_zero_byte = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_ne_bytes(word);
        // Bytes below 0x20: with the high bit clear and below 0x20, subtracting 0x20 borrows into bit 7.
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
        let quote = has_zero_byte(word ^ (ONES * u64::from(b'"')));
        let backslash = has_zero_byte(word ^ (ONES * u64::from(b'\\')));
        if control | quote | backslash != 0 {
            return true;
        }
    }
    chunks.remainder().iter().copied().any(needs_escape)
}

fn write_escaped(out: &mut String, value: &str) {
    out.push('"');
    // Names and ids rarely hold anything to escape: copy them whole.
    if !any_needs_escape(value.as_bytes()) {
        out.push_str(value);
        out.push('"');
        return;
    }
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_nested_values_with_commas_in_the_right_places() {
        let mut w = JsonWriter::new();
        w.begin_object().key("a").int(-1).key("b").begin_array().string("x\"y").null().raw("{\"k\":[1]}").end_array();
        w.key("c").begin_object().end_object().key("d").bool(true).end_object();
        let text = w.finish();
        assert_eq!(text, r#"{"a":-1,"b":["x\"y",null,{"k":[1]}],"c":{},"d":true}"#);
        let parsed: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(parsed["b"][0], "x\"y");
    }

    #[test]
    fn writes_integers_at_their_limits() {
        let mut w = JsonWriter::new();
        w.begin_array().int(i64::MIN).int(-1).int(0).uint(7).uint(u64::MAX).end_array();
        assert_eq!(w.finish(), format!("[{},-1,0,7,{}]", i64::MIN, u64::MAX));
    }

    #[test]
    fn finds_every_byte_that_needs_escaping_at_any_position() {
        for len in 0..20 {
            for at in 0..len {
                for byte in 0u8..=255 {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = byte;
                    assert_eq!(any_needs_escape(&bytes), needs_escape(byte), "byte {byte} at {at} of {len}");
                }
            }
            assert!(!any_needs_escape(&vec![0xff; len]));
        }
        // Mixed bytes (borrows between neighbours), against the byte-by-byte check.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let (mut with, mut without) = (0, 0);
        for _ in 0..20_000 {
            let bytes: Vec<u8> = (0..24)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    // Mostly bytes that need no escaping, around the ones that do.
                    let plain = [0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0x9f, 0xa0, 0xa2, 0xdc, 0xff];
                    let special = [0x00, 0x01, 0x1f, b'"', b'\\'];
                    if state.is_multiple_of(64) {
                        special[(state >> 8) as usize % 5]
                    } else {
                        plain[(state >> 8) as usize % 12]
                    }
                })
                .collect();
            for start in 0..8 {
                let slice = &bytes[start..];
                let expected = slice.iter().copied().any(needs_escape);
                assert_eq!(any_needs_escape(slice), expected, "{slice:?}");
                if expected {
                    with += 1
                } else {
                    without += 1
                }
            }
        }
        assert!(with > 10_000 && without > 10_000, "both outcomes are tried: {with} {without}");
    }

    #[test]
    fn escapes_control_characters() {
        let mut w = JsonWriter::new();
        w.string("\u{1}\n");
        let parsed: String = serde_json::from_str(&w.finish()).expect("valid JSON");
        assert_eq!(parsed, "\u{1}\n");
    }
}
