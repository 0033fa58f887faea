//! The bad-input corpus: `tests/corpus/NN-name/` each hold a complete, broken pack and a
//! `case.toml` saying which verb to run, the exit code it must end with and a fragment its
//! output must contain.
//!
//! The assertion that matters is made from the server's side: every case's SQL carries a
//! unique marker (`corpus_sql_NN`, and the table it would create is `corpus_marker_NN`),
//! the shared throwaway cluster logs every statement it receives (`log_statement = 'all'`),
//! and after each case the server log must not contain the marker, the case's database
//! must hold no `corpus_marker_%` object and its ledger no rehearsal, commit or backup.
//! A positive control shows that the very same pack, unbroken, does put its marker in the
//! log — so the absence proves something.
//!
//! `case.toml`:
//!
//! ```toml
//! args = ["apply", "--step", "1"]   # the CLI arguments (`--db`, `-p` and `--color` are added)
//! exit = 3                          # 2 = bad input, 3 = a gate refused
//! message = "fragment"              # must occur in stdout or stderr
//! also = ["another fragment"]       # optional, each must occur too
//! setup = ["register_owner", "approve:1:owner"]   # optional, run before the verb
//! known_bug = "what is wrong"       # optional: the case fails today (strict xfail)
//! ```
//!
//! Fragments are matched against the output with whitespace and miette's `|` wrap gutter
//! removed from both (miette wraps long messages at 80 columns, hyphens included).
//!
//! Setup steps (run in order, after the ledger is installed with environment `test`):
//! `register_owner` (OWNER's fresh key, gate `owner`), `approve:STEP:GATE`,
//! `approve-expired:STEP:GATE`, `resign-extra-field:STEP:GATE`,
//! `resign-reordered:STEP:GATE`, `resign-other-step:STEP:GATE`, `truncate-sig:STEP:GATE`,
//! `edit-manifest`.

mod common;
use common::*;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use stepgate::core::approval::{self, Action};
use stepgate::engine::gates::approval_path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSpec {
    args: Vec<String>,
    exit: i32,
    message: String,
    #[serde(default)]
    also: Vec<String>,
    #[serde(default)]
    setup: Vec<String>,
    /// A bug the case exposes, not fixed yet: the case must still show it (strict xfail),
    /// so the line is deleted together with the fix.
    #[serde(default)]
    known_bug: Option<String>,
}

struct Case {
    name: String,
    number: String,
    dir: PathBuf,
    spec: CaseSpec,
}

impl Case {
    fn sql_marker(&self) -> String {
        format!("corpus_sql_{}", self.number)
    }
    fn table_marker(&self) -> String {
        format!("corpus_marker_{}", self.number)
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn cases() -> Vec<Case> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/corpus exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let name = dir.file_name().unwrap().to_string_lossy().to_string();
            let number = name.split('-').next().unwrap_or("").to_string();
            let text = std::fs::read_to_string(dir.join("case.toml"))
                .unwrap_or_else(|e| panic!("{name}/case.toml: {e}"));
            let spec: CaseSpec =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{name}/case.toml: {e}"));
            Case {
                name,
                number,
                dir,
                spec,
            }
        })
        .collect()
}

/// Every file of a case's pack (relative paths), `case.toml` excluded.
fn pack_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read case dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != "case.toml") {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// `text` without whitespace and without miette's `|` continuation gutter.
fn flatten(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && *c != '|')
        .collect()
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Copies the case's pack into a fresh folder, naming the case's own database.
fn materialize(case: &Case, db: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    for rel in pack_files(&case.dir) {
        let bytes = std::fs::read(case.dir.join(&rel)).expect("read case file");
        let bytes = replace_bytes(&bytes, b"__DB__", db.as_bytes());
        let to = tmp.path().join(&rel);
        std::fs::create_dir_all(to.parent().unwrap()).expect("mkdir");
        std::fs::write(&to, bytes).expect("write case file");
    }
    tmp
}

fn replace_bytes(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

/// What a setup step needs to keep alive until the verb has run.
#[derive(Default)]
struct SetupState {
    keys: Option<tempfile::TempDir>,
    key: Option<PathBuf>,
}

fn approval_files(pack: &Path, step: &str, gate: &str) -> (PathBuf, PathBuf) {
    let p = approval_path(pack, step, gate, Action::Apply, OWNER);
    let sig = p.with_extension("approval.sig");
    (p, sig)
}

/// Re-signs `text` byte for byte (no statement check), as a hostile tool could.
fn raw_sign(key: &Path, text: &str) -> String {
    let key = approval::load_private_key(&std::fs::read_to_string(key).unwrap(), None).unwrap();
    let sig = key
        .sign(
            approval::NAMESPACE,
            ssh_key::HashAlg::Sha512,
            text.as_bytes(),
        )
        .expect("sign");
    sig.to_pem(ssh_key::LineEnding::LF).expect("pem")
}

fn run_setup(step: &str, pack: &Path, ci: &str, st: &mut SetupState) {
    let parts: Vec<&str> = step.split(':').collect();
    let key = || {
        st.key
            .clone()
            .expect("setup: register_owner must come first")
    };
    match parts.as_slice() {
        ["register_owner"] => {
            let (keys, key, _line) = register_owner(ci, &["owner"]);
            st.keys = Some(keys);
            st.key = Some(key);
        }
        ["approve", s, g] => approve(pack, s, g, Action::Apply, &key()),
        // Signed outside `stepgate approve` (which refuses a key the pack's allowed_signers
        // does not list), as an approver with ssh-keygen could.
        ["approve-unlisted", s, g] => {
            let loaded = stepgate::engine::pack::load(pack).expect("load pack");
            let req = stepgate::engine::approve::Request {
                step: s,
                gate: g,
                principal: OWNER,
                action: Action::Apply,
                expires: std::time::Duration::from_secs(3600),
            };
            let st = stepgate::engine::approve::statement(
                &loaded,
                &req,
                time::OffsetDateTime::now_utc(),
            )
            .expect("statement");
            let text = st.render();
            let (p, sig) = approval_files(pack, s, g);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, &text).unwrap();
            std::fs::write(sig, raw_sign(&key(), &text)).unwrap();
        }
        ["approve-expired", s, g] => {
            let loaded = stepgate::engine::pack::load(pack).expect("load pack");
            let req = stepgate::engine::approve::Request {
                step: s,
                gate: g,
                principal: OWNER,
                action: Action::Apply,
                expires: std::time::Duration::from_secs(3600),
            };
            let then = time::OffsetDateTime::now_utc() - time::Duration::hours(3);
            stepgate::engine::approve::approve(&loaded, &req, &key(), None, then)
                .expect("approve in the past");
        }
        ["resign-extra-field", s, g] => {
            let (p, sig) = approval_files(pack, s, g);
            let text = std::fs::read_to_string(&p).unwrap() + "comment: signed all the same\n";
            std::fs::write(&p, &text).unwrap();
            std::fs::write(sig, raw_sign(&key(), &text)).unwrap();
        }
        ["resign-reordered", s, g] => {
            let (p, sig) = approval_files(pack, s, g);
            let text = std::fs::read_to_string(&p).unwrap();
            let mut lines: Vec<&str> = text.lines().collect();
            lines.swap(1, 2); // pack: ↔ step:
            let text = lines.join("\n") + "\n";
            std::fs::write(&p, &text).unwrap();
            std::fs::write(sig, raw_sign(&key(), &text)).unwrap();
        }
        ["resign-other-step", s, g] => {
            let (p, sig) = approval_files(pack, s, g);
            let text = std::fs::read_to_string(&p).unwrap();
            let text = text.replacen(&format!("\nstep: {s}\n"), "\nstep: 2\n", 1);
            assert!(text.contains("\nstep: 2\n"));
            let key =
                approval::load_private_key(&std::fs::read_to_string(key()).unwrap(), None).unwrap();
            // A well-formed statement, properly signed — for step 2.
            std::fs::write(&p, &text).unwrap();
            std::fs::write(sig, approval::sign(&text, &key).expect("sign")).unwrap();
        }
        ["truncate-sig", s, g] => {
            let (_, sig) = approval_files(pack, s, g);
            let text = std::fs::read_to_string(&sig).unwrap();
            std::fs::write(&sig, &text[..text.len() / 2]).unwrap();
        }
        ["edit-manifest"] => {
            let p = pack.join("stepgate.toml");
            let text = std::fs::read_to_string(&p).unwrap();
            std::fs::write(&p, format!("{text}\n# edited after the approval\n")).unwrap();
        }
        other => panic!("unknown setup step {other:?}"),
    }
}

/// Events that mean a statement of the pack ran (or was about to).
const EXECUTION_EVENTS: &str = "SELECT count(*) FROM stepgate.events \
     WHERE verb LIKE 'rehearse%' OR verb LIKE 'apply-%' OR verb LIKE 'rollback%' \
        OR verb IN ('backup', 'preflight', 'hold') OR (verb = 'apply' AND result <> 'refused')";

/// Runs one case; returns the problems found (empty = the case holds).
fn run_case(case: &Case) -> Vec<String> {
    let mut problems = Vec::new();
    let (db, ci) = world_db(&format!("corpus_{}", case.number));
    let pack = materialize(case, &db);
    install_ledger(&ci);
    let mut st = SetupState::default();
    for s in &case.spec.setup {
        run_setup(s, pack.path(), &ci, &mut st);
    }
    let out = Command::new(bin())
        .args(&case.spec.args)
        .arg("--db")
        .arg(&ci)
        .arg("-p")
        .arg(pack.path())
        .args(["--color", "never"])
        .env_remove("DATABASE_URL")
        .env_remove("STEPGATE_PACK")
        .output()
        .expect("run stepgate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let all = flatten(&format!("{stdout}{stderr}"));
    if out.status.code() != Some(case.spec.exit) {
        problems.push(format!(
            "exit {:?}, expected {}",
            out.status.code(),
            case.spec.exit
        ));
    }
    for m in std::iter::once(&case.spec.message).chain(&case.spec.also) {
        if !all.contains(&flatten(m)) {
            problems.push(format!("output lacks {m:?}"));
        }
    }
    // The server side: nothing of the pack reached it.
    let log = std::fs::read(harness().cluster.log_path()).expect("read server log");
    for marker in [case.sql_marker(), case.table_marker()] {
        if contains(&log, &marker) {
            problems.push(format!(
                "the server log shows `{marker}`: a statement of the pack was sent"
            ));
        }
    }
    let objects = count(
        &ci,
        "SELECT count(*) FROM pg_class WHERE relname LIKE 'corpus\\_%'",
    );
    if objects != 0 {
        problems.push(format!("{objects} corpus object(s) exist in {db}"));
    }
    let executed = count(&ci, EXECUTION_EVENTS);
    if executed != 0 {
        problems.push(format!("the ledger records {executed} execution event(s)"));
    }
    if !problems.is_empty() || std::env::var_os("CORPUS_SHOW").is_some() {
        problems.push(format!("--- stdout ---\n{stdout}--- stderr ---\n{stderr}"));
    }
    problems
}

#[test]
fn corpus_is_well_formed() {
    let cases = cases();
    assert!(cases.len() >= 30, "only {} cases", cases.len());
    let mut numbers = std::collections::BTreeSet::new();
    for c in &cases {
        assert!(
            c.number.len() == 2 && c.number.chars().all(|d| d.is_ascii_digit()),
            "{}: folder must be NN-name",
            c.name
        );
        assert!(
            numbers.insert(c.number.clone()),
            "{}: duplicate number",
            c.name
        );
        assert!(
            [2, 3].contains(&c.spec.exit),
            "{}: exit must be 2 or 3",
            c.name
        );
        assert!(!c.spec.message.is_empty(), "{}: empty message", c.name);
        assert!(
            c.dir.join("stepgate.toml").exists(),
            "{}: no manifest",
            c.name
        );
        // The marker is in the pack, and no other case's marker is.
        let mut seen = false;
        for rel in pack_files(&c.dir) {
            let bytes = std::fs::read(c.dir.join(&rel)).unwrap();
            seen |= contains(&bytes, &c.sql_marker());
            for other in &cases {
                if other.number != c.number {
                    assert!(
                        !contains(&bytes, &other.sql_marker())
                            && !contains(&bytes, &other.table_marker()),
                        "{}/{}: carries the marker of {}",
                        c.name,
                        rel.display(),
                        other.name
                    );
                }
            }
        }
        assert!(seen, "{}: no file carries `{}`", c.name, c.sql_marker());
    }
}

#[test]
fn server_log_records_every_statement() {
    let (_db, ci) = empty_db("corpus_log_probe");
    let probe = format!("corpus_log_probe_{}", std::process::id());
    client(&ci)
        .batch_execute(&format!("SELECT '{probe}'"))
        .unwrap();
    let log = std::fs::read(harness().cluster.log_path()).unwrap();
    assert!(
        contains(&log, &probe),
        "log_statement = 'all' is not in effect: the marker check would prove nothing"
    );
}

/// The unbroken pack every approval case starts from does run, and its marker does reach
/// the server log: the corpus's markers are visible when a pack executes.
#[test]
fn positive_control_markers_reach_the_log_when_a_pack_runs() {
    let case = cases()
        .into_iter()
        .find(|c| c.name.ends_with("approval-expired"))
        .expect("the approval-expired case");
    let (db, ci) = world_db("corpus_control");
    let tmp = materialize(&case, &db);
    // Rename the markers so this control never touches the case's own.
    let tag = format!("ctl{}", std::process::id());
    for rel in pack_files(tmp.path()) {
        let p = tmp.path().join(rel);
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(
            &p,
            text.replace(&case.sql_marker(), &format!("corpus_sql_{tag}"))
                .replace(&case.table_marker(), &format!("corpus_marker_{tag}")),
        )
        .unwrap();
    }
    install_ledger(&ci);
    let lint = Command::new(bin())
        .args(["lint", "--color", "never"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(
        lint.status.code(),
        Some(0),
        "the base pack must lint clean: {}",
        String::from_utf8_lossy(&lint.stderr)
    );
    let out = Command::new(bin())
        .args([
            "rehearse", "--step", "1", "--color", "never", "--db", &ci, "-p",
        ])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read(harness().cluster.log_path()).unwrap();
    assert!(contains(&log, &format!("corpus_sql_{tag}")));
    assert!(contains(&log, &format!("corpus_marker_{tag}")));
    assert_eq!(count(&ci, EXECUTION_EVENTS), 1, "one rehearsal event");
}

#[test]
fn every_case_exits_with_its_code_and_message_and_runs_nothing() {
    let cases = cases();
    assert!(cases.len() >= 30, "only {} cases", cases.len());
    let next = AtomicUsize::new(0);
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    // Each case has its own database, pack folder and marker: run a few at a time.
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                let problems = run_case(case);
                let report = match (&case.spec.known_bug, problems.is_empty()) {
                    (None, true) => None,
                    (None, false) => Some(problems.join("\n  ")),
                    (Some(_), false) => {
                        eprintln!(
                            "{}: known bug still present:\n  {}",
                            case.name,
                            problems.join("\n  ")
                        );
                        None
                    }
                    (Some(bug), true) => Some(format!(
                        "passes now, but case.toml says known_bug = {bug:?}: delete that line"
                    )),
                };
                if let Some(r) = report {
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("{}:\n  {r}", case.name));
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} case(s) failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// Every manifest, SQL file and allowed_signers file of the corpus, straight into the
/// library's parsers (and the linter where the manifest loads): errors are fine, panics
/// are not. Errors are rendered too, so a bad span would panic here.
#[test]
fn every_case_feeds_the_parsers_without_panic() {
    use stepgate::core::{lint, manifest, sql};
    for case in cases() {
        let dir = &case.dir;
        for rel in pack_files(dir) {
            let bytes = std::fs::read(dir.join(&rel)).unwrap();
            let lossy = String::from_utf8_lossy(&bytes).to_string();
            let name = rel.to_string_lossy().to_string();
            if name == "stepgate.toml" {
                if let Err(e) = manifest::parse(&name, &lossy, dir) {
                    let _ = format!("{e} {:?}", e.report());
                }
            } else if name.ends_with(".sql") {
                match sql::parse_file(&name, &lossy) {
                    Ok(f) => {
                        let _ = f.split_at_terminal();
                        let _ = serde_json::to_string(&f).unwrap();
                    }
                    Err(e) => {
                        let _ = format!("{e} {:?}", e.report());
                    }
                }
            } else if name == "allowed_signers" {
                let _ = approval::parse_allowed_signers(&lossy);
            }
        }
        if let Err(e) = manifest::load(dir) {
            let _ = format!("{e} {:?}", e.report());
        }
        if let Ok(loaded) = stepgate::engine::pack::load(dir) {
            let diags = lint::run(&loaded.pack, &loaded.sources);
            let _ = lint::exit_code(&diags);
            let _ = lint::output::to_json(loaded.pack.id(), &diags);
            let _ = lint::output::to_sarif(&dir.display().to_string(), &diags);
        }
    }
}
