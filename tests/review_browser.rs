//! Renders the HTML review package in a real browser (headless Chromium) to a PNG
//! screenshot and a PDF, and checks both came out non-trivial. Skipped, with a note,
//! when `/usr/bin/chromium` is absent (CI installs it: `apt-get install chromium`).
//!
//! Set `STEPGATE_REVIEW_KEEP=DIR` to keep the HTML, PNG and PDF in DIR for a look.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stepgate::engine::review::{
    build_model, render_html, render_markdown, GateView, Live, ReviewInput,
};
use stepgate::engine::status::{PackStatus, Rehearsal, StepStatus};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The `init` scaffold plus what a real step carries: forbid rules, a protected and
/// an organic table, an invariant, a negative test, a measurement, row effects,
/// a one-way door, and SQL with HTML metacharacters.
fn enrich(dir: &Path) {
    let m = dir.join("stepgate.toml");
    let src = std::fs::read_to_string(&m).unwrap()
        .replace("protected = []", "protected = [\"public.apr_action_types\"]\norganic = [\"public.event_outbox\"]")
        .replace(
            "gates = [\"owner\"]",
            "gates = [\"owner\"]\none_way = true\nirreversible_reason = \"action types are FK-referenced (RESTRICT): retire, never delete\"\n\
             forbid = [\"create trigger\", \"alter table public.governance_relations\", \"insert public.event_outbox\"]\n\
             [[step.negative]]\nname = \"duplicate label rejected\"\nsql = \"INSERT INTO public.example_table (label) VALUES ('dup')\"\nsqlstate = \"23505\"\n\
             [[step.measure]]\nname = \"example rows\"\nsql = \"SELECT count(*) FROM public.example_table\"",
        )
        .replace(
            "[[step]]",
            "[gate.one_way]\nkind = \"signature\"\nsigners = [\"cto@example.org\", \"dba@example.org\"]\nquorum = 2\n\n\
             [gate.council]\nkind = \"sql\"\nsql = \"SELECT 1 FROM council_records WHERE step_ref = '1' AND decision = 'build'\"\n\n\
             [[invariant]]\nname = \"governance relations unchanged\"\nsql = \"SELECT count(*) FROM pg_class WHERE relname <> '' AND relkind = 'r' AND relname = 'governance_relations'\"\nexpect = \"0\"\n\n[[step]]",
        )
        .replace("gates = [\"owner\"]", "gates = [\"owner\", \"council\"]");
    std::fs::write(&m, src).unwrap();
    let f = dir.join("01_example.sql");
    let sql = std::fs::read_to_string(&f).unwrap().replace(
        "-- SECTION G",
        "SELECT count(*) FILTER (WHERE label <> '<b>' AND length(label) > 0) AS long_labels_with_a_deliberately_long_column_alias_that_has_to_wrap_when_printed FROM public.example_table;\n\n-- SECTION G",
    );
    std::fs::write(&f, sql).unwrap();
}

fn status() -> PackStatus {
    PackStatus {
        pack: "review-pack".into(),
        title: "review-pack: describe the change".into(),
        target: "db on localhost:5432".into(),
        environment: Some("production".into()),
        halted: None,
        steps: vec![StepStatus {
            id: "1".into(),
            name: "create example_table".into(),
            gates: vec!["owner".into(), "council".into()],
            one_way: true,
            hold: false,
            last_rehearsal: Some(Rehearsal {
                at: "2026-06-01T09:12:44Z".into(),
                verdict: "passed".into(),
                file_sha256: Some("0".repeat(64)),
                matches_file: false,
            }),
            state: "not applied".into(),
            state_at: None,
            interrupted_run: None,
        }],
    }
}

/// Runs chromium with `args`, killing it after `limit`. Returns whether it exited 0.
fn run_chromium(args: &[String], limit: Duration) -> bool {
    let mut child = Command::new(CHROMIUM)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let start = Instant::now();
    loop {
        match child.try_wait().expect("wait for chromium") {
            Some(status) => return status.success(),
            None if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within {limit:?}");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn base_args(profile: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(std::iter::once(format!(
        "--user-data-dir={}",
        profile.display()
    )))
    .collect()
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(
        bytes.len() > 24 && &bytes[..8] == b"\x89PNG\r\n\x1a\n",
        "not a PNG"
    );
    let w = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    let h = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    (w, h)
}

/// `/Type /Page` dictionaries (not `/Type /Pages`).
fn count_pages(pdf: &[u8]) -> usize {
    let mut n = 0;
    for needle in [&b"/Type /Page"[..], &b"/Type/Page"[..]] {
        for (i, w) in pdf.windows(needle.len()).enumerate() {
            if w == needle && pdf.get(i + needle.len()) != Some(&b's') {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn review_html_renders_in_chromium() {
    if !Path::new(CHROMIUM).exists() {
        // CI installs chromium (scripts/setup.sh): there the check must really run.
        assert!(
            std::env::var("CI").is_err(),
            "{CHROMIUM} is missing in CI: scripts/setup.sh installs it"
        );
        eprintln!(

            "note: {CHROMIUM} not found; skipping the browser rendering of the review package (apt-get install chromium)"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pack_dir = tmp.path().join("review-pack");
    stepgate::engine::init::run(&pack_dir, "db").unwrap();
    enrich(&pack_dir);
    let loaded = stepgate::engine::pack::load(&pack_dir).unwrap();
    let status = status();
    let approvals = vec![GateView {
        step: "1".into(),
        gate: "owner".into(),
        kind: "signature".into(),
        quorum: 1,
        signers: vec!["owner@example.org".into()],
        present: vec![],
        missing: 1,
        notes: vec!["approvals/old.approval: step file changed since signing".into()],
    }];
    let live = Live::from_status(&status, approvals);
    let model = build_model(&ReviewInput {
        loaded: &loaded,
        step: None,
        live: Some(&live),
        offline_reason: None,
        generated_at: "2026-06-01T10:00:00Z".into(),
    });
    let html = render_html(&model);
    assert!(html.contains("&lt;b&gt;"), "escaped");
    let out: PathBuf = match std::env::var_os("STEPGATE_REVIEW_KEEP") {
        Some(d) => {
            let d = PathBuf::from(d);
            std::fs::create_dir_all(&d).unwrap();
            d
        }
        None => tmp.path().to_path_buf(),
    };
    std::fs::write(out.join("review.md"), render_markdown(&model)).unwrap();
    let html_path = out.join("review.html");
    std::fs::write(&html_path, &html).unwrap();
    let url = format!("file://{}", html_path.display());

    // Screenshot.
    let png = out.join("review.png");
    let mut args = base_args(&tmp.path().join("profile-png"));
    args.push(format!("--screenshot={}", png.display()));
    args.push("--window-size=1200,1600".into());
    args.push(url.clone());
    let ok = run_chromium(&args, Duration::from_secs(120));
    assert!(ok, "chromium --screenshot failed");
    let bytes = std::fs::read(&png).expect("the screenshot exists");
    assert!(
        bytes.len() > 20_000,
        "screenshot is only {} bytes",
        bytes.len()
    );
    assert_eq!(png_size(&bytes), (1200, 1600));

    // Print to PDF (the printed form an approver signs).
    let pdf = out.join("review.pdf");
    let mut args = base_args(&tmp.path().join("profile-pdf"));
    args.push(format!("--print-to-pdf={}", pdf.display()));
    args.push("--no-pdf-header-footer".into());
    args.push(url);
    let ok = run_chromium(&args, Duration::from_secs(120));
    assert!(ok, "chromium --print-to-pdf failed");
    let bytes = std::fs::read(&pdf).expect("the PDF exists");
    assert!(bytes.starts_with(b"%PDF-"), "not a PDF");
    assert!(bytes.len() > 10_000, "PDF is only {} bytes", bytes.len());
    // The cover page, then one page break before the step at least.
    let pages = count_pages(&bytes);
    assert!(pages >= 2, "expected at least 2 pages, found {pages}");
}
