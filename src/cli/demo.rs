//! `stepgate demo`: the whole story in under a minute on a throwaway PostgreSQL —
//! lint, preflight, rehearse (measured delta beside the declared effects, entry ==
//! exit), an apply refused for want of approvals, approve, apply, status, a tampered
//! file refused, the rollback of the last step, and the ledger verified.

use super::commit::print_apply;
use super::render::{self, mark, paint, Style};
use super::verbs::print_rehearsal;
use crate::core::approval::Action;
use crate::core::error::exit;
use crate::db::cluster::{Cluster, ClusterOptions};
use crate::engine::{self, Error, Options};
use std::path::{Path, PathBuf};

const WORLD_SQL: &str = include_str!("../../fixtures/world.sql");
const PACK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/phase1-governance");
const SOVEREIGN: &str = "sovereign@example.org";
const COUNCIL: &str = "council@example.org";

fn chapter(n: u32, title: &str) {
    println!("\n{}", paint(&format!("── {n}. {title} "), Style::Head));
}

fn say(text: &str) {
    println!("{}", paint(text, Style::Dim));
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') || name == "approvals" {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if src.is_dir() {
            copy_dir(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

fn io(e: impl std::fmt::Display) -> Error {
    Error::BadInput(format!("demo: {e}"))
}

/// A throwaway ed25519 key, written as an OpenSSH private key file.
fn make_key(dir: &Path, name: &str) -> engine::Result<(PathBuf, String)> {
    let key = ssh_key::PrivateKey::random(&mut rand_core::OsRng, ssh_key::Algorithm::Ed25519)
        .map_err(io)?;
    let path = dir.join(name);
    let text = key.to_openssh(ssh_key::LineEnding::LF).map_err(io)?;
    std::fs::write(&path, text.as_bytes()).map_err(io)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    let public = key.public_key().to_openssh().map_err(io)?;
    Ok((path, public))
}

fn sovereign_authorizes(ci: &str, step: &str) -> engine::Result<()> {
    let mut c = postgres::Client::connect(ci, postgres::NoTls)?;
    c.execute(
        "INSERT INTO public.os_proposal_approvals (proposal_ref, step_ref, approved_by, council_record, note) VALUES ('phase1-governance', $1, $2, 'demo', 'written by the sovereign, never by the build agent')",
        &[&step, &SOVEREIGN],
    )?;
    Ok(())
}

fn sign(
    o: &Options,
    keys: &[(&str, PathBuf)],
    step: &str,
    action: Action,
) -> engine::Result<Vec<String>> {
    let loaded = engine::pack::load(&o.pack)?;
    let st = loaded
        .pack
        .step(step)
        .ok_or_else(|| Error::BadInput(format!("demo: no step {step}")))?;
    let gates = if action == Action::Rollback {
        st.rollback_gate_names()
    } else {
        st.gate_names()
    };
    let mut signed = Vec::new();
    for g in gates {
        let Some(gate) = loaded.pack.manifest.gate.get(&g) else {
            continue;
        };
        if gate.kind != crate::core::manifest::GateKind::Signature {
            continue;
        }
        for (principal, key) in keys {
            if gate.signers.iter().any(|s| s == principal) {
                let req = engine::approve::Request {
                    step,
                    gate: &g,
                    principal,
                    action,
                    expires: std::time::Duration::from_secs(3600),
                };
                engine::approve::approve(
                    &loaded,
                    &req,
                    key,
                    None,
                    time::OffsetDateTime::now_utc(),
                )?;
                signed.push(format!("{g} by {principal}"));
            }
        }
    }
    Ok(signed)
}

pub fn run(keep: bool, quiet: bool) -> engine::Result<i32> {
    let started = std::time::Instant::now();
    if !Path::new(PACK_DIR).join("stepgate.toml").exists() {
        return Err(Error::BadInput(format!(
            "demo: the example pack is missing at {PACK_DIR}"
        )));
    }
    chapter(
        1,
        "A throwaway PostgreSQL with the team's database as it stood before Phase 1",
    );
    let cluster = Cluster::start(ClusterOptions {
        settings: vec![],
        keep,
    })
    .map_err(io)?;
    cluster.create_database("directus", None)?;
    let work = tempfile::Builder::new()
        .prefix("stepgate-demo-")
        .tempdir()
        .map_err(io)?;
    let fixture = work.path().join("world.sql");
    std::fs::write(&fixture, WORLD_SQL).map_err(io)?;
    cluster.psql_file("directus", &fixture).map_err(io)?;
    let ci = cluster.conninfo("directus");
    let mut c = postgres::Client::connect(&ci, postgres::NoTls)?;
    let n = |c: &mut postgres::Client, q: &str| -> engine::Result<i64> {
        Ok(c.query_one(q, &[])?.get(0))
    };
    println!(
        "  {} database `directus` on {}: {} tables, apr_action_types = {}, governance_relations = {}, F-83-1 defect present",
        mark(true),
        cluster.socket_dir.display(),
        n(&mut c, "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog','information_schema')")?,
        n(&mut c, "SELECT count(*) FROM apr_action_types")?,
        n(&mut c, "SELECT count(*) FROM governance_relations")?
    );
    let pack_dir = work.path().join("phase1-governance");
    copy_dir(Path::new(PACK_DIR), &pack_dir).map_err(io)?;
    let o = Options {
        pack: pack_dir.clone(),
        db: Some(ci.clone()),
    };

    chapter(
        2,
        "The DBA installs the ledger and registers the approvers' keys (the trust root)",
    );
    engine::ledger_cmd::install(
        &o,
        &crate::db::ledger::InstallOptions {
            environment: Some("demo".into()),
            runner_role: None,
            floor_min_signatures: 1,
            guard: true,
        },
    )?;
    let (sov_key, sov_pub) = make_key(work.path(), "sovereign_ed25519")?;
    let (cou_key, cou_pub) = make_key(work.path(), "council_ed25519")?;
    let fp1 = engine::signers_cmd::add(
        &o,
        SOVEREIGN,
        &sov_pub,
        &["M-1".into(), "resume".into(), "restore".into()],
    )?;
    let fp2 = engine::signers_cmd::add(&o, COUNCIL, &cou_pub, &["C-1".into(), "C-2".into()])?;
    let signers_text = engine::signers_cmd::list(&o)?
        .iter()
        .map(|s| {
            format!(
                "{} namespaces=\"stepgate\" {} {}\n",
                s.principal, s.key_type, s.key_base64
            )
        })
        .collect::<String>();
    std::fs::write(pack_dir.join("allowed_signers"), signers_text).map_err(io)?;
    println!("  {} ledger installed (schema `stepgate`, environment `demo`, floor: 1 registry signature per commit)", mark(true));
    println!(
        "  {} {SOVEREIGN} ({fp1}) may sign M-1, resume, restore",
        mark(true)
    );
    println!("  {} {COUNCIL} ({fp2}) may sign C-1, C-2", mark(true));
    let keys = [(SOVEREIGN, sov_key), (COUNCIL, cou_key)];

    chapter(
        3,
        "Lint: PostgreSQL's own parser, sections A–I, transaction shape, effects, rollbacks",
    );
    let lint = engine::lint::run(&pack_dir)?;
    let errors = lint
        .diagnostics
        .iter()
        .filter(|d| d.severity == crate::core::lint::Severity::Error)
        .count();
    println!(
        "  {} {} file(s), {errors} error(s), {} warning(s)",
        mark(errors == 0),
        lint.loaded.sources.files.len() + 1,
        lint.diagnostics.len() - errors
    );
    for d in lint.diagnostics.iter().take(3) {
        say(&format!(
            "    {}:{} [{}] {}",
            d.file, d.line, d.code, d.message
        ));
    }

    chapter(4, "Preflight: read-only checklist (doc 96)");
    let pf = engine::preflight::run(&o, None)?;
    for ch in pf
        .checks
        .iter()
        .filter(|c| !c.name.contains(": table") && !c.name.contains(": view"))
        .take(9)
    {
        println!(
            "  {} {:<48} {}",
            mark(ch.ok),
            ch.name,
            paint(&ch.evidence, Style::Dim)
        );
    }
    println!(
        "  {} {} checks, all read-only",
        mark(pf.passed),
        pf.checks.len()
    );

    chapter(5, "Rehearse step 1 inside BEGIN..ROLLBACK");
    let r = engine::rehearse::run(&o, "1", false)?;
    print_rehearsal(&r);

    chapter(6, "Apply step 1 with no approvals: refused");
    match engine::apply::run(&o, "1", &Default::default()) {
        Err(e @ Error::Refused(_)) => {
            for line in e.to_string().lines() {
                println!("  {} {}", paint("✗", Style::Bad), line.trim());
            }
        }
        Err(e) => return Err(e),
        Ok(_) => {
            return Err(Error::Failed(
                "demo: apply without approvals was not refused".into(),
            ))
        }
    }

    chapter(
        7,
        "The sovereign authorizes (os_proposal_approvals row + SSH signature), then apply",
    );
    sovereign_authorizes(&ci, "1")?;
    for s in sign(&o, &keys, "1", Action::Apply)? {
        println!("  {} signed {s}", mark(true));
    }
    let a = engine::apply::run(&o, "1", &Default::default())?;
    print_apply(&a);

    chapter(
        8,
        "Steps 2–5, each rehearsed, authorized and applied on its own",
    );
    for step in ["2", "3", "4", "5"] {
        let r = engine::rehearse::run(&o, step, false)?;
        sovereign_authorizes(&ci, step)?;
        sign(&o, &keys, step, Action::Apply)?;
        let a = engine::apply::run(&o, step, &Default::default())?;
        let name = engine::pack::load(&pack_dir)?
            .pack
            .step(step)
            .map(|s| s.name.clone())
            .unwrap_or_default();
        println!(
            "  {} step {step} {:<40} rehearsal {} · delta == effects · committed (event {}) · verified",
            mark(r.passed && a.committed && a.halted.is_none()),
            name,
            if r.entry_equals_exit { "entry == exit" } else { "entry != exit" },
            a.commit_event.unwrap_or(0)
        );
    }

    chapter(
        9,
        "A tampered file is refused: step 6 is edited after it was rehearsed and signed",
    );
    engine::rehearse::run(&o, "6", false)?;
    sovereign_authorizes(&ci, "6")?;
    sign(&o, &keys, "6", Action::Apply)?;
    let f6 = pack_dir.join("06_sb1_action_types.sql");
    let original = std::fs::read_to_string(&f6).map_err(io)?;
    let tampered = original.replacen("'unimplemented'", "'real_handler'", 1);
    std::fs::write(&f6, &tampered).map_err(io)?;
    say("  (an agent flips handler_ref to a real handler — Phase B is NO-GO)");
    match engine::apply::run(&o, "6", &Default::default()) {
        Err(e) => {
            for line in e.to_string().lines().take(6) {
                println!("  {} {}", paint("✗", Style::Bad), line.trim());
            }
        }
        Ok(_) => {
            return Err(Error::Failed(
                "demo: the tampered file was not refused".into(),
            ))
        }
    }
    std::fs::write(&f6, &original).map_err(io)?;
    say("  (the reviewed bytes are put back)");
    let a = engine::apply::run(&o, "6", &Default::default())?;
    print_apply(&a);
    // Reaching the hold is signed too: the database records it only under a permit.
    sign(&o, &keys, "7", Action::Apply)?;
    let hold = engine::apply::run(&o, "7", &Default::default())?;
    println!(
        "  {} step 7 HOLD reached (event {}): nothing more is built without a new authorization",
        mark(true),
        hold.commit_event.unwrap_or(0)
    );

    chapter(10, "Status: the step ledger of doc 94.0");
    super::verbs::status_cmd(&o, false)?;

    chapter(
        11,
        "Roll back the last step (SB-1): retire, never delete; keep the F-83-1 fix",
    );
    let rr = engine::rehearse::run(&o, "6", true)?;
    println!(
        "  {} rollback rehearsed: {}",
        mark(rr.passed),
        if rr.entry_equals_exit {
            "entry == exit"
        } else {
            "entry != exit"
        }
    );
    sign(&o, &keys, "6", Action::Rollback)?;
    let rb = engine::rollback::run(&o, "6", false, true)?;
    for r in &rb {
        println!(
            "  {} step {} rolled back, reversal proven before COMMIT (event {})",
            mark(r.committed),
            r.step,
            r.commit_event.unwrap_or(0)
        );
    }
    println!(
        "  {} apr_action_types = {} ({} retired); trigger keeps fn_birth_registry_auto('action_code'): {}",
        mark(true),
        n(&mut c, "SELECT count(*) FROM apr_action_types")?,
        n(&mut c, "SELECT count(*) FROM apr_action_types WHERE status = 'retired'")?,
        n(&mut c, "SELECT count(*) FROM pg_trigger WHERE tgname = 'trg_birth_apr_action_types' AND pg_get_triggerdef(oid) LIKE '%action_code%'")? == 1
    );

    chapter(12, "The ledger, verified");
    let v = engine::ledger_cmd::verify(&o)?;
    println!(
        "  {} {} rows, hash chain intact",
        mark(v.problems.is_empty()),
        v.rows
    );
    say("  every row carries the sha256 of the row before it; `stepgate ledger verify` names any edited, deleted or reordered row");

    println!(
        "\n{} in {:.1} s",
        paint("demo complete", Style::Ok),
        started.elapsed().as_secs_f64()
    );
    if keep {
        let mut cluster = cluster;
        cluster.keep();
        println!("the cluster stays up:\n  psql \"{ci}\"\n  stepgate -p {} --db \"{ci}\" status\nstop it with: pg_ctl -D {} stop", pack_dir.display(), cluster.data_dir().display());
        let _ = work.keep();
    } else if !quiet {
        say("the throwaway cluster and files are removed");
    }
    let _ = render::quiet();
    Ok(exit::OK)
}
