//! Text templates: `[{run_id}] {level} - {message}`, parsed once, when a format is made.

use super::DEFAULT_TEMPLATE;
use crate::escape::is_escaped;

/// A parsed text template; see [`TextFormat::from_template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    pub(super) segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    Literal(Box<str>),
    Timestamp,
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

/// Why a text template was refused.
///
/// # Examples
///
/// ```
/// use tracectx::logging::{TemplateError, TextFormat};
///
/// let err = TextFormat::from_template("[{run}] {message}").unwrap_err();
/// assert_eq!(err, TemplateError::UnknownPlaceholder { name: "run".into(), at: 1 });
/// assert_eq!(err.to_string(), "unknown placeholder {run} at byte 1 of the log template");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// A `{name}` that is not one of the known placeholders.
    #[error("unknown placeholder {{{name}}} at byte {at} of the log template")]
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
                '{' => {
                    let rest = &template[at + 1..];
                    let end = match rest.find(['}', '{']) {
                        Some(end) if rest.as_bytes()[end] == b'}' => end,
                        _ => return Err(TemplateError::UnclosedBrace { at }),
                    };
                    let name = &rest[..end];
                    // Skip the name and the closing brace.
                    for _ in 0..name.chars().count() + 1 {
                        chars.next();
                    }
                    let segment = match name {
                        "timestamp" => Segment::Timestamp,
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
                            return Err(TemplateError::UnknownPlaceholder {
                                name: name.to_owned(),
                                at,
                            });
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
