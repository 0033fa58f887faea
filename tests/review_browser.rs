//! Renders the HTML review package in a real browser (headless Chromium) to a PNG
//! screenshot and a PDF, and checks both came out non-trivial. Skipped, with a note,
//! when `/usr/bin/chromium` is absent (CI installs it: `apt-get install chromium`).
//!
//! Set `STEPGATE_REVIEW_KEEP=DIR` to keep the HTML, PNG and PDF in DIR for a look.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";

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
        eprintln!(
            "note: {CHROMIUM} not found; skipping the browser rendering of the review package (apt-get install chromium)"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let pack_dir = tmp.path().join("review-pack");
    stepgate::engine::init::run(&pack_dir, "db").unwrap();
    let loaded = stepgate::engine::pack::load(&pack_dir).unwrap();
    let input = stepgate::engine::review::ReviewInput {
        loaded: &loaded,
        step: None,
        status: None,
        approvals: None,
        generated_at: "2026-06-01T10:00:00Z".into(),
    };
    let html = stepgate::engine::review::render_html(&input);
    let out: PathBuf = match std::env::var_os("STEPGATE_REVIEW_KEEP") {
        Some(d) => {
            let d = PathBuf::from(d);
            std::fs::create_dir_all(&d).unwrap();
            d
        }
        None => tmp.path().to_path_buf(),
    };
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
