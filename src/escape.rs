//! The one escaper for every line the crate writes: log lines, error messages and their
//! key/value pairs.
//!
//! A line is only as trustworthy as its prefix. What could end it early or disguise it is
//! written as an escape, so one record is always one line and no text can start a line of its
//! own or reorder what a terminal shows:
//!
//! - `\n`, `\r` and `\t` as those two characters;
//! - every other control character (C0, DEL, C1, among them the ESC of terminal sequences),
//!   the Unicode line and paragraph separators (U+2028, U+2029), the bidirectional controls
//!   (the marks U+200E, U+200F and U+061C, the embeddings and overrides U+202A to U+202E, the
//!   isolates U+2066 to U+2069) and the byte order mark U+FEFF, as `\u{..}` in hex.
//!
//! Everything else is written as it is, so text in any script stays readable.

use std::fmt::{self, Write as _};

/// Whether `c` is written as an escape.
pub(crate) fn is_escaped(c: char) -> bool {
    matches!(c,
        '\0'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{061c}' | '\u{200e}' | '\u{200f}'
        | '\u{2028}' | '\u{2029}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        | '\u{feff}')
}

/// Writes the escape of `c` (one that [`is_escaped`]).
fn write_escape<W: fmt::Write + ?Sized>(out: &mut W, c: char) -> fmt::Result {
    match c {
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    }
}

// === impl Escaper ===

/// A `fmt::Write` adapter that escapes what could break or disguise a line, and remembers
/// whether anything was written.
pub(crate) struct Escaper<'a, W: fmt::Write + ?Sized> {
    inner: &'a mut W,
    /// Also escape `"` and `\` (inside a quoted value).
    quotes: bool,
    wrote: bool,
}

impl<'a, W: fmt::Write + ?Sized> Escaper<'a, W> {
    /// Escapes line breakers on their way to `inner`.
    pub(crate) fn new(inner: &'a mut W) -> Self {
        Self {
            inner,
            quotes: false,
            wrote: false,
        }
    }

    /// Also escapes `"` and `\`, for the inside of a quoted value.
    fn quoting(inner: &'a mut W) -> Self {
        Self {
            inner,
            quotes: true,
            wrote: false,
        }
    }

    /// Whether anything (a non-empty string) was written through it.
    #[cfg_attr(not(feature = "logging"), allow(dead_code))]
    pub(crate) fn wrote(&self) -> bool {
        self.wrote
    }

    /// The writer underneath, to write what needs no escaping (a separator).
    #[cfg_attr(not(feature = "logging"), allow(dead_code))]
    pub(crate) fn inner(&mut self) -> &mut W {
        self.inner
    }
}

impl<W: fmt::Write + ?Sized> fmt::Write for Escaper<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.is_empty() {
            return Ok(());
        }
        self.wrote = true;
        let quotes = self.quotes;
        // Fast path: printable ASCII needs nothing (but quotes and backslashes when quoting).
        if s.bytes()
            .all(|b| (0x20..0x7f).contains(&b) && !(quotes && matches!(b, b'"' | b'\\')))
        {
            return self.inner.write_str(s);
        }
        let mut start = 0;
        for (i, c) in s.char_indices() {
            let quote = quotes && matches!(c, '"' | '\\');
            if !quote && !is_escaped(c) {
                continue;
            }
            self.inner.write_str(&s[start..i])?;
            if quote {
                self.inner.write_char('\\')?;
                self.inner.write_char(c)?;
            } else {
                write_escape(self.inner, c)?;
            }
            start = i + c.len_utf8();
        }
        self.inner.write_str(&s[start..])
    }
}

// === impl OneLine ===

/// Displays text with line breakers escaped: a message that stays on one line.
pub(crate) struct OneLine<'a>(pub(crate) &'a str);

impl fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Escaper::new(f).write_str(self.0)
    }
}

// === impl Value ===

/// Displays a key or a value of a `key=value` pair: bare when it cannot break a line or fake
/// a pair (letters, digits and punctuation other than `" = [ ] \`), else in double quotes
/// with `"` and `\` escaped as well as line breakers.
pub(crate) struct Value<'a>(pub(crate) &'a str);

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bare = !self.0.is_empty()
            && self.0.chars().all(|c| {
                if c.is_ascii() {
                    c.is_ascii_graphic() && !matches!(c, '"' | '=' | '[' | ']' | '\\')
                } else {
                    c.is_alphanumeric()
                }
            });
        if bare {
            return f.write_str(self.0);
        }
        f.write_char('"')?;
        Escaper::quoting(f).write_str(self.0)?;
        f.write_char('"')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_line(s: &str) -> String {
        OneLine(s).to_string()
    }

    #[test]
    fn line_breakers_become_escapes() {
        assert_eq!(
            one_line("a\nb\r\tc\u{1b}[31m\u{2028}\u{85}é"),
            "a\\nb\\r\\tc\\u{1b}[31m\\u{2028}\\u{85}é"
        );
    }

    #[test]
    fn every_bidirectional_control_is_escaped() {
        for c in [
            '\u{061c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}',
            '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{feff}',
        ] {
            let out = one_line(&format!("x{c}y"));
            assert_eq!(out, format!("x\\u{{{:x}}}y", c as u32));
        }
    }

    #[test]
    fn nothing_else_is_touched() {
        for c in ('\u{a0}'..='\u{10ffff}')
            .step_by(7)
            .filter(|&c| !is_escaped(c))
        {
            let s = c.to_string();
            assert_eq!(one_line(&s), s);
        }
    }

    #[test]
    fn values_are_bare_or_quoted() {
        let show = |s: &str| Value(s).to_string();
        assert_eq!(show("naïve"), "naïve");
        assert_eq!(show("cfg.toml"), "cfg.toml");
        assert_eq!(show(""), r#""""#);
        assert_eq!(show("k=v"), r#""k=v""#);
        assert_eq!(show("a \"b\" \\"), r#""a \"b\" \\""#);
        assert_eq!(show("x\ny\u{202e}"), r#""x\ny\u{202e}""#);
    }
}
