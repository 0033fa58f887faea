//! End to end: the Phase 1 governance plan (seed docs 94/97/99), as the pack in
//! `examples/phase1-governance`, driven through lint, preflight, rehearse, gated apply of
//! every step, the HOLD, verify and status, then the staged rollback of every step in
//! reverse order — asserting the counts the seeds state at each point.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use stepgate::core::approval::Action;
use stepgate::core::lint::Severity;
use stepgate::engine::{self, Error, Options};

const SOVEREIGN: &str = "sovereign@example.org";
const COUNCIL: &str = "council@example.org";
const SB1_CODES: &str =
    "('assign_governance_owner','grant_governance_exception','delegate_authority','assign_axis_owner')";

fn example_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/phase1-governance")
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let name = e.file_name();
        let s = name.to_string_lossy();
        // Never carry over approvals or evidence a local run may have left in the example.
        if s == "approvals" || s.starts_with('.') || s == "stepgate.lock" {
            continue;
        }
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &dst.join(&name));
        } else {
            std::fs::copy(&p, dst.join(&name)).unwrap();
        }
    }
}

fn keypair(dir: &Path, name: &str) -> (PathBuf, String) {
    let key =
        ssh_key::PrivateKey::random(&mut rand_core::OsRng, ssh_key::Algorithm::Ed25519).unwrap();
    let p = dir.join(name);
    std::fs::write(
        &p,
        key.to_openssh(ssh_key::LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    let public = key.public_key().to_openssh().unwrap();
    std::fs::write(dir.join(format!("{name}.pub")), &public).unwrap();
    (p, public)
}

struct Phase1 {
    pack: tempfile::TempDir,
    ci: String,
    sovereign: PathBuf,
    council: PathBuf,
    _keys: tempfile::TempDir,
}

impl Phase1 {
    fn o(&self) -> Options {
        Options {
            pack: self.pack.path().to_path_buf(),
            db: Some(self.ci.clone()),
        }
    }

    fn approve(&self, step: &str, gate: &str, action: Action) {
        let (principal, key) = if gate.starts_with("C-") {
            (COUNCIL, &self.council)
        } else {
            (SOVEREIGN, &self.sovereign)
        };
        let loaded = engine::pack::load(self.pack.path()).unwrap();
        let req = engine::approve::Request {
            step,
            gate,
            principal,
            action,
            expires: std::time::Duration::from_secs(3600),
        };
        engine::approve::approve(&loaded, &req, key, None, time::OffsetDateTime::now_utc())
            .unwrap_or_else(|e| panic!("approve {step}/{gate}/{action:?}: {e}"));
    }

    /// The M-1 row in os_proposal_approvals, as the sovereign writes it (never the pack).
    fn sovereign_authorizes(&self, step: &str, scope: &str, council: Option<&str>) {
        let mut c = client(&self.ci);
        c.execute(
            "INSERT INTO public.os_proposal_approvals (proposal_ref, step_ref, approval_scope, approved_by, council_record, note) \
             VALUES ('phase1-governance', $1, $2, 'GOV-001', $3, 'written by the sovereign (test)')",
            &[&step, &scope, &council],
        )
        .unwrap();
    }

    fn n(&self, sql: &str) -> i64 {
        count(&self.ci, sql)
    }

    fn text(&self, sql: &str) -> Option<String> {
        client(&self.ci).query_one(sql, &[]).unwrap().get(0)
    }

    fn exists(&self, rel: &str) -> bool {
        self.n(&format!(
            "SELECT count(*) FROM pg_class WHERE oid = to_regclass('{rel}')"
        )) == 1
    }

    /// The cross-step invariants the seeds state for every point of the build (doc 94.9).
    fn invariants(&self, at: &str) {
        assert_eq!(
            self.n("SELECT count(*) FROM public.governance_relations"),
            8,
            "{at}: governance_relations"
        );
        assert_eq!(
            self.n("SELECT count(*) FROM public.event_outbox WHERE event_domain = 'governance'"),
            0,
            "{at}: event_outbox governance"
        );
        assert_eq!(
            self.n("SELECT count(*) FROM public.approval_requests"),
            211,
            "{at}: approval_requests"
        );
        assert_eq!(
            self.n("SELECT count(*) FROM public.apr_approvals"),
            42,
            "{at}: apr_approvals"
        );
        assert_eq!(
            self.n("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'"),
            0,
            "{at}: idle in transaction"
        );
    }

    fn trigger_def(&self) -> String {
        self.text("SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgname = 'trg_birth_apr_action_types' AND NOT tgisinternal")
            .unwrap()
    }
}

fn setup() -> Phase1 {
    let (db, ci) = world_db("phase1_e2e");
    // The pack targets `directus`; the test database has a unique name: run a copy of the
    // example whose manifest names it (the rest of the pack is byte-identical).
    let pack = tempfile::tempdir().unwrap();
    copy_dir(&example_dir(), pack.path());
    let mp = pack.path().join("stepgate.toml");
    let m = std::fs::read_to_string(&mp).unwrap();
    assert!(m.contains("database = \"directus\""));
    std::fs::write(
        &mp,
        m.replacen(
            "database = \"directus\"",
            &format!("database = \"{db}\""),
            1,
        )
        // Dumps stay in the test's temporary copy, not the user's state directory.
        .replacen(
            "[pack.target]",
            "evidence_dir = \".stepgate/evidence\"\n[pack.target]",
            1,
        ),
    )
    .unwrap();

    let o = Options {
        pack: ".".into(),
        db: Some(ci.clone()),
    };
    engine::ledger_cmd::install(
        &o,
        &stepgate::db::ledger::InstallOptions {
            environment: Some("demo".into()),
            runner_role: None,
            floor_min_signatures: 1,
            guard: true,
        },
    )
    .expect("install ledger");

    let keys = tempfile::tempdir().unwrap();
    let (sovereign, sov_pub) = keypair(keys.path(), "sovereign");
    let (council, council_pub) = keypair(keys.path(), "council");
    engine::signers_cmd::add(
        &o,
        SOVEREIGN,
        &sov_pub,
        &["M-1".into(), "resume".into(), "restore".into()],
    )
    .unwrap();
    engine::signers_cmd::add(&o, COUNCIL, &council_pub, &["C-1".into(), "C-2".into()]).unwrap();
    let sp = pack.path().join("allowed_signers");
    let mut signers = std::fs::read_to_string(&sp).unwrap();
    signers.push_str(&format!(
        "{SOVEREIGN} {}\n{COUNCIL} {}\n",
        sov_pub.trim(),
        council_pub.trim()
    ));
    std::fs::write(&sp, signers).unwrap();
    Phase1 {
        pack,
        ci,
        sovereign,
        council,
        _keys: keys,
    }
}

/// Gates of each build step (manifest), the os_proposal_approvals scope and council record.
const STEPS: [(&str, &[&str], &str, Option<&str>); 6] = [
    ("1", &["M-1"], "SB-12 build", None),
    ("2", &["M-1"], "SB-13 build", None),
    ("3", &["M-1"], "SB-10 build", None),
    ("4", &["M-1"], "SB-11 register", None),
    ("5", &["M-1", "C-1"], "SB-2 build", Some("C-1")),
    ("6", &["M-1", "C-2"], "SB-1 build", Some("C-2")),
];

fn rehearse_ok(f: &Phase1, step: &str, rollback: bool) {
    let r = engine::rehearse::run(&f.o(), step, rollback)
        .unwrap_or_else(|e| panic!("rehearse {step} (rollback={rollback}): {e}"));
    assert!(
        r.passed,
        "rehearse {step} (rollback={rollback}) failed: {r:#?}"
    );
    assert!(r.entry_equals_exit, "rehearse {step}: entry != exit");
    if !rollback {
        // Every build step declares negative tests; each must have run and been rejected.
        assert!(!r.negatives.is_empty(), "{step}: no negative tests ran");
        assert!(
            r.negatives.iter().all(|n| n.ok),
            "{step}: {:?}",
            r.negatives
        );
        assert!(r.mismatches.is_empty(), "{step}: {:?}", r.mismatches);
    } else {
        assert!(
            r.reversal_problems.is_empty(),
            "{step}: {:?}",
            r.reversal_problems
        );
    }
}

#[test]
fn phase1_pack_builds_holds_and_rolls_back() {
    // ---- lint: zero errors, zero warnings (the shipped example, then the copy under test) ----
    let lint = engine::lint::run(&example_dir()).unwrap();
    assert!(lint.diagnostics.is_empty(), "{:#?}", lint.diagnostics);
    let f = setup();
    let o = f.o();
    let lint = engine::lint::run(f.pack.path()).unwrap();
    assert!(
        lint.diagnostics
            .iter()
            .all(|d| d.severity != Severity::Error),
        "{:#?}",
        lint.diagnostics
    );

    // ---- the world before Phase 1 ----
    assert_eq!(f.n("SELECT count(*) FROM public.apr_action_types"), 6);
    assert_eq!(
        f.n(
            "SELECT count(*) FROM public.birth_registry WHERE collection_name = 'apr_action_types'"
        ),
        0
    );
    assert!(
        f.trigger_def().contains("fn_birth_registry_auto()"),
        "{}",
        f.trigger_def()
    );
    f.invariants("baseline");

    // ---- STEP 0: preflight ----
    let pf = engine::preflight::run(&o, Some("1")).unwrap();
    assert!(
        pf.passed,
        "{:#?}",
        pf.checks.iter().filter(|c| !c.ok).collect::<Vec<_>>()
    );
    // The whole pack (doc 94 STEP 0): every check holds; step 3 simply waits for step 1.
    let whole = engine::preflight::run(&o, None).unwrap();
    let failing: Vec<_> = whole.checks.iter().filter(|c| !c.ok).collect();
    assert!(whole.passed, "{failing:#?}");
    assert!(
        whole
            .checks
            .iter()
            .any(|c| c.name == "step 3: requires step 1 committed" && c.ok),
        "{:#?}",
        whole.checks
    );

    // ---- rehearse every step that can run on the baseline (3 needs step 1's table) ----
    for s in ["1", "2", "4", "5", "6"] {
        rehearse_ok(&f, s, false);
    }
    f.invariants("after rehearsals");
    assert!(!f.exists("public.governance_ruleset"));
    assert_eq!(f.n("SELECT count(*) FROM public.apr_action_types"), 6);
    assert!(f.trigger_def().contains("fn_birth_registry_auto()"));

    // ---- no approvals yet: apply is refused, nothing runs ----
    let err = engine::apply::run(&o, "1", &Default::default()).unwrap_err();
    assert!(matches!(err, Error::Refused(_)), "{err}");
    assert_eq!(err.exit_code(), 3);
    let msg = err.to_string();
    assert!(msg.contains("gate M-1: 0 of 1"), "{msg}");
    assert!(msg.contains("sql gate ospa"), "{msg}");
    assert!(!f.exists("public.governance_ruleset"));
    // A signature alone is not enough either: the live os_proposal_approvals row is missing.
    f.approve("1", "M-1", Action::Apply);
    let err = engine::apply::run(&o, "1", &Default::default()).unwrap_err();
    assert!(
        matches!(err, Error::Refused(_)) && err.to_string().contains("sql gate ospa"),
        "{err}"
    );
    assert!(!err.to_string().contains("gate M-1: 0 of 1"), "{err}");

    // ---- STEPS 1–6: one step, one approval set, one commit ----
    for (step, gates, scope, council) in STEPS {
        let pf = engine::preflight::run(&o, Some(step)).unwrap();
        assert!(
            pf.passed,
            "preflight {step}: {:#?}",
            pf.checks.iter().filter(|c| !c.ok).collect::<Vec<_>>()
        );
        rehearse_ok(&f, step, false);
        f.sovereign_authorizes(step, scope, council);
        for g in gates {
            f.approve(step, g, Action::Apply);
        }
        let r = engine::apply::run(&o, step, &Default::default())
            .unwrap_or_else(|e| panic!("apply {step}: {e}"));
        assert!(r.committed, "apply {step}: {r:#?}");
        assert!(r.halted.is_none(), "apply {step} halted: {r:#?}");
        assert!(r.mismatches.is_empty(), "{step}: {:?}", r.mismatches);
        assert!(
            !r.negatives.is_empty() && r.negatives.iter().all(|n| n.ok),
            "{step}: {:?}",
            r.negatives
        );
        let g = r.gates.as_ref().unwrap();
        assert!(g.satisfied, "{step}: {g:#?}");
        assert_eq!(g.signature_gates.len(), gates.len(), "{step}: {g:#?}");
        assert!(
            g.sql_gates
                .iter()
                .any(|q| q.gate == "ospa" && q.satisfied && q.rows == 1),
            "{step}: {g:#?}"
        );
        if step == "6" {
            let rows = &r.measured.as_ref().unwrap().rows;
            assert_eq!(
                rows.get("public.apr_action_types").map(|c| c.insert),
                Some(4),
                "{rows:?}"
            );
            assert_eq!(
                rows.get("public.birth_registry").map(|c| c.insert),
                Some(4),
                "{rows:?}"
            );
            assert!(
                r.notices
                    .iter()
                    .any(|n| n.message.contains("[TRIGGER-GUARD]")),
                "{:?}",
                r.notices
            );
        }
        let post = r.post.as_ref().unwrap();
        assert!(post.ok, "post-verify {step}: {post:#?}");
        f.invariants(&format!("after apply {step}"));
        match step {
            "1" => {
                assert!(f.exists("public.governance_ruleset"));
                assert_eq!(
                    f.n("SELECT count(*) FROM public.governance_ruleset WHERE status <> 'draft'"),
                    0
                );
                assert_eq!(f.n("SELECT count(*) FROM public.evolution_snapshots WHERE _dot_origin = 'SB-12'"), 1);
                assert_eq!(f.n("SELECT count(*) FROM public.evolution_snapshots"), 11);
            }
            "2" => {
                assert!(f.exists("public.gov_worker_cursor"));
                assert_eq!(
                    f.text("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'public.gov_worker_cursor'::regclass AND attname = 'last_watermark_id'").as_deref(),
                    Some("text")
                );
                assert_eq!(f.n("SELECT count(*) FROM public.queue_heartbeat WHERE executor_name LIKE 'gov\\_%' AND executor_kind = 'PG_worker'"), 2);
            }
            "3" => {
                assert!(
                    f.exists("public.governance_candidate_state")
                        && f.exists("public.candidate_scan_run")
                );
                assert_eq!(
                    f.n("SELECT count(*) FROM public.governance_candidate_state"),
                    0
                );
            }
            "4" => {
                assert_eq!(f.n("SELECT count(*) FROM public.event_type_registry WHERE event_domain = 'governance'"), 5);
                assert_eq!(f.n("SELECT count(*) FROM public.event_type_registry WHERE event_domain = 'governance' AND active"), 0);
                assert_eq!(
                    f.n("SELECT count(*) FROM public.event_type_registry WHERE event_domain = 'governance' AND delivery_lane = 'delayed' AND event_stream IN ('alert','health') AND default_severity IN ('info','warning')"),
                    5
                );
            }
            "5" => {
                assert_eq!(
                    f.n("SELECT count(*) FROM public.governance_responsibility_scope"),
                    6
                );
                assert!(
                    f.exists("public.v_object_effective_owner")
                        && f.exists("public.v_object_owner_gap")
                );
                assert_eq!(
                    f.n("SELECT count(*) FROM public.governance_object_ownership"),
                    0
                );
                assert_eq!(
                    f.n("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN ('public.governance_object_ownership'::regclass, 'public.governance_responsibility_scope'::regclass)"),
                    0
                );
            }
            "6" => {
                assert_eq!(f.n("SELECT count(*) FROM public.apr_action_types"), 10);
                assert_eq!(
                    f.n(&format!("SELECT count(*) FROM public.apr_action_types WHERE action_code IN {SB1_CODES} AND handler_ref = 'unimplemented' AND risk_level = 'high' AND status = 'active' AND _dot_origin IS NOT NULL")),
                    4
                );
                assert_eq!(f.n("SELECT count(*) FROM public.birth_registry WHERE collection_name = 'apr_action_types'"), 4);
                assert_eq!(
                    f.n(&format!("SELECT count(*) FROM public.birth_registry WHERE collection_name = 'apr_action_types' AND entity_code IN {SB1_CODES}")),
                    4
                );
                assert!(
                    f.trigger_def()
                        .contains("fn_birth_registry_auto('action_code')"),
                    "{}",
                    f.trigger_def()
                );
            }
            _ => unreachable!(),
        }
    }

    // ---- STEP 7: HOLD, verify, status ----
    f.approve("7", "M-1", Action::Apply);
    let hold = engine::apply::run(&o, "7", &Default::default()).unwrap();
    assert!(hold.commit_event.is_some() && !hold.committed);
    let v = engine::verify::verify(&o, "6").unwrap();
    assert!(v.ok, "{v:#?}");
    let v = engine::verify::verify(&o, "7").unwrap();
    assert!(v.ok, "{v:#?}");
    let st = engine::status::run(&o).unwrap();
    assert!(st.halted.is_none(), "{:?}", st.halted);
    for s in &st.steps {
        if s.hold {
            assert_eq!(s.id, "7");
        } else {
            assert_eq!(s.state, "committed", "{s:?}");
            assert!(
                s.last_rehearsal
                    .as_ref()
                    .is_some_and(|r| r.verdict == "passed" && r.matches_file),
                "{s:?}"
            );
        }
    }
    f.invariants("at HOLD");

    // ---- rollback of every step, children first (doc 97.4) ----
    for step in ["6", "5", "4", "3", "2", "1"] {
        f.approve(step, "M-1", Action::Rollback);
        rehearse_ok(&f, step, true);
        let reports = engine::rollback::run(&o, step, false, true)
            .unwrap_or_else(|e| panic!("rollback {step}: {e}"));
        assert_eq!(reports.len(), 1, "{step}: {reports:#?}");
        let r = &reports[0];
        assert!(r.committed, "rollback {step}: {r:#?}");
        assert!(
            r.problems.is_empty() && r.halted.is_none(),
            "rollback {step}: {r:#?}"
        );
        f.invariants(&format!("after rollback {step}"));
        match step {
            "6" => {
                // retire, never delete; the F-83-1 fix and the births stay (doc 97.3/97.7)
                assert_eq!(f.n("SELECT count(*) FROM public.apr_action_types"), 10);
                assert_eq!(f.n("SELECT count(*) FROM public.apr_action_types WHERE status = 'active'"), 6);
                assert_eq!(
                    f.n(&format!("SELECT count(*) FROM public.apr_action_types WHERE action_code IN {SB1_CODES} AND status = 'retired' AND retired_at IS NOT NULL")),
                    4
                );
                assert_eq!(f.n("SELECT count(*) FROM public.birth_registry WHERE collection_name = 'apr_action_types'"), 4);
                assert!(f.trigger_def().contains("fn_birth_registry_auto('action_code')"), "{}", f.trigger_def());
            }
            "5" => {
                for rel in ["governance_responsibility_scope", "governance_object_ownership", "v_object_effective_owner", "v_object_owner_gap"] {
                    assert!(!f.exists(&format!("public.{rel}")), "{rel}");
                }
            }
            "4" => assert_eq!(f.n("SELECT count(*) FROM public.event_type_registry WHERE event_domain = 'governance'"), 0),
            "3" => assert!(!f.exists("public.governance_candidate_state") && !f.exists("public.candidate_scan_run")),
            "2" => {
                assert!(!f.exists("public.gov_worker_cursor"));
                assert_eq!(f.n("SELECT count(*) FROM public.queue_heartbeat WHERE executor_name LIKE 'gov\\_%'"), 0);
            }
            "1" => {
                assert!(!f.exists("public.governance_ruleset"));
                assert_eq!(f.n("SELECT count(*) FROM public.evolution_snapshots"), 10);
            }
            _ => unreachable!(),
        }
    }

    // ---- the end state ----
    let st = engine::status::run(&o).unwrap();
    assert!(st.halted.is_none());
    for s in st.steps.iter().filter(|s| !s.hold) {
        assert_eq!(s.state, "rolled back", "{s:?}");
    }
    assert!(!f.exists("public.governance_ruleset"));
    assert_eq!(f.n("SELECT count(*) FROM public.apr_action_types"), 10);
    assert!(f
        .trigger_def()
        .contains("fn_birth_registry_auto('action_code')"));
    f.invariants("end");
    let lv = engine::ledger_cmd::verify(&o).unwrap();
    assert!(lv.problems.is_empty(), "{:?}", lv.problems);
}
