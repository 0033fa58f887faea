//! The document as Markdown (SQL in fenced ```sql blocks).

use super::doc::{Block, Doc, Inline, Line, Tone};

pub(super) fn render(doc: &Doc) -> String {
    let mut o = String::new();
    o.push_str(&format!("*{}*\n\n", text(&doc.kicker)));
    o.push_str(&format!("# {}\n\n", text(&doc.title)));
    fields(&mut o, &doc.fields);
    for bl in &doc.intro {
        block(&mut o, bl);
    }
    for s in &doc.steps {
        o.push_str("\n---\n\n");
        o.push_str(&format!("*{}*\n\n", text(&s.kicker)));
        o.push_str(&format!("## {}\n\n", text(&s.title)));
        if !s.badges.is_empty() {
            let b: Vec<String> = s
                .badges
                .iter()
                .map(|(_, l)| format!("**[{}]**", text(l)))
                .collect();
            o.push_str(&b.join(" "));
            o.push_str("\n\n");
        }
        fields(&mut o, &s.fields);
        for p in &s.parts {
            o.push_str(&format!("### {}\n\n", text(&p.title)));
            for bl in &p.blocks {
                block(&mut o, bl);
            }
        }
        o.push_str(&format!("### {}\n\n", text(&s.signoff_title)));
        o.push_str(&line(&s.signoff_text, false));
        o.push_str("\n\n");
        o.push_str("Reviewed by ______________________________ date ______________\n\n");
        o.push_str("Signature ________________________________ decision: approve / reject\n\n");
    }
    o
}

fn fields(o: &mut String, f: &[(String, Line)]) {
    for (k, v) in f {
        o.push_str(&format!("- **{}:** {}\n", text(k), line(v, false)));
    }
    o.push('\n');
}

fn block(o: &mut String, bl: &Block) {
    match bl {
        Block::Para(l) => {
            o.push_str(&line(l, false));
            o.push_str("\n\n");
        }
        Block::Note { tone, title, body } => {
            let mark = match tone {
                Tone::Danger => "**⚠ ",
                Tone::Warn => "**Warning: ",
                Tone::Ok => "**✓ ",
                Tone::Info => "**",
            };
            o.push_str(&format!(
                "> {mark}{}** {}\n\n",
                text(title),
                line(body, false)
            ));
        }
        Block::Steps(items) => {
            for (n, i) in items.iter().enumerate() {
                o.push_str(&format!("{}. {}\n", n + 1, line(i, false)));
            }
            o.push('\n');
        }
        Block::Fields(f) => fields(o, f),
        Block::Table { head, rows } => {
            o.push_str("| ");
            o.push_str(
                &head
                    .iter()
                    .map(|h| text(h).replace('|', "\\|"))
                    .collect::<Vec<_>>()
                    .join(" | "),
            );
            o.push_str(" |\n|");
            for _ in head {
                o.push_str("---|");
            }
            o.push('\n');
            for r in rows {
                o.push_str("| ");
                o.push_str(
                    &r.iter()
                        .map(|cell| line(cell, true))
                        .collect::<Vec<_>>()
                        .join(" | "),
                );
                o.push_str(" |\n");
            }
            o.push('\n');
        }
        Block::Code {
            lang,
            caption,
            text: body,
            ..
        } => {
            if let Some(cap) = caption {
                o.push_str(&line(cap, false));
                o.push_str("\n\n");
            }
            let fence = fence_for(body);
            o.push_str(&fence);
            o.push_str(lang);
            o.push('\n');
            o.push_str(body);
            if !body.ends_with('\n') {
                o.push('\n');
            }
            o.push_str(&fence);
            o.push_str("\n\n");
        }
        Block::Sub(s) => {
            o.push_str(&format!("#### {}\n\n", text(s)));
        }
    }
}

/// A backtick fence longer than any backtick run in the body (at least 3).
fn fence_for(body: &str) -> String {
    "`".repeat(longest_run(body, '`').max(2) + 1)
}

fn longest_run(s: &str, ch: char) -> usize {
    let mut best = 0;
    let mut cur = 0;
    for x in s.chars() {
        if x == ch {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}

fn line(l: &Line, in_table: bool) -> String {
    let mut s = String::new();
    for i in l {
        match i {
            Inline::Text(x) => s.push_str(&text(x)),
            Inline::Strong(x) => {
                // `**a **` is not bold in CommonMark: keep edge spaces outside.
                let inner = x.trim();
                if x.starts_with(char::is_whitespace) {
                    s.push(' ');
                }
                if !inner.is_empty() {
                    s.push_str("**");
                    s.push_str(&text(inner));
                    s.push_str("**");
                }
                if x.ends_with(char::is_whitespace) {
                    s.push(' ');
                }
            }
            Inline::Code(x) => s.push_str(&code(x)),
        }
    }
    let s = s.replace('\n', " ");
    if in_table {
        s.replace('|', "\\|")
    } else {
        s
    }
}

fn code(x: &str) -> String {
    let x = x.replace('\n', " ");
    let ticks = "`".repeat(longest_run(&x, '`') + 1);
    if x.starts_with('`') || x.ends_with('`') {
        format!("{ticks} {x} {ticks}")
    } else {
        format!("{ticks}{x}{ticks}")
    }
}

/// Escapes Markdown syntax characters in plain text; an underscore inside a word
/// is left alone (it cannot start emphasis there).
pub(super) fn text(x: &str) -> String {
    let chars: Vec<char> = x.chars().collect();
    let mut s = String::with_capacity(x.len());
    for (i, &ch) in chars.iter().enumerate() {
        match ch {
            '\\' | '`' | '*' | '[' | ']' | '<' | '>' | '#' | '|' => {
                s.push('\\');
                s.push(ch);
            }
            '_' => {
                let prev = i > 0 && chars[i - 1].is_alphanumeric();
                let next = chars.get(i + 1).is_some_and(|c| c.is_alphanumeric());
                if !(prev && next) {
                    s.push('\\');
                }
                s.push('_');
            }
            c => s.push(c),
        }
    }
    s
}
