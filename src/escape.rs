//! The one escaper of the crate: for every line it writes (log lines, error messages and their
//! key/value pairs) and for programs that print text they did not write themselves (the
//! `tracectx` command line prints foreign run ids, trace ids, file names and log lines
//! through it).
//!
//! A line is only as trustworthy as its prefix. What could end it early or disguise it is
//! written as an escape, so one record is always one line and no text can start a line of its
//! own, move the cursor, recolor the terminal or reorder what it shows:
//!
//! - `\n`, `\r` and `\t` as those two characters;
//! - every other control character (C0, DEL, C1, among them the ESC of terminal sequences),
//!   the Unicode line and paragraph separators (U+2028, U+2029), the bidirectional controls
//!   (the marks U+200E, U+200F and U+061C, the embeddings and overrides U+202A to U+202E, the
//!   isolates U+2066 to U+2069) and the byte order mark U+FEFF, as `\u{..}` in hex
//!   ([`is_escaped`]).
//!
//! Everything else is written as it is, so text in any script stays readable. Three forms:
//!
//! - [`text`]: a string on one line, as above;
//! - [`bytes`]: the same for bytes that may not be UTF-8, each invalid byte as `\x..`;
//! - [`json`]: a JSON text whose strings hold such characters, with each written as the JSON
//!   escape `\uXXXX`: the same JSON value, harmless on a terminal.
//!
//! # Examples
//!
//! ```
//! use tracectx::escape;
//!
//! assert_eq!(escape::text("run\n[forged] \u{1b}[31mred").to_string(), "run\\n[forged] \\u{1b}[31mred");
//! assert_eq!(escape::bytes(b"caf\xe9\r").to_string(), "caf\\xe9\\r");
//! assert_eq!(escape::json("{\"run_id\":\"a\u{202e}b\"}"), "{\"run_id\":\"a\\u202eb\"}");
//! ```

use std::borrow::Cow;
use std::fmt::{self, Write as _};

/// Whether `c` is written as an escape: a control character, a line or paragraph separator, a
/// bidirectional control or the byte order mark (see the [module](self)).
///
/// # Examples
///
/// ```
/// use tracectx::escape::is_escaped;
///
/// assert!(is_escaped('\u{1b}') && is_escaped('\u{200f}') && is_escaped('\u{feff}'));
/// assert!(!is_escaped('é') && !is_escaped('€') && !is_escaped(' '));
/// ```
pub fn is_escaped(c: char) -> bool {
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

// === impl Text ===

/// Displays text on one line, with what could break or disguise it escaped; made by [`text`].
///
/// # Examples
///
/// ```
/// use tracectx::escape::{self, Text};
///
/// let shown: Text<'_> = escape::text("line one\nline two");
/// assert_eq!(format!("[{shown}]"), "[line one\\nline two]");
/// assert_eq!(shown.to_string().lines().count(), 1);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Text<'a>(pub(crate) &'a str);

/// `s` on one line, with what could break or disguise a line escaped (see the
/// [module](self)): for text the program did not write itself, on its way to a terminal or a
/// log.
///
/// # Examples
///
/// ```
/// use tracectx::escape;
///
/// let foreign = "job_1\u{1b}[2K\rjob_2";
/// assert_eq!(format!("run {}", escape::text(foreign)), "run job_1\\u{1b}[2K\\rjob_2");
/// assert_eq!(escape::text("naïve ✓").to_string(), "naïve ✓");
/// ```
pub fn text(s: &str) -> Text<'_> {
    Text(s)
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Escaper::new(f).write_str(self.0)
    }
}

// === impl Bytes ===

/// Displays bytes on one line, as [`Text`] does, each byte that is not part of valid UTF-8 as
/// `\x..`; made by [`bytes`].
///
/// # Examples
///
/// ```
/// use tracectx::escape::{self, Bytes};
///
/// let name: Bytes<'_> = escape::bytes(b"run\xc3\x28.log");
/// assert_eq!(format!("file {name}"), "file run\\xc3(.log");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Bytes<'a>(&'a [u8]);

/// `b` on one line, as [`text`] writes a string, each byte that is not part of valid UTF-8
/// written as `\x` and two lowercase hex digits: for a file name or a log line that may hold
/// any bytes.
///
/// # Examples
///
/// ```
/// use tracectx::escape;
///
/// assert_eq!(escape::bytes(b"app\xff.log").to_string(), "app\\xff.log");
/// assert_eq!(escape::bytes("ünï\n".as_bytes()).to_string(), "ünï\\n");
/// ```
pub fn bytes(b: &[u8]) -> Bytes<'_> {
    Bytes(b)
}

impl fmt::Display for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            Escaper::new(&mut *f).write_str(chunk.valid())?;
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

// === json ===

/// Writes `c` (one that [`is_escaped`]) as a JSON escape, `\u` and four hex digits (every such
/// character is in the Basic Multilingual Plane).
pub(crate) fn write_json_escape<W: fmt::Write + ?Sized>(out: &mut W, c: char) -> fmt::Result {
    write!(out, "\\u{:04x}", c as u32)
}

/// Whether `s` may hold a character that [`json`] escapes: cheap, for a fast path.
pub(crate) fn json_may_need(s: &[u8]) -> bool {
    !s.is_ascii() || s.contains(&0x7f)
}

/// The JSON text `s` (an object per line, or a pretty-printed document) with each character
/// that [`is_escaped`] inside its strings written as a JSON escape, `\u202e`: the same JSON
/// value, that cannot move the cursor or reorder a terminal line. Between tokens, where JSON
/// allows `\t` and `\r` as white space, they become spaces; `\n` is kept, so pretty-printed
/// JSON stays so. Borrowed when nothing needs escaping.
///
/// Meant for valid JSON. Other text gets the escapes too, but a string left open (a line cut
/// short) escapes up to its end in the JSON form.
///
/// # Examples
///
/// ```
/// use tracectx::escape;
///
/// let line = "{\"message\":\"\u{2066}admin\u{2069} \u{7f}\",\t\"n\":1}";
/// assert_eq!(escape::json(line), r#"{"message":"\u2066admin\u2069 \u007f", "n":1}"#);
/// assert!(matches!(escape::json(r#"{"ok":"plain"}"#), std::borrow::Cow::Borrowed(_)));
/// ```
pub fn json(s: &str) -> Cow<'_, str> {
    let needs = json_may_need(s.as_bytes()) || s.bytes().any(|b| b < 0x20 && b != b'\n');
    if !needs {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let (mut in_string, mut escaped) = (false, false);
    for c in s.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            } else if is_escaped(c) {
                // Writing to a `String` cannot fail.
                let _ = write_json_escape(&mut out, c);
                continue;
            }
        } else if c == '"' {
            in_string = true;
        } else if c != '\n' && is_escaped(c) {
            out.push(' ');
            continue;
        }
        out.push(c);
    }
    if out == s {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(out)
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
        text(s).to_string()
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
    fn bytes_that_hide_a_line_breaker_are_escaped() {
        let show = |b: &[u8]| bytes(b).to_string();
        // An overlong `\n`, a surrogate encoded as UTF-8 (CESU-8), a cut sequence at the end.
        assert_eq!(show(b"a\xc0\x8ab"), "a\\xc0\\x8ab");
        assert_eq!(show(b"\xed\xa0\x80x"), "\\xed\\xa0\\x80x");
        assert_eq!(show(b"run\xe2\x80"), "run\\xe2\\x80");
        // Valid UTF-8 of a C1 CSI, a bidi override and a line separator.
        assert_eq!(
            show("\u{9b}2J\u{202e}\u{2028}".as_bytes()),
            "\\u{9b}2J\\u{202e}\\u{2028}"
        );
    }

    #[test]
    fn json_strings_get_json_escapes_and_keep_their_value() {
        // A raw C1, a line separator and an ESC after an escaped quote, inside strings; a
        // lone surrogate already written as a JSON escape stays as it is (it is plain text).
        let line = "{\"m\":\"a\\\"\u{1b}[2K\u{9b}\u{2028}\",\"s\":\"\\ud800\"}";
        assert_eq!(
            json(line),
            "{\"m\":\"a\\\"\\u001b[2K\\u009b\\u2028\",\"s\":\"\\ud800\"}"
        );
        // Between tokens: the JSON white space `\t` and `\r` become spaces, `\n` stays.
        assert_eq!(json("{\r\n\t\"a\":1}"), "{ \n \"a\":1}");
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
