//! Text templates: `[{run_id}] {level} - {message}`, parsed once, when a format is made.

use super::DEFAULT_TEMPLATE;
use crate::escape::is_escaped;
use crate::time::TimeFormat;

/// A parsed text template; see [`TextFormat::from_template`](super::TextFormat::from_template).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pub(crate) segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Literal(Box<str>),
    /// RFC 3339 in microseconds (`None`), or laid out by a format.
    Timestamp(Option<TimeFormat>),
    RunId,
    TraceId,
    SpanId,
    ParentSpanId,
    Level,
    Target,
    Message,
    /// `sep` is the whitespace written before the fields, elided when there are none.
    Fields {
        sep: Box<str>,
    },
}

/// The placeholders a template may use.
///
/// # Examples
///
/// ```
/// use tracectx::logging::{TextFormat, PLACEHOLDERS};
///
/// for name in PLACEHOLDERS {
///     assert!(TextFormat::from_template(&format!("{{{name}}}")).is_ok(), "{name}");
/// }
/// assert!(!PLACEHOLDERS.contains(&"lvl"));
/// assert!(TextFormat::from_template("{lvl}").is_err());
/// ```
pub const PLACEHOLDERS: &[&str] = &[
    "timestamp",
    "run_id",
    "trace_id",
    "span_id",
    "parent_span_id",
    "level",
    "target",
    "message",
    "fields",
];

/// The most characters of an unknown placeholder's name an error keeps.
const MAX_NAME_SHOWN: usize = 64;

/// Why a text template was refused.
///
/// # Examples
///
/// ```
/// use tracectx::logging::{TemplateError, TextFormat};
///
/// let err = TextFormat::from_template("[{run}] {message}").unwrap_err();
/// assert_eq!(err, TemplateError::UnknownPlaceholder { name: "run".into(), at: 1 });
/// assert_eq!(
///     err.to_string(),
///     "unknown placeholder {run} at byte 1 of the log template: expected one of timestamp, \
///      run_id, trace_id, span_id, parent_span_id, level, target, message, fields",
/// );
///
/// let err = TextFormat::from_template("{timestamp:%Y-%m-%d {H}} {message}").unwrap_err();
/// assert_eq!(err, TemplateError::NestedBrace { at: 0, inner: 20 });
///
/// // A long name is cut.
/// let err = TextFormat::from_template(&format!("{{{}}}", "x".repeat(10_000))).unwrap_err();
/// assert!(err.to_string().len() < 300);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// A `{name}` that is not one of the known placeholders.
    #[error(
        "unknown placeholder {{{name}}} at byte {at} of the log template: expected one of {}",
        PLACEHOLDERS.join(", ")
    )]
    UnknownPlaceholder {
        /// The name between the braces.
        name: String,
        /// Byte offset of the `{`.
        at: usize,
    },
    /// A `{` with no `}` after it (write `{{` for a literal brace).
    #[error("unclosed \"{{\" at byte {at} of the log template")]
    UnclosedBrace {
        /// Byte offset of the `{`.
        at: usize,
    },
    /// A `{` inside a placeholder, before its `}` (write `{{` for a literal brace).
    #[error(
        "\"{{\" at byte {inner} inside the placeholder opened at byte {at} of the log template \
         (write {{{{ for a literal brace)"
    )]
    NestedBrace {
        /// Byte offset of the placeholder's `{`.
        at: usize,
        /// Byte offset of the `{` inside it.
        inner: usize,
    },
    /// A `}` with no `{` before it (write `}}` for a literal brace).
    #[error("unmatched \"}}\" at byte {at} of the log template")]
    UnmatchedBrace {
        /// Byte offset of the `}`.
        at: usize,
    },
    /// A newline or other control character, which would split one event over lines.
    #[error("control character {ch:?} at byte {at} of the log template")]
    ControlCharacter {
        /// The character.
        ch: char,
        /// Its byte offset.
        at: usize,
    },
    /// A placeholder in the syntax of Python's `logging` (`%(levelname)s`), which this crate
    /// would print as it is.
    #[error(
        "python-style placeholder \"{found}\" at byte {at} of the log template: write {hint} \
         instead (placeholders are {{name}}, as in \"[{{run_id}}] {{level}} - {{message}}\")"
    )]
    PythonStyle {
        /// The placeholder as written (`%(levelname)s`).
        found: String,
        /// What to write instead (`{level}`), or the list of placeholders.
        hint: String,
        /// Byte offset of the `%`.
        at: usize,
    },
    /// A `{timestamp:...}` format that was refused.
    #[error("bad timestamp format in the log template: {source}")]
    TimestampFormat {
        /// What was wrong, with its byte offset in the template.
        source: crate::time::TimeFormatError,
    },
    /// A format (`{level:...}`) on a placeholder that takes none: only `{timestamp}` does.
    #[error(
        "placeholder {{{name}}} at byte {at} of the log template takes no format (only {{timestamp:...}} does)"
    )]
    UnexpectedFormat {
        /// The placeholder's name.
        name: String,
        /// Byte offset of the `{`.
        at: usize,
    },
}

/// The placeholder of this crate for a Python `logging` attribute, for the hint.
fn python_hint(name: &str) -> String {
    let ours = match name {
        "asctime" | "created" => "timestamp",
        "levelname" | "levelno" => "level",
        "name" | "module" | "funcName" | "pathname" | "filename" => "target",
        "message" | "msg" => "message",
        other if PLACEHOLDERS.contains(&other) => other,
        _ => {
            return format!(
                "one of {}",
                PLACEHOLDERS
                    .iter()
                    .map(|p| format!("{{{p}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    };
    format!("{{{ours}}}")
}

/// A Python `logging` placeholder at the start of `rest`: `%(name)` then a conversion
/// (`s`, `d`, `r`, `f`, with optional flags, width and precision); its length and name.
fn python_placeholder(rest: &str) -> Option<(usize, &str)> {
    let inner = rest.strip_prefix("%(")?;
    let close = inner.find(')')?;
    let name = &inner[..close];
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let after = &inner[close + 1..];
    let spec = after
        .bytes()
        .take_while(|b| matches!(b, b'-' | b'+' | b' ' | b'#' | b'.' | b'0'..=b'9'))
        .count();
    let conversion = after.as_bytes().get(spec)?;
    if !b"sdifrxXeEgGca".contains(conversion) {
        return None;
    }
    Some((2 + close + 1 + spec + 1, name))
}

impl Template {
    pub(crate) fn parse(template: &str) -> Result<Self, TemplateError> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut chars = template.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|&(_, c)| c) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|&(_, c)| c) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(TemplateError::UnmatchedBrace { at }),
                '%' if python_placeholder(&template[at..]).is_some() => {
                    let (len, name) = python_placeholder(&template[at..]).unwrap_or((0, ""));
                    return Err(TemplateError::PythonStyle {
                        found: template[at..at + len].to_owned(),
                        hint: python_hint(name),
                        at,
                    });
                }
                '{' => {
                    let rest = &template[at + 1..];
                    let end = match rest.find(['}', '{']) {
                        Some(end) if rest.as_bytes()[end] == b'}' => end,
                        Some(inner) => {
                            return Err(TemplateError::NestedBrace {
                                at,
                                inner: at + 1 + inner,
                            });
                        }
                        None => return Err(TemplateError::UnclosedBrace { at }),
                    };
                    let inner = &rest[..end];
                    // Skip the name, its format and the closing brace.
                    for _ in 0..inner.chars().count() + 1 {
                        chars.next();
                    }
                    let (name, format) = match inner.split_once(':') {
                        Some((name, format)) => (name, Some(format)),
                        None => (inner, None),
                    };
                    if let Some((i, c)) = inner.char_indices().find(|&(_, c)| is_escaped(c)) {
                        return Err(TemplateError::ControlCharacter {
                            ch: c,
                            at: at + 1 + i,
                        });
                    }
                    if format.is_some() && name != "timestamp" && PLACEHOLDERS.contains(&name) {
                        return Err(TemplateError::UnexpectedFormat {
                            name: name.to_owned(),
                            at,
                        });
                    }
                    let segment = match name {
                        "timestamp" => match format {
                            None => Segment::Timestamp(None),
                            Some(spec) => {
                                Segment::Timestamp(Some(TimeFormat::parse(spec).map_err(|e| {
                                    TemplateError::TimestampFormat {
                                        source: e.offset_by(at + 1 + name.len() + 1),
                                    }
                                })?))
                            }
                        },
                        "run_id" => Segment::RunId,
                        "trace_id" => Segment::TraceId,
                        "span_id" => Segment::SpanId,
                        "parent_span_id" => Segment::ParentSpanId,
                        "level" => Segment::Level,
                        "target" => Segment::Target,
                        "message" => Segment::Message,
                        "fields" => {
                            let kept = literal.trim_end_matches([' ', '\u{3000}']).len();
                            let sep = literal.split_off(kept);
                            Segment::Fields { sep: sep.into() }
                        }
                        _ => {
                            // A name is short: a long one is cut, not copied whole into
                            // the error (and every message that shows it).
                            let cut = name
                                .char_indices()
                                .nth(MAX_NAME_SHOWN)
                                .map_or(name.len(), |(i, _)| i);
                            let mut name = name[..cut].to_owned();
                            if cut < inner.len() {
                                name.push('…');
                            }
                            return Err(TemplateError::UnknownPlaceholder { name, at });
                        }
                    };
                    if !literal.is_empty() {
                        segments.push(Segment::Literal(std::mem::take(&mut literal).into()));
                    }
                    segments.push(segment);
                }
                c if is_escaped(c) => return Err(TemplateError::ControlCharacter { ch: c, at }),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal.into()));
        }
        Ok(Self { segments })
    }

    pub(super) fn default_template() -> Self {
        Self::parse(DEFAULT_TEMPLATE).unwrap_or_else(|_| Self {
            segments: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_separator_is_split_off() {
        let t = Template::parse("{message}  {fields}").unwrap();
        assert_eq!(
            t.segments,
            vec![Segment::Message, Segment::Fields { sep: "  ".into() }]
        );
    }
}
