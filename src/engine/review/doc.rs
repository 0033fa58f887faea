//! The layout both renderings share: the model arranged as a document of blocks.
//! Pack-level facts (target, timeouts, gates and signers, invariants, protected
//! tables) appear once on the cover; a step's section carries only what is its own.

use super::model::*;
use std::collections::BTreeSet;

#[derive(Debug, Clone)]
pub(super) enum Inline {
    Text(String),
    Code(String),
    Strong(String),
}

pub(super) type Line = Vec<Inline>;

pub(super) fn t(s: impl Into<String>) -> Inline {
    Inline::Text(s.into())
}
pub(super) fn c(s: impl Into<String>) -> Inline {
    Inline::Code(s.into())
}
pub(super) fn b(s: impl Into<String>) -> Inline {
    Inline::Strong(s.into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tone {
    Info,
    Warn,
    Danger,
    Ok,
}

impl Tone {
    pub(super) fn class(self) -> &'static str {
        match self {
            Tone::Info => "info",
            Tone::Warn => "warn",
            Tone::Danger => "danger",
            Tone::Ok => "ok",
        }
    }
}

#[derive(Debug, Clone)]
pub(super) enum Block {
    Para(Line),
    /// A call-out box: title in bold, then the body.
    Note {
        tone: Tone,
        title: String,
        body: Line,
    },
    /// Ordered list.
    Steps(Vec<Line>),
    /// Label → value pairs.
    Fields(Vec<(String, Line)>),
    Table {
        head: Vec<String>,
        rows: Vec<Vec<Line>>,
    },
    Code {
        lang: &'static str,
        /// Shown above the block (file name, sha256).
        caption: Option<Line>,
        text: String,
        numbered: bool,
        /// 1-based line numbers to highlight (lint findings).
        flagged: BTreeSet<usize>,
        /// The file this block shows (HTML `data-file`), if any.
        file: Option<String>,
    },
    /// A sub-heading inside a part.
    Sub(String),
}

pub(super) struct Part {
    pub title: String,
    pub anchor: String,
    pub blocks: Vec<Block>,
}

pub(super) struct StepDoc {
    pub anchor: String,
    pub kicker: String,
    pub title: String,
    pub badges: Vec<(Tone, String)>,
    pub fields: Vec<(String, Line)>,
    pub parts: Vec<Part>,
    pub signoff_title: String,
    pub signoff_text: Line,
}

pub(super) struct Doc {
    pub title: String,
    pub kicker: String,
    pub fields: Vec<(String, Line)>,
    pub intro: Vec<Block>,
    pub steps: Vec<StepDoc>,
}

pub(super) fn join_code(items: &[String]) -> Line {
    let mut out = Vec::new();
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(t(", "));
        }
        out.push(c(s));
    }
    if out.is_empty() {
        out.push(t("none"));
    }
    out
}

pub(super) fn code_block(lang: &'static str, caption: Option<Line>, text: &str) -> Block {
    Block::Code {
        lang,
        caption,
        text: if text.ends_with('\n') {
            text.to_string()
        } else {
            format!("{text}\n")
        },
        numbered: false,
        flagged: BTreeSet::new(),
        file: None,
    }
}

pub(super) fn anchor_safe(s: &str) -> String {
    s.chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' {
                ch
            } else {
                '-'
            }
        })
        .collect()
}

/// A word safe to paste into a POSIX shell.
pub(super) fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.@/+:=,".contains(ch))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The whole document.
pub(super) fn build(m: &ReviewModel) -> Doc {
    Doc {
        title: format!("Review package: {}", m.pack.title),
        kicker: format!("stepgate review · pack {}", m.pack.id),
        fields: super::doc_pack::cover_fields(m),
        intro: super::doc_pack::intro(m),
        steps: m
            .steps
            .iter()
            .map(|s| super::doc_step::step(m, s))
            .collect(),
    }
}
