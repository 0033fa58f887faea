//! CLI for the gated-commit verbs: approve, approval-text, gates, signers, backup,
//! apply, verify, drift, halt, resume.

use super::render::{self, mark, paint, Style};
use super::{ActionArg, ApprovalArgs, Global, SignersAction};
use crate::core::approval::Verdict;
use crate::core::error::exit;
use crate::engine::{self, Error, Options};

fn request<'a>(w: &'a ApprovalArgs) -> engine::Result<engine::approve::Request<'a>> {
    let expires = crate::core::duration::parse(&w.expires).map_err(Error::BadInput)?;
    Ok(engine::approve::Request {
        step: &w.step,
        gate: &w.gate,
        principal: &w.principal,
        action: w.action.action(),
        expires,
    })
}

pub fn approve(g: &Global, w: &ApprovalArgs, key: &std::path::Path) -> engine::Result<i32> {
    let loaded = engine::pack::load(&g.pack)?;
    let pass = std::env::var("STEPGATE_KEY_PASSPHRASE").ok();
    let (p, sig) = engine::approve::approve(
        &loaded,
        &request(w)?,
        key,
        pass.as_deref(),
        time::OffsetDateTime::now_utc(),
    )?;
    if g.json {
        render::print_json(&serde_json::json!({"statement": p, "signature": sig}));
    } else {
        println!(
            "{} signed {} for step {} ({}) as {}",
            mark(true),
            w.gate,
            w.step,
            w.action.action(),
            w.principal
        );
        println!("  {}\n  {}", p.display(), sig.display());
    }
    Ok(exit::OK)
}

pub fn approval_text(g: &Global, w: &ApprovalArgs) -> engine::Result<i32> {
    let loaded = engine::pack::load(&g.pack)?;
    let st = engine::approve::statement(&loaded, &request(w)?, time::OffsetDateTime::now_utc())?;
    if g.json {
        render::print_json(&serde_json::json!({ "statement": st.render() }));
    } else {
        print!("{}", st.render());
    }
    Ok(exit::OK)
}

pub fn gates(o: &Options, step: &str, action: ActionArg, json: bool) -> engine::Result<i32> {
    let mut s = engine::session::Session::open(o, "gates", engine::session::Lock::None)?;
    let r = engine::gates::evaluate(
        &mut s,
        step,
        action.action(),
        time::OffsetDateTime::now_utc(),
    )?;
    if json {
        render::print_json(&serde_json::to_value(&r).unwrap_or_default());
        return Ok(if r.satisfied { exit::OK } else { exit::REFUSED });
    }
    println!(
        "{} gates of step {step} for {}",
        paint("▶", Style::Head),
        r.action
    );
    if let Some(d) = &r.one_way_door {
        println!("  {} ONE-WAY DOOR: {d}", paint("!", Style::Warn));
    }
    for p in &r.signer_copy_problems {
        println!("  {} {p}", mark(false));
    }
    for gr in &r.signature_gates {
        println!(
            "  {} gate {} (signature): {} of {} valid",
            mark(gr.satisfied),
            gr.gate,
            gr.valid,
            gr.quorum
        );
        for a in &gr.approvals {
            match &a.verdict {
                Verdict::Valid => println!(
                    "      {} {} — {}",
                    mark(true),
                    a.principal.as_deref().unwrap_or("?"),
                    a.source
                ),
                Verdict::Invalid(reason) => println!(
                    "      {} {} — {}: {reason}",
                    mark(false),
                    a.principal.as_deref().unwrap_or("?"),
                    a.source
                ),
            }
        }
        if gr.approvals.is_empty() {
            println!("      (no approvals found in approvals/)");
        }
    }
    for q in &r.sql_gates {
        let ev = q
            .error
            .clone()
            .unwrap_or_else(|| format!("{} row(s)", q.rows));
        println!(
            "  {} gate {} (sql): {} — {}",
            mark(q.satisfied),
            q.gate,
            q.sql,
            ev
        );
    }
    println!(
        "  {} floor policy: {} valid registry signature(s), at least {} required",
        mark(r.floor_met),
        r.registry_signatures,
        r.floor_min_signatures
    );
    println!(
        "{}",
        if r.satisfied {
            paint("all gates satisfied", Style::Ok)
        } else {
            paint("gates NOT satisfied", Style::Bad)
        }
    );
    Ok(if r.satisfied { exit::OK } else { exit::REFUSED })
}

pub fn signers(o: &Options, action: SignersAction, json: bool) -> engine::Result<i32> {
    match action {
        SignersAction::Add {
            principal,
            key,
            gates,
        } => {
            let line = std::fs::read_to_string(&key)
                .map_err(|e| Error::BadInput(format!("{}: {e}", key.display())))?;
            let fp = engine::signers_cmd::add(o, &principal, &line, &gates)?;
            if json {
                render::print_json(
                    &serde_json::json!({"principal": principal, "key": fp, "gates": gates}),
                );
            } else {
                println!(
                    "{} registered {principal} ({fp}) for gates {}",
                    mark(true),
                    gates.join(",")
                );
            }
        }
        SignersAction::Remove { principal } => {
            let n = engine::signers_cmd::remove(o, &principal)?;
            println!("{} removed {n} key(s) of {principal}", mark(n > 0));
        }
        SignersAction::List => {
            let l = engine::signers_cmd::list(o)?;
            if json {
                render::print_json(&serde_json::to_value(&l).unwrap_or_default());
            } else {
                for s in l {
                    println!(
                        "{:<32} {} {}…  gates {}  (added {} by {})",
                        s.principal,
                        s.key_type,
                        &s.key_base64[..20.min(s.key_base64.len())],
                        s.gates.join(","),
                        s.added_at,
                        s.added_by
                    );
                }
            }
        }
        SignersAction::Export => {
            for s in engine::signers_cmd::list(o)? {
                println!(
                    "{} namespaces=\"stepgate\" {} {}",
                    s.principal, s.key_type, s.key_base64
                );
            }
        }
    }
    Ok(exit::OK)
}

pub fn backup(o: &Options, step: &str, json: bool) -> engine::Result<i32> {
    let mut s = engine::session::Session::open(o, "backup", engine::session::Lock::Pack)?;
    let r = engine::backup::run(&mut s, step, !render::quiet() && !json)?;
    if json {
        render::print_json(&serde_json::to_value(&r).unwrap_or_default());
    } else {
        println!(
            "{} backup of step {step}: {} file(s), {} bytes in {} (ledger event {})",
            mark(true),
            r.backup.files.len(),
            r.backup.total_bytes,
            r.backup.dir.display(),
            r.event_id
        );
        for f in &r.backup.files {
            println!(
                "  {:<40} {:>12} bytes  sha256 {}",
                f.table,
                f.bytes,
                &f.sha256[..16]
            );
        }
    }
    Ok(exit::OK)
}

/// `stepgate apply`'s flags.
pub struct ApplyFlags {
    pub retries: u32,
    pub auto_backup: bool,
    /// `--wait-for-locks[=DURATION]`: how long to wait for conflicting lock holders.
    pub wait_for_locks: Option<std::time::Duration>,
    pub full_proof: bool,
}

pub fn apply(o: &Options, step: &str, flags: ApplyFlags, json: bool) -> engine::Result<i32> {
    let ApplyFlags {
        retries,
        auto_backup,
        wait_for_locks,
        full_proof,
    } = flags;
    let ao = engine::apply::ApplyOptions {
        retries,
        auto_backup,
        progress: !render::quiet() && !json,
        wait_for_locks,
        proof: super::verbs::proof_of(full_proof),
    };
    let r = engine::apply::run(o, step, &ao)?;
    if json {
        render::print_json(&serde_json::to_value(&r).unwrap_or_default());
    } else {
        print_apply(&r);
    }
    Ok(if r.committed && r.halted.is_none() {
        exit::OK
    } else {
        exit::FAILED
    })
}

pub fn print_apply(r: &engine::apply::ApplyReport) {
    println!(
        "{} apply of step {} (run {})",
        paint("▶", Style::Head),
        r.step,
        r.run_id
    );
    if let Some(g) = &r.gates {
        let names: Vec<String> = g
            .signature_gates
            .iter()
            .map(|x| format!("{} {}/{}", x.gate, x.valid, x.quorum))
            .chain(g.sql_gates.iter().map(|x| format!("{} sql", x.gate)))
            .collect();
        println!(
            "  {} gates satisfied: {}",
            mark(g.satisfied),
            names.join(", ")
        );
    }
    if let Some(e) = r.rehearsal_event {
        println!(
            "  {} passing rehearsal of these bytes: ledger event {e}",
            mark(true)
        );
    }
    if let Some(e) = r.backup_event {
        println!("  {} verified backup: ledger event {e}", mark(true));
    }
    for n in &r.notices {
        println!(
            "  {} {}:{}: {}: {}",
            paint("•", Style::Dim),
            n.file,
            n.line,
            n.severity,
            n.message
        );
    }
    for a in &r.attempts {
        let f = a
            .failure
            .as_ref()
            .map(|f| format!(" — {f}"))
            .unwrap_or_default();
        println!(
            "  attempt {}: {} in {} ms{f}",
            a.attempt, a.outcome, a.elapsed_ms
        );
    }
    if let Some(b) = &r.batch {
        println!("  {}", crate::engine::batch::describe(b));
    }
    if !r.mismatches.is_empty() {
        println!(
            "  {} measured delta differs from the declared effects:",
            mark(false)
        );
        print!("{}", crate::core::effects::render_mismatches(&r.mismatches));
    } else if r.measured.is_some() {
        println!(
            "  {} measured delta equals the declared effects",
            mark(true)
        );
    }
    for n in &r.negatives {
        println!(
            "  {} negative test {}: SQLSTATE {}",
            mark(n.ok),
            n.name,
            n.got_sqlstate.as_deref().unwrap_or("none")
        );
    }
    if let Some(id) = r.commit_event {
        println!(
            "  {} COMMITTED with its ledger row (event {id}) in the same transaction",
            mark(true)
        );
    }
    if let Some(p) = &r.post {
        println!(
            "  {} post-commit verification (section H, verify file, invariants, catalog)",
            mark(p.ok)
        );
        for i in p.invariants.iter().filter(|i| !i.ok) {
            println!(
                "      invariant {}: expected {}, got {}",
                i.name,
                i.expect,
                i.got.as_deref().unwrap_or("no row")
            );
        }
        for m in &p.catalog_mismatches {
            println!("      {}: {}", m.item, m.measured);
        }
    }
    for m in &r.measurements {
        println!(
            "  measured `{}`: {} rows before, {} after, {} changed, {} added, {} removed",
            m.name, m.rows_before, m.rows_after, m.rows_changed, m.rows_added, m.rows_removed
        );
        for c in &m.columns {
            println!(
                "      {:<20} distinct {} → {}  min {} → {}  max {} → {}",
                c.column,
                c.distinct_before,
                c.distinct_after,
                c.min_before.as_deref().unwrap_or("-"),
                c.min_after.as_deref().unwrap_or("-"),
                c.max_before.as_deref().unwrap_or("-"),
                c.max_after.as_deref().unwrap_or("-")
            );
        }
    }
    if let Some(h) = &r.halted {
        println!("{} {h}", paint("PACK HALTED:", Style::Bad));
    }
    if let Some(c) = &r.rollback_command {
        println!("  to reverse: {c}");
    }
    let verdict = if r.committed && r.halted.is_none() {
        paint("step committed and verified", Style::Ok)
    } else {
        paint("step NOT committed cleanly", Style::Bad)
    };
    println!("{verdict} in {} ms", r.elapsed_ms);
}

pub fn verify(o: &Options, step: &str, json: bool) -> engine::Result<i32> {
    let r = engine::verify::verify(o, step)?;
    if json {
        render::print_json(&serde_json::to_value(&r).unwrap_or_default());
    } else {
        println!("{} verify step {step}", paint("▶", Style::Head));
        println!("  {} section H", mark(r.section_h.is_none()));
        if let Some(f) = &r.section_h {
            println!("      {f}");
        }
        println!("  {} verify file", mark(r.verify_file.is_none()));
        for i in &r.invariants {
            println!(
                "  {} invariant {}: expected {}, got {}",
                mark(i.ok),
                i.name,
                i.expect,
                i.got.as_deref().unwrap_or("no row")
            );
        }
        print_drift(&r.drift);
    }
    Ok(if r.ok { exit::OK } else { exit::FAILED })
}

fn print_drift(d: &engine::verify::DriftReport) {
    match (&d.recorded_fingerprint, d.drifted) {
        (None, drifted) => println!(
            "  {} {}",
            match d.reference_event {
                None => paint("-", Style::Dim),
                Some(_) => mark(!drifted),
            },
            d.note.as_deref().unwrap_or("")
        ),
        (Some(fp), false) => println!(
            "  {} no drift: live catalog equals the fingerprint recorded at event {} ({})",
            mark(true),
            d.reference_event.unwrap_or(0),
            &fp[..16]
        ),
        (Some(fp), true) => {
            println!(
                "  {} DRIFT since event {}: recorded {} live {}",
                mark(false),
                d.reference_event.unwrap_or(0),
                &fp[..16],
                &d.live_fingerprint[..16]
            );
            print!("{}", crate::core::catalog::render_diff(&d.diff));
            if let Some(n) = &d.note {
                println!("  {n}");
            }
        }
    }
}

pub fn drift(o: &Options, accept: bool, json: bool) -> engine::Result<i32> {
    let r = match accept {
        true => engine::verify::accept_drift(o)?,
        false => engine::verify::drift(o)?,
    };
    if json {
        render::print_json(&serde_json::to_value(&r).unwrap_or_default());
    } else {
        println!("{} drift of {}", paint("▶", Style::Head), r.pack);
        print_drift(&r);
    }
    Ok(if r.drifted { exit::FAILED } else { exit::OK })
}

pub fn halt(o: &Options, reason: &str, json: bool) -> engine::Result<i32> {
    let id = engine::halt::halt(o, reason)?;
    if json {
        render::print_json(&serde_json::json!({"halted": true, "event": id}));
    } else {
        println!(
            "{} pack halted (event {id}). To lift it, owners sign: {}",
            paint("■", Style::Bad),
            engine::halt::resume_command(id)
        );
    }
    Ok(exit::OK)
}

pub fn resume(o: &Options, json: bool) -> engine::Result<i32> {
    let (h, id) = engine::halt::resume(o)?;
    if json {
        render::print_json(&serde_json::json!({"resumed": true, "halt_event": h, "event": id}));
    } else {
        println!("{} halt {h} lifted (event {id}); the next apply needs a passing `stepgate preflight` first", mark(true));
    }
    Ok(exit::OK)
}

pub fn rollback(
    o: &Options,
    step: &str,
    cascade: bool,
    auto_backup: bool,
    json: bool,
) -> engine::Result<i32> {
    let reports = engine::rollback::run(o, step, cascade, auto_backup)?;
    if json {
        render::print_json(&serde_json::to_value(&reports).unwrap_or_default());
    } else {
        for r in &reports {
            println!(
                "{} rollback of step {} (run {})",
                paint("▶", Style::Head),
                r.step,
                r.run_id
            );
            for n in &r.notices {
                println!(
                    "  {} {}:{}: {}: {}",
                    paint("•", Style::Dim),
                    n.file,
                    n.line,
                    n.severity,
                    n.message
                );
            }
            if let Some(f) = &r.failure {
                println!("  {} {f}", mark(false));
            }
            for p in &r.problems {
                println!("  {} {p}", mark(false));
            }
            if let Some(b) = &r.batch {
                println!("  {}", crate::engine::batch::describe(b));
            }
            if r.committed && r.batch.is_some() {
                println!(
                    "  {} batched rollback drained and COMMITTED (event {})",
                    mark(true),
                    r.commit_event.unwrap_or(0)
                );
            } else if r.committed {
                println!(
                    "  {} reversal proven inside the transaction and COMMITTED (event {})",
                    mark(true),
                    r.commit_event.unwrap_or(0)
                );
            }
            if let Some(h) = &r.halted {
                println!("{} {h}", paint("PACK HALTED:", Style::Bad));
            }
        }
    }
    Ok(if reports.iter().all(|r| r.committed) {
        exit::OK
    } else {
        exit::FAILED
    })
}

pub fn restore(o: &Options, step: &str, table: &str, json: bool) -> engine::Result<i32> {
    let r = engine::restore::run(o, step, table)?;
    if json {
        render::print_json(&serde_json::to_value(&r).unwrap_or_default());
    } else {
        println!(
            "{} restored {} from the pre-commit dump of step {step}: {} rows before, {} after",
            mark(true),
            r.table,
            r.rows_before,
            r.rows_after
        );
    }
    Ok(exit::OK)
}

pub fn review(
    o: &Options,
    step: Option<&str>,
    format: super::ReviewFormat,
    output: Option<&std::path::Path>,
    json: bool,
) -> engine::Result<i32> {
    let model = engine::review::run(o, step)?;
    if let (Some(why), false) = (&model.database.offline_reason, render::quiet()) {
        eprintln!("note: no ledger read ({why}); the package is built from the pack alone");
    }
    let text = if json {
        let mut s = serde_json::to_string_pretty(&model).unwrap_or_default();
        s.push('\n');
        s
    } else {
        match format {
            super::ReviewFormat::Md => engine::review::render_markdown(&model),
            super::ReviewFormat::Html => engine::review::render_html(&model),
        }
    };
    match output {
        Some(p) => {
            std::fs::write(p, text)
                .map_err(|e| Error::BadInput(format!("{}: {e}", p.display())))?;
            if !render::quiet() {
                eprintln!("{} review package written to {}", mark(true), p.display());
            }
        }
        None => print!("{text}"),
    }
    Ok(exit::OK)
}

pub fn scratch(
    o: &Options,
    from_sql: Option<std::path::PathBuf>,
    with_data: &[String],
    keep: bool,
    json: bool,
) -> engine::Result<i32> {
    let source = match from_sql {
        Some(p) => engine::scratch::Source::FromSql(p),
        None => engine::scratch::Source::FromDb,
    };
    let r = engine::scratch::run(o, &source, with_data, keep, !render::quiet() && !json)?;
    if json {
        render::print_json(&serde_json::to_value(&r).unwrap_or_default());
    } else {
        println!(
            "{} scratch round-trip of {} from {} {}",
            paint("▶", Style::Head),
            r.pack,
            r.source,
            paint(
                "(gates bypassed on the copy; its ledger is labelled `scratch`)",
                Style::Dim
            )
        );
        println!(
            "  {:<5} {:<36} {:<12} {:<8} {:<12} {:>9} {:>9}",
            "step", "name", "apply", "verify", "rollback", "apply ms", "undo ms"
        );
        for row in &r.rows {
            println!(
                "  {:<5} {:<36} {:<12} {:<8} {:<12} {:>9} {:>9}",
                row.step,
                row.name.chars().take(36).collect::<String>(),
                row.apply.chars().take(12).collect::<String>(),
                row.verify,
                row.rollback.chars().take(12).collect::<String>(),
                row.apply_ms,
                row.rollback_ms
            );
            for detail in [&row.apply, &row.rollback] {
                if detail.len() > 12 {
                    println!("        {}", paint(detail, Style::Dim));
                }
            }
        }
        println!(
            "  {} fingerprint {} {} {}",
            mark(r.round_trip_equal),
            &r.initial_fingerprint[..16],
            if r.initial_fingerprint == r.final_fingerprint {
                "=="
            } else {
                "!="
            },
            &r.final_fingerprint[..16]
        );
        for k in &r.kept_by_design {
            println!(
                "  {} {k} differs by design (rollback_keeps)",
                paint("=", Style::Dim)
            );
        }
        for d in &r.differs {
            println!("  {} {d}", mark(false));
        }
        if let Some(k) = &r.kept {
            println!("  the copy stays up: psql \"{k}\"");
        }
        println!(
            "{} in {} ms",
            if r.round_trip_equal {
                paint("round trip proven", Style::Ok)
            } else {
                paint("round trip FAILED", Style::Bad)
            },
            r.elapsed_ms
        );
    }
    Ok(if r.round_trip_equal {
        exit::OK
    } else {
        exit::FAILED
    })
}
