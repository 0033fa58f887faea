//! Errors that point into a file, rendered the way rustc does (via miette), and the
//! process exit codes every verb shares.

use miette::{Diagnostic, NamedSource, SourceSpan};
use std::fmt;

/// Exit codes. Stable: scripts depend on them (documented in README.md).
pub mod exit {
    /// Everything checked passed.
    pub const OK: i32 = 0;
    /// A check ran and failed: lint errors, a failed rehearsal, drift, a verify mismatch.
    pub const FAILED: i32 = 1;
    /// Bad input: malformed manifest, missing file, unparsable SQL, bad arguments. Nothing was executed.
    pub const BAD_INPUT: i32 = 2;
    /// A gate refused: approvals missing or invalid, no fresh rehearsal or backup, lock file mismatch.
    pub const REFUSED: i32 = 3;
    /// The pack is halted; only read-only verbs and a signed `resume` work.
    pub const HALTED: i32 = 4;
    /// The database could not be reached, or failed outside any step.
    pub const DATABASE: i32 = 5;
    /// The connected database is not the pack's target (identity guard).
    pub const WRONG_TARGET: i32 = 6;
    /// Another runner holds this pack's lock.
    pub const BUSY: i32 = 7;
}

/// An error located in a file: file name, the whole text (for the snippet), a byte span.
#[derive(Debug, Clone)]
pub struct SourceError {
    pub file: String,
    pub src: String,
    pub span: Option<(usize, usize)>,
    pub message: String,
    pub help: Option<String>,
}

impl SourceError {
    pub fn new(
        file: impl Into<String>,
        src: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        SourceError {
            file: file.into(),
            src: src.into(),
            span: None,
            message: message.into(),
            help: None,
        }
    }
    pub fn span(mut self, start: usize, len: usize) -> Self {
        self.span = Some((start, len));
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    /// 1-based (line, column) of the span start.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        self.span.map(|(s, _)| line_col(&self.src, s))
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line_col() {
            Some((l, c)) => write!(f, "{}:{}:{}: {}", self.file, l, c, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for SourceError {}

impl Diagnostic for SourceError {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.span.map(|_| &self.src as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let (s, l) = self.span?;
        Some(Box::new(std::iter::once(
            miette::LabeledSpan::new_with_span(None, SourceSpan::from((s, l))),
        )))
    }
}

impl SourceError {
    /// A miette report with the file name attached, for graphical rendering.
    pub fn report(&self) -> miette::Report {
        let named = NamedSource::new(self.file.clone(), self.src.clone());
        miette::Report::new(self.clone()).with_source_code(named)
    }
}

/// 1-based line and column (in characters) of byte offset `pos` in `src`.
pub fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(src.len());
    let mut p = pos;
    while p > 0 && !src.is_char_boundary(p) {
        p -= 1;
    }
    let before = &src[..p];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map(|i| before[i + 1..].chars().count())
        .unwrap_or_else(|| before.chars().count())
        + 1;
    (line, col)
}

/// Byte offset of the start of 1-based `line`.
pub fn line_start(src: &str, line: usize) -> usize {
    if line <= 1 {
        return 0;
    }
    src.match_indices('\n')
        .nth(line - 2)
        .map(|(i, _)| i + 1)
        .unwrap_or(src.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn line_cols() {
        let s = "ab\ncd\nef";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 4), (2, 2));
        assert_eq!(line_start(s, 3), 6);
        let e = SourceError::new("f.sql", s, "boom").span(4, 1);
        assert_eq!(e.to_string(), "f.sql:2:2: boom");
    }
}
