//! The document as one self-contained HTML file: inline CSS, no scripts, no external
//! fonts, images or links; prints one step per page.

use super::doc::{Block, Doc, Inline, Line, Tone};
use super::html_escape as esc;

const CSS: &str = r#"
:root { --ink:#1f2328; --muted:#59636e; --rule:#d1d9e0; --soft:#f6f8fa; --accent:#0b5cad;
    --danger:#b42318; --danger-bg:#fdecea; --warn:#8a5a00; --warn-bg:#fff5d6; --ok:#1a7f37; --ok-bg:#e9f7ee; --info-bg:#eef4fb;
    --mono: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, "Liberation Mono", monospace; }
* { box-sizing: border-box; }
html { color: var(--ink); background: #eef0f3; }
body { margin: 0; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", "Liberation Sans", "DejaVu Sans", Arial, sans-serif; }
main { max-width: 980px; margin: 24px auto; }
.page { background: #fff; border: 1px solid var(--rule); padding: 40px 48px; margin: 0 0 24px; }
.kicker { margin: 0 0 6px; color: var(--muted); font-size: 12px; letter-spacing: .06em; text-transform: uppercase; }
h1 { font-size: 28px; line-height: 1.25; margin: 0 0 18px; }
h2 { font-size: 23px; line-height: 1.3; margin: 0 0 12px; }
h3 { font-size: 17px; margin: 30px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--ink); }
h4 { font-size: 14px; margin: 18px 0 6px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
p { margin: 8px 0; }
code { font-family: var(--mono); font-size: .88em; background: var(--soft); border: 1px solid #e4e8ec; border-radius: 3px; padding: 0 3px; overflow-wrap: anywhere; }
strong { font-weight: 650; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 12px; font-size: 14px; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border: 1px solid var(--rule); }
th { background: var(--soft); font-weight: 600; }
table.fields th { width: 12em; white-space: nowrap; }
table.fields td, table.fields th { border-left: 0; border-right: 0; }
ul, ol { margin: 6px 0 12px; padding-left: 24px; }
li { margin: 3px 0; }
ol.safety li { margin: 6px 0; }
.badges { margin: 0 0 12px; }
.badge { display: inline-block; font-size: 12px; font-weight: 700; letter-spacing: .05em; padding: 2px 8px; border: 2px solid; border-radius: 3px; margin-right: 6px; }
.badge.danger { color: var(--danger); } .badge.warn { color: var(--warn); } .badge.info { color: var(--accent); } .badge.ok { color: var(--ok); }
.note { border: 1px solid; border-left-width: 6px; padding: 8px 12px; margin: 10px 0; border-radius: 3px; }
.note.danger { border-color: var(--danger); background: var(--danger-bg); }
.note.danger strong.title { color: var(--danger); font-size: 16px; }
.note.warn { border-color: #d4a72c; background: var(--warn-bg); }
.note.ok { border-color: var(--ok); background: var(--ok-bg); }
.note.info { border-color: var(--accent); background: var(--info-bg); }
figure.code { margin: 8px 0 14px; }
figure.code figcaption { font-size: 13px; color: var(--muted); margin: 0 0 4px; overflow-wrap: anywhere; }
pre { font-family: var(--mono); font-size: 12.5px; line-height: 1.5; margin: 0; padding: 8px 12px; background: var(--soft); border: 1px solid var(--rule); border-radius: 3px;
  white-space: pre-wrap; overflow-wrap: anywhere; word-break: break-word; tab-size: 4; }
pre code { background: none; border: 0; padding: 0; font-size: inherit; }
pre.numbered { padding-left: 0; }
pre.numbered .l { display: block; position: relative; padding-left: 4.6em; min-height: 1.5em; }
pre.numbered .l::before { content: attr(data-n); position: absolute; left: 0; width: 3.4em; text-align: right; color: #8c959f;
  padding-right: .6em; border-right: 1px solid var(--rule); -webkit-user-select: none; user-select: none; }
pre.numbered .l.flag { background: #fff1c2; }
pre.numbered .l.flag::before { color: var(--danger); font-weight: 700; }
pre.statement { background: #fff; border: 2px solid var(--ink); font-size: 13px; }
.signoff { margin-top: 36px; border: 2px solid var(--ink); padding: 14px 18px 18px; break-inside: avoid; page-break-inside: avoid; }
.signoff h3 { margin: 0 0 8px; border: 0; padding: 0; font-size: 15px; }
.signoff .attest { font-size: 13px; margin: 0 0 4px; }
.sigrow { display: flex; gap: 14px; align-items: flex-end; margin-top: 22px; font-size: 14px; }
.sigrow .lbl { white-space: nowrap; }
.sigrow .blank { flex: 1; border-bottom: 1px solid var(--ink); min-width: 6em; height: 1.4em; }
.sigrow .blank.short { flex: 0 0 11em; }
.box { display: inline-block; width: 12px; height: 12px; border: 1.5px solid var(--ink); vertical-align: -1px; margin: 0 4px 0 10px; }
nav.toc ol { columns: 2; }
@page { size: A4; margin: 16mm 14mm; }
@media print {
  html, body { background: none; }
  body { font-size: 10.5pt; }
  main { max-width: none; margin: 0; }
  .page { border: 0; padding: 0; margin: 0; }
  section.step { break-before: page; page-break-before: always; }
  *, *::before, *::after { background: none !important; box-shadow: none !important; }
  code { border: 0; padding: 0; }
  pre { border: 1px solid #999; font-size: 8.5pt; white-space: pre-wrap; overflow-wrap: anywhere; }
  pre.numbered .l.flag { border-left: 3px solid var(--danger); }
  h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
  figure.code figcaption { break-after: avoid; page-break-after: avoid; }
  tr, .note, li { break-inside: avoid; page-break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"#;

pub(super) fn render(doc: &Doc) -> String {
    let mut o = String::with_capacity(64 * 1024);
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    o.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    o.push_str("<meta name=\"generator\" content=\"stepgate review\">\n");
    o.push_str(&format!("<title>{}</title>\n", esc(&doc.title)));
    o.push_str("<style>");
    o.push_str(CSS);
    o.push_str("</style>\n</head>\n<body>\n<main>\n");

    o.push_str("<header class=\"page cover\">\n");
    o.push_str(&format!("<p class=\"kicker\">{}</p>\n", esc(&doc.kicker)));
    o.push_str(&format!("<h1>{}</h1>\n", esc(&doc.title)));
    fields(&mut o, &doc.fields);
    for bl in &doc.intro {
        block(&mut o, bl);
    }
    if !doc.steps.is_empty() {
        o.push_str("<nav class=\"toc\" aria-label=\"Steps in this package\">\n<h4>In this package</h4>\n<ol>\n");
        for s in &doc.steps {
            o.push_str(&format!(
                "<li><a href=\"#{}\">{}</a></li>\n",
                esc(&s.anchor),
                esc(&s.title)
            ));
        }
        o.push_str("</ol>\n</nav>\n");
    }
    o.push_str("</header>\n");

    for s in &doc.steps {
        o.push_str(&format!(
            "<section class=\"page step\" id=\"{}\" aria-labelledby=\"{}-h\">\n",
            esc(&s.anchor),
            esc(&s.anchor)
        ));
        o.push_str("<header>\n");
        o.push_str(&format!("<p class=\"kicker\">{}</p>\n", esc(&s.kicker)));
        o.push_str(&format!(
            "<h2 id=\"{}-h\">{}</h2>\n",
            esc(&s.anchor),
            esc(&s.title)
        ));
        if !s.badges.is_empty() {
            o.push_str("<p class=\"badges\">");
            for (tone, label) in &s.badges {
                o.push_str(&format!(
                    "<span class=\"badge {}\">{}</span>",
                    tone.class(),
                    esc(label)
                ));
            }
            o.push_str("</p>\n");
        }
        fields(&mut o, &s.fields);
        o.push_str("</header>\n");
        for p in &s.parts {
            o.push_str(&format!(
                "<section class=\"part\" id=\"{}\">\n<h3>{}</h3>\n",
                esc(&p.anchor),
                esc(&p.title)
            ));
            for bl in &p.blocks {
                block(&mut o, bl);
            }
            o.push_str("</section>\n");
        }
        o.push_str("<div class=\"signoff\">\n");
        o.push_str(&format!("<h3>{}</h3>\n", esc(&s.signoff_title)));
        o.push_str(&format!(
            "<p class=\"attest\">{}</p>\n",
            line(&s.signoff_text)
        ));
        o.push_str("<div class=\"sigrow\"><span class=\"lbl\">Reviewed by</span><span class=\"blank\"></span><span class=\"lbl\">Date</span><span class=\"blank short\"></span></div>\n");
        o.push_str("<div class=\"sigrow\"><span class=\"lbl\">Signature</span><span class=\"blank\"></span><span class=\"lbl\">Decision<span class=\"box\"></span>approve<span class=\"box\"></span>reject</span></div>\n");
        o.push_str("</div>\n");
        o.push_str("</section>\n");
    }
    o.push_str("</main>\n</body>\n</html>\n");
    o
}

fn fields(o: &mut String, f: &[(String, Line)]) {
    o.push_str("<table class=\"fields\">\n<tbody>\n");
    for (k, v) in f {
        o.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>\n",
            esc(k),
            line(v)
        ));
    }
    o.push_str("</tbody>\n</table>\n");
}

fn line(l: &Line) -> String {
    let mut s = String::new();
    for i in l {
        match i {
            Inline::Text(x) => s.push_str(&esc(x)),
            Inline::Strong(x) => {
                s.push_str("<strong>");
                s.push_str(&esc(x));
                s.push_str("</strong>");
            }
            Inline::Code(x) => {
                s.push_str("<code>");
                s.push_str(&esc(x));
                s.push_str("</code>");
            }
        }
    }
    s
}

fn block(o: &mut String, bl: &Block) {
    match bl {
        Block::Para(l) => o.push_str(&format!("<p>{}</p>\n", line(l))),
        Block::Note { tone, title, body } => {
            let role = if *tone == Tone::Danger {
                " role=\"alert\""
            } else {
                ""
            };
            o.push_str(&format!(
                "<div class=\"note {}\"{role}><strong class=\"title\">{}</strong> {}</div>\n",
                tone.class(),
                esc(title),
                line(body)
            ));
        }
        Block::Steps(items) => {
            o.push_str("<ol class=\"safety\">\n");
            for i in items {
                o.push_str(&format!("<li>{}</li>\n", line(i)));
            }
            o.push_str("</ol>\n");
        }
        Block::Fields(f) => fields(o, f),
        Block::Table { head, rows } => {
            o.push_str("<table>\n<thead><tr>");
            for h in head {
                o.push_str(&format!("<th scope=\"col\">{}</th>", esc(h)));
            }
            o.push_str("</tr></thead>\n<tbody>\n");
            for r in rows {
                o.push_str("<tr>");
                for cell in r {
                    o.push_str(&format!("<td>{}</td>", line(cell)));
                }
                o.push_str("</tr>\n");
            }
            o.push_str("</tbody>\n</table>\n");
        }
        Block::Code {
            lang,
            caption,
            text,
            numbered,
            flagged,
            file,
        } => {
            o.push_str("<figure class=\"code\">\n");
            if let Some(cap) = caption {
                o.push_str(&format!("<figcaption>{}</figcaption>\n", line(cap)));
            }
            let mut class = String::from("code");
            if *numbered {
                class.push_str(" numbered");
            }
            if *lang == "text" {
                class.push_str(" statement");
            }
            let data = file
                .as_ref()
                .map(|f| format!(" data-file=\"{}\"", esc(f)))
                .unwrap_or_default();
            o.push_str(&format!(
                "<pre class=\"{class}\"{data}><code class=\"language-{lang}\">"
            ));
            if *numbered {
                for (n, l) in text.split_inclusive('\n').enumerate() {
                    let n = n + 1;
                    let flag = if flagged.contains(&n) { " flag" } else { "" };
                    o.push_str(&format!(
                        "<span class=\"l{flag}\" data-n=\"{n}\">{}</span>",
                        esc(l)
                    ));
                }
            } else {
                o.push_str(&esc(text));
            }
            o.push_str("</code></pre>\n</figure>\n");
        }
        Block::Sub(s) => o.push_str(&format!("<h4>{}</h4>\n", esc(s))),
    }
}
