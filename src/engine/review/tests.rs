use super::model::{build, DeltaMarker, StepKind};
use super::*;
use crate::engine::status::{Halt, PackStatus, Rehearsal, StepStatus};

const EXTRA_SQL: &str =
    "-- reviewer check: <script>alert(1)</script> & \"quotes\" 'single'\nSELECT 2 > 1 AND 'a&b' <> '<x>' AS escaped;\n";

/// The `init` scaffold, with forbid rules, a protected table, an invariant, a
/// negative test, a measurement and a line full of HTML metacharacters added.
fn scaffold() -> (tempfile::TempDir, LoadedPack) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo-pack");
    crate::engine::init::run_with(
        &dir,
        &crate::engine::init::InitOptions {
            database: "db",
            environment: Some("production"),
            profile: crate::core::manifest::LintProfile::Sections,
        },
    )
    .unwrap();
    let m = dir.join("stepgate.toml");
    let src = std::fs::read_to_string(&m).unwrap();
    let src = src
        .replace("protected = []", "protected = [\"public.apr_action_types\"]")
        .replace(
            "gates = [\"owner\"]",
            "gates = [\"owner\", \"council\"]\nforbid = [\"create trigger\", \"alter table public.governance_relations\"]\n\
             [[step.negative]]\nname = \"dup label\"\nsql = \"INSERT INTO public.example_table (id, label) VALUES (1, 'x')\"\nsqlstate = \"23505\"\n\
             [[step.measure]]\nname = \"example rows\"\nsql = \"SELECT count(*) FROM public.example_table\"",
        )
        .replace(
            "[[step]]",
            "[gate.council]\nkind = \"sql\"\nsql = \"SELECT 1 FROM council WHERE step = '1'\"\n\n\
             [[invariant]]\nname = \"relations\"\nsql = \"SELECT count(*) FROM pg_class WHERE relname = 'x'\"\nexpect = \"0\"\n\n[[step]]",
        );
    std::fs::write(&m, src).unwrap();
    let f = dir.join("01_example.sql");
    let sql = std::fs::read_to_string(&f)
        .unwrap()
        .replace("-- SECTION G", &format!("{EXTRA_SQL}\n-- SECTION G"));
    std::fs::write(&f, sql).unwrap();
    let loaded = crate::engine::pack::load(&dir).unwrap();
    (tmp, loaded)
}

fn input<'a>(loaded: &'a LoadedPack) -> ReviewInput<'a> {
    ReviewInput {
        loaded,
        step: None,
        live: None,
        offline_reason: None,
        generated_at: "2026-06-01T10:00:00Z".into(),
    }
}

fn md(i: &ReviewInput) -> String {
    render_markdown(&build(i))
}

fn html(i: &ReviewInput) -> String {
    render_html(&build(i))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for ch in s.chars() {
        match ch {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// The text content of the `<pre data-file="rel">` block, tags stripped, unescaped.
fn pre_text(html: &str, rel: &str) -> String {
    let start = html
        .find(&format!("data-file=\"{}\"", html_escape(rel)))
        .unwrap();
    let open = start + html[start..].find('>').unwrap() + 1;
    let end = open + html[open..].find("</pre>").unwrap();
    unescape(&strip_tags(&html[open..end]))
}

#[test]
fn both_renderings_carry_the_review_content() {
    let (_tmp, loaded) = scaffold();
    let inp = input(&loaded);
    let md = md(&inp);
    let html = html(&inp);
    let step_text = loaded.text("01_example.sql").unwrap().to_string();
    let rb_text = loaded
        .text("rollback/01_example_rollback.sql")
        .unwrap()
        .to_string();
    let step_sha = loaded.sha256("01_example.sql").unwrap().to_string();
    let rb_sha = loaded
        .sha256("rollback/01_example_rollback.sql")
        .unwrap()
        .to_string();
    let plan_sha = crate::engine::plan::for_action(&loaded, "1", Action::Apply, None)
        .unwrap()
        .sha256();
    for doc in [&md, &html] {
        assert!(doc.contains("table public.example_table"), "effects");
        assert!(doc.contains("create trigger"), "forbid rule");
        assert!(doc.contains("public.apr_action_types"), "protected");
        assert!(doc.contains(&step_sha), "step sha256");
        assert!(doc.contains(&rb_sha), "rollback sha256");
        assert!(doc.contains(&plan_sha), "plan sha256");
        assert!(doc.contains(loaded.manifest_sha256()), "manifest sha256");
        assert!(doc.contains("2026-06-01T10:00:00Z"), "generated at");
        assert!(doc.contains("dup label") && doc.contains("unique_violation"));
        assert!(doc.contains("example rows"));
        assert!(doc.contains("statement_timeout = 5s"));
        assert!(doc.contains("24h (default)") && doc.contains("1h (default)"));
        assert!(doc.contains(
            "stepgate approve --step 1 --gate owner --key ~/.ssh/id_ed25519 --principal"
        ));
        assert!(
            doc.contains("ssh-keygen -Y sign -n stepgate -f ~/.ssh/id_ed25519 approvals/"),
            "the ssh-keygen recipe writes into approvals/, where stepgate reads"
        );
        assert!(doc.contains("Reviewed by"));
        assert!(doc.contains("What it changes"));
        assert!(
            doc.contains("not read (no database was given"),
            "offline said once"
        );
    }
    assert_eq!(md.matches("not read (no database was given").count(), 1);
    // Pack-level facts once: the timeouts line and the invariant query appear once.
    assert_eq!(
        md.matches("idle_in_transaction_session_timeout = 15s")
            .count(),
        1,
        "{md}"
    );
    assert_eq!(
        md.matches("SELECT count(*) FROM pg_class WHERE relname = 'x'")
            .count(),
        1
    );

    assert!(md.contains(&format!("```sql\n{step_text}```")));
    assert!(md.contains(&format!("```sql\n{rb_text}```")));
    assert!(md.contains("```sql\nSELECT 1 FROM council WHERE step = '1'\n```"));

    assert!(html.contains(&html_escape(EXTRA_SQL.lines().next().unwrap())));
    assert!(!html.contains("<script>alert"));
    assert_eq!(pre_text(&html, "01_example.sql"), step_text);
    assert_eq!(pre_text(&html, "rollback/01_example_rollback.sql"), rb_text);
}

#[test]
fn statement_to_sign_is_the_real_statement_with_placeholders() {
    let (_tmp, loaded) = scaffold();
    let step = loaded.pack.step("1").unwrap();
    let text = statement_template(&loaded, step, "owner");
    let filled = text
        .replace(PRINCIPAL_PLACEHOLDER, "owner@example.org")
        .replace(ISSUED_AT_PLACEHOLDER, "2026-06-01T10:00:00Z")
        .replace(EXPIRES_AT_PLACEHOLDER, "2026-06-02T10:00:00Z");
    let st = Statement::parse(&filled).unwrap();
    assert_eq!(st.pack, "demo-pack");
    assert_eq!(st.step, "1");
    assert_eq!(st.gate, "owner");
    assert_eq!(st.action, Action::Apply);
    assert_eq!(st.step_sha256.as_deref(), loaded.sha256("01_example.sql"));
    assert_eq!(st.manifest_sha256, loaded.manifest_sha256());
    assert_eq!(st.target_database, "db");
    let inp = input(&loaded);
    let md = md(&inp);
    assert!(md.contains(&text), "{md}");
    assert!(html(&inp).contains(&html_escape(&text)));
    // Only signature gates get a statement: the sql gate `council` has none.
    assert!(!md.contains("gate: council"));
}

#[test]
fn html_is_self_contained_and_balanced() {
    let (_tmp, loaded) = scaffold();
    let html = html(&input(&loaded));
    let lower = html.to_lowercase();
    for bad in [
        "http://", "https://", "<link", "<script", "<img", "@import", "url(", "<iframe",
    ] {
        assert!(!lower.contains(bad), "found {bad}");
    }
    assert!(lower.starts_with("<!doctype html>"));
    assert!(lower.contains("page-break-before: always"));
    for tag in [
        "section", "header", "table", "pre", "figure", "main", "ol", "ul", "div",
    ] {
        let open =
            html.matches(&format!("<{tag}>")).count() + html.matches(&format!("<{tag} ")).count();
        let close = html.matches(&format!("</{tag}>")).count();
        assert_eq!(open, close, "unbalanced <{tag}>");
    }
}

fn live_status(matches_file: bool) -> PackStatus {
    PackStatus {
        pack: "demo-pack".into(),
        title: "t".into(),
        target: "db on localhost".into(),
        environment: Some("production".into()),
        halted: Some(Halt {
            event: 7,
            at: "2026-06-01T09:00:00Z".into(),
            reason: "count mismatch <b>".into(),
        }),
        steps: vec![StepStatus {
            id: "1".into(),
            name: "create example_table".into(),
            gates: vec!["owner".into()],
            one_way: true,
            hold: false,
            last_rehearsal: Some(Rehearsal {
                at: "2026-06-01T08:00:00Z".into(),
                verdict: "passed".into(),
                file_sha256: Some("ab".repeat(32)),
                matches_file,
            }),
            state: "not applied".into(),
            state_at: None,
            interrupted_run: None,
        }],
    }
}

#[test]
fn live_state_approvals_and_one_way_are_shown() {
    let (tmp, _) = scaffold();
    let dir = tmp.path().join("demo-pack");
    let m = dir.join("stepgate.toml");
    let src = std::fs::read_to_string(&m).unwrap().replace(
        "gates = [\"owner\", \"council\"]",
        "gates = [\"owner\", \"council\"]\none_way = true\nirreversible_reason = \"retire, never delete: FK RESTRICT\"",
    );
    std::fs::write(&m, src).unwrap();
    let loaded = crate::engine::pack::load(&dir).unwrap();
    let approvals = vec![GateView {
        step: "1".into(),
        gate: "owner".into(),
        kind: "signature".into(),
        quorum: 1,
        signers: vec!["owner@example.org".into()],
        present: vec![],
        missing: 1,
        notes: vec!["approvals/x.approval: step file changed since signing".into()],
    }];
    let live = Live::from_status(&live_status(false), approvals);
    let inp = ReviewInput {
        step: Some("1"),
        live: Some(&live),
        ..input(&loaded)
    };
    let (md, html) = (md(&inp), html(&inp));
    for doc in [&md, &html] {
        assert!(doc.contains("ONE-WAY DOOR"));
        assert!(doc.contains("retire, never delete: FK RESTRICT"));
        assert!(doc.contains("1 more needed"));
        assert!(doc.contains("step file changed since signing"));
        assert!(
            doc.contains("Never rehearsed"),
            "no rehearse event in the ledger"
        );
        assert!(doc.contains("not applied"));
        assert!(doc.contains("HALTED"));
    }
    assert!(html.contains("count mismatch &lt;b&gt;"));
    let inp = ReviewInput {
        step: Some("nope"),
        ..inp
    };
    assert!(md_of(&inp).contains("No step \"nope\" in this pack."));
}

fn md_of(i: &ReviewInput) -> String {
    md(i)
}

fn rehearse_event(
    file_sha: &str,
    plan_sha: &str,
    mismatches: serde_json::Value,
) -> crate::db::ledger::Event {
    crate::db::ledger::Event {
        id: 3,
        at: "2026-06-01T08:00:00Z".into(),
        at_micros: 0,
        pack: "demo-pack".into(),
        step: Some("1".into()),
        verb: "rehearse".into(),
        result: "passed".into(),
        os_user: None,
        host: None,
        db_role: "runner".into(),
        file_sha256: Some(file_sha.into()),
        run_id: None,
        details: serde_json::json!({
            "plan_sha256": plan_sha,
            "elapsed_ms": 42,
            "mismatches": mismatches,
            "measured": {
                "catalog": {"added": [{"kind": "table", "name": "public.example_table"}], "removed": [], "changed": []},
                "rows": {"public.example_table": {"insert": 1, "update": 50000, "delete": 0}}
            }
        }),
        fact: false,
        details_text: String::new(),
        prev_hash: String::new(),
        row_hash: String::new(),
    }
}

#[test]
fn measured_delta_is_marked_matches_differs_or_stale() {
    let (_tmp, loaded) = scaffold();
    let sha = loaded.sha256("01_example.sql").unwrap().to_string();
    let plan = crate::engine::plan::for_action(&loaded, "1", Action::Apply, None)
        .unwrap()
        .sha256();
    let differs = serde_json::json!([{"item": "rows public.example_table update", "declared": "0", "measured": "50000"}]);
    for (ev, want) in [
        (
            rehearse_event(&sha, &plan, serde_json::json!([])),
            DeltaMarker::Matches,
        ),
        (rehearse_event(&sha, &plan, differs), DeltaMarker::Differs),
        (
            rehearse_event(&"0".repeat(64), &plan, serde_json::json!([])),
            DeltaMarker::NotRehearsedSinceChange,
        ),
        (
            rehearse_event(&sha, &"1".repeat(64), serde_json::json!([])),
            DeltaMarker::NotRehearsedSinceChange,
        ),
    ] {
        let mut live = Live::from_status(&live_status(true), vec![]);
        live.halted = None;
        live.rehearsals.insert("1".into(), ev);
        let inp = ReviewInput {
            live: Some(&live),
            ..input(&loaded)
        };
        let m = build(&inp);
        assert_eq!(m.steps[0].rehearsal.marker, want);
        let md = render_markdown(&m);
        match want {
            DeltaMarker::Matches => assert!(md.contains("Measured delta matches"), "{md}"),
            DeltaMarker::Differs => {
                assert!(md.contains("Measured delta differs"));
                assert!(md.contains("50000"));
            }
            _ => assert!(md.contains("Not rehearsed since the file changed")),
        }
    }
}

#[test]
fn safety_list_fits_the_kind_of_step() {
    let (tmp, _) = scaffold();
    let dir = tmp.path().join("demo-pack");
    let m = dir.join("stepgate.toml");
    let mut src = std::fs::read_to_string(&m).unwrap().replace(
        "gates = [\"owner\", \"council\"]",
        "gates = [\"owner\", \"council\"]\ntransactional = false",
    );
    src.push_str("\n[[step]]\nid = \"7\"\nname = \"HOLD\"\nhold = true\nrequires = [\"1\"]\n");
    std::fs::write(&m, src).unwrap();
    let loaded = crate::engine::pack::load(&dir).unwrap();
    let model = build(&input(&loaded));
    let titles = |i: usize| -> Vec<String> {
        model.steps[i]
            .safety
            .iter()
            .map(|x| x.title.clone())
            .collect()
    };
    assert_eq!(model.steps[0].kind, StepKind::NonTransactional);
    let nt = titles(0).join("|");
    for absent in [
        "Fresh rehearsal",
        "Ledger in the same transaction",
        "SET LOCAL",
        "Negative tests",
        "Invariants.",
    ] {
        assert!(
            !nt.contains(absent),
            "{absent} listed for a non-transactional step: {nt}"
        );
    }
    let texts: String = model.steps[0]
        .safety
        .iter()
        .map(|x| x.text.clone())
        .collect();
    assert!(
        !texts.contains("SET LOCAL") && !texts.contains("rolls back"),
        "{texts}"
    );
    assert!(nt.contains("Preflight instead of rehearsal") && nt.contains("Index validity"));
    assert_eq!(model.steps[1].kind, StepKind::Hold);
    let hold = titles(1).join("|");
    assert!(hold.contains("Prerequisites committed") && !hold.contains("Verified backup"));
    let md = render_markdown(&model);
    let html = render_html(&model);
    for doc in [&md, &html] {
        assert!(doc.contains("NOT TRANSACTIONAL"));
        assert!(doc.contains("A hold step builds nothing"));
        assert!(doc.contains("This step has no signature gate: there is nothing to sign."));
    }
    assert_eq!(html.matches("<section class=\"page step\"").count(), 2);
    // Checks that hold for every step are said once, on the cover.
    assert_eq!(md.matches("Not halted.").count(), 1, "{md}");
    assert_eq!(md.matches("Check before signing").count(), 1);
}

#[test]
fn the_model_serialises_and_parses_back() {
    let (_tmp, loaded) = scaffold();
    let m = build(&input(&loaded));
    let v: serde_json::Value = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
    assert_eq!(v["format"], "stepgate-review/1");
    assert_eq!(v["database"]["connected"], false);
    assert_eq!(v["steps"][0]["kind"], "transactional");
    assert!(v["steps"][0]["plan"]["sha256"]
        .as_str()
        .is_some_and(|s| s.len() == 64));
}

#[test]
fn html_escape_escapes_everything() {
    assert_eq!(
        html_escape("<a href=\"x\">&'</a>"),
        "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
    );
}

#[test]
fn markdown_text_escapes_syntax_but_not_intraword_underscores() {
    assert_eq!(render_md::text("example_table"), "example_table");
    assert_eq!(
        render_md::text("_x_ *y* <z> | #"),
        "\\_x\\_ \\*y\\* \\<z\\> \\| \\#"
    );
}

#[test]
fn durations_format_compactly() {
    use std::time::Duration;
    assert_eq!(model::fmt_duration(Duration::from_secs(86400)), "24h");
    assert_eq!(model::fmt_duration(Duration::from_secs(90)), "90s");
    assert_eq!(model::fmt_duration(Duration::from_secs(120)), "2m");
    assert_eq!(model::fmt_duration(Duration::from_millis(1500)), "1500ms");
}

/// No function of the review module runs over 150 lines.
#[test]
fn no_function_over_150_lines() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine/review");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for (name, len) in function_lengths(&text) {
            assert!(len <= 150, "{}: fn {name} is {len} lines", path.display());
        }
    }
}

/// (name, lines) of every `fn` whose signature starts a line: from that line to the
/// line where its braces balance again.
fn function_lengths(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let s = l.trim_start();
        let s = s
            .strip_prefix("pub(super) ")
            .or_else(|| s.strip_prefix("pub "))
            .unwrap_or(s);
        let Some(rest) = s.strip_prefix("fn ") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let mut depth = 0i32;
        let mut opened = false;
        for (j, l2) in lines.iter().enumerate().skip(i) {
            for ch in l2.chars() {
                match ch {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if opened && depth <= 0 {
                out.push((name.clone(), j - i + 1));
                break;
            }
        }
    }
    out
}
