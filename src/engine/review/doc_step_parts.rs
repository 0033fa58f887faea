//! The parts of a step's section. Each returns no block when it has nothing of the
//! step's own to say, and the part is then left out.

use super::doc::*;
use super::model::*;
use std::collections::BTreeSet;

fn counts(r: Option<&RowFacts>) -> String {
    match r {
        Some(r) => format!("+{} ~{} -{}", r.insert, r.update, r.delete),
        None => "—".into(),
    }
}

fn marker_note(r: &RehearsalFacts) -> Block {
    let when = r.at.as_deref().unwrap_or("?");
    let verdict = r.verdict.as_deref().unwrap_or("?");
    let (tone, title, body) = match r.marker {
        DeltaMarker::Unknown => (Tone::Info, "Last rehearsal: not read.", "No ledger was read (see the top).".to_string()),
        DeltaMarker::NeverRehearsed => (Tone::Warn, "Never rehearsed.", "The ledger has no rehearsal of this step: apply refuses until one passes.".to_string()),
        DeltaMarker::NotRehearsable => (Tone::Info, "Not rehearsable in a transaction.", "transactional = false: it cannot run inside BEGIN..ROLLBACK. Apply runs a preflight instead; rehearse it on a copy with stepgate scratch.".to_string()),
        DeltaMarker::NotRehearsedSinceChange => (Tone::Warn, "Not rehearsed since the file changed.", format!("The last rehearsal ({verdict}, {when}) was of other bytes or another plan: apply refuses until this one is rehearsed.")),
        DeltaMarker::NotMeasured => (Tone::Danger, "The last rehearsal measured nothing.", format!("It {verdict} at {when} before the delta was measured.")),
        DeltaMarker::Matches => (Tone::Ok, "Measured delta matches.", format!("The last rehearsal ({verdict}, {when}) measured exactly the declared effects.")),
        DeltaMarker::Differs => (Tone::Danger, "Measured delta differs.", format!("The last rehearsal ({verdict}, {when}) measured something other than the declared effects.")),
    };
    Block::Note {
        tone,
        title: title.into(),
        body: vec![t(body)],
    }
}

/// Declared effects beside the last rehearsal's measured delta.
pub(super) fn changes(s: &StepReview) -> Vec<Block> {
    if s.kind == StepKind::Hold {
        return vec![Block::Para(vec![t(
            "A hold step builds nothing: applying it records that the hold was reached.",
        )])];
    }
    let e = &s.effects;
    let r = &s.rehearsal;
    let measured: BTreeSet<&str> = r.measured_objects.iter().map(String::as_str).collect();
    let show_measured = matches!(r.marker, DeltaMarker::Matches | DeltaMarker::Differs);
    let mut rows = Vec::new();
    for (verb, set) in [
        ("create", &e.create),
        ("alter", &e.alter),
        ("drop", &e.drop),
    ] {
        for o in set {
            let item = format!("{verb} {o}");
            let m = if !show_measured {
                "—"
            } else if measured.contains(item.as_str()) {
                "measured"
            } else {
                "covered or not seen"
            };
            rows.push(vec![vec![c(&item)], vec![t("declared")], vec![t(m)]]);
        }
    }
    let tables: BTreeSet<&str> = e
        .rows
        .iter()
        .map(|x| x.table.as_str())
        .chain(
            r.measured_rows
                .iter()
                .map(|x| x.table.as_str())
                .filter(|_| show_measured),
        )
        .collect();
    for table in tables {
        let d = e.rows.iter().find(|x| x.table == table);
        let m = r.measured_rows.iter().find(|x| x.table == table);
        rows.push(vec![
            vec![c(format!("rows {table}"))],
            vec![t(counts(d))],
            vec![t(if show_measured {
                counts(m)
            } else {
                "—".into()
            })],
        ]);
    }
    let mut out = vec![marker_note(r)];
    if rows.is_empty() {
        out.push(Block::Para(vec![t(
            "No effects declared: any measured change fails the step.",
        )]));
    } else {
        let note = if e.rows.is_empty() {
            ""
        } else {
            "Rows as +insert ~update -delete. "
        };
        out.push(Block::Table {
            head: vec!["Item".into(), "Declared".into(), "Last rehearsal".into()],
            rows,
        });
        out.push(Block::Para(vec![t(format!(
            "{note}This is the whole declared delta: a measured difference stops the step."
        ))]));
    }
    if !r.mismatches.is_empty() {
        out.push(Block::Table {
            head: vec!["Differs".into(), "Declared".into(), "Measured".into()],
            rows: r
                .mismatches
                .iter()
                .map(|x| vec![vec![c(&x.item)], vec![t(&x.declared)], vec![t(&x.measured)]])
                .collect(),
        });
    }
    if !s.forbid.is_empty() {
        let mut l = vec![t("Forbidden to this step: ")];
        l.extend(join_code(&s.forbid));
        l.push(t(" (checked on the parsed SQL and on the measured delta)."));
        out.push(Block::Para(l));
    }
    out
}

fn trigger_rows(w: &WrittenTable, cat: &super::live::TableCatalog) -> Vec<Vec<Line>> {
    let mut rows: Vec<Vec<Line>> = cat
        .triggers
        .iter()
        .map(|tr| {
            let mut what = vec![
                t(format!(
                    "trigger {} {} {} ({}) → ",
                    tr.name,
                    tr.timing,
                    tr.events.join("/"),
                    tr.level
                )),
                c(&tr.function),
            ];
            if !tr.enabled {
                what.push(t(" — disabled"));
            }
            vec![
                vec![c(&w.table)],
                what,
                vec![b(if tr.fires { "fires" } else { "does not fire" })],
            ]
        })
        .collect();
    rows.extend(cat.cascades.iter().map(|k| {
        vec![
            vec![c(&w.table)],
            vec![
                t(format!("foreign key {} of ", k.constraint)),
                c(&k.child),
                t(format!(
                    ": ON DELETE {}, ON UPDATE {}",
                    k.on_delete, k.on_update
                )),
            ],
            vec![b(if k.fires {
                "writes the child"
            } else {
                "does not fire"
            })],
        ]
    }));
    rows
}

/// Triggers and cascades on each written table, and the strongest lock per table.
pub(super) fn fires_and_locks(s: &StepReview) -> Vec<Block> {
    let mut out = Vec::new();
    if !s.written_tables.is_empty() {
        out.extend(fires(s));
    }
    if !s.locks.is_empty() {
        out.push(Block::Table {
            head: vec![
                "Table".into(),
                "Strongest lock".into(),
                "Taken at".into(),
                "Held".into(),
                "Blocks".into(),
            ],
            rows: s
                .locks
                .iter()
                .map(|l| {
                    vec![
                        vec![c(&l.table)],
                        vec![b(l.mode)],
                        vec![t(format!("line {}", l.line))],
                        with_code(&lock_duration(s, l)),
                        vec![t(l.blocks)],
                    ]
                })
                .collect(),
        });
    }
    out
}

fn fires(s: &StepReview) -> Vec<Block> {
    let mut rows = Vec::new();
    let mut unread = Vec::new();
    for w in &s.written_tables {
        match &w.catalog {
            None => unread.push(w.table.clone()),
            Some(cat) if cat.triggers.is_empty() && cat.cascades.is_empty() => {
                let what = if cat.exists {
                    "no user trigger, no cascading foreign key"
                } else {
                    "does not exist yet"
                };
                rows.push(vec![vec![c(&w.table)], vec![t(what)], vec![t("—")]]);
            }
            Some(cat) => rows.extend(trigger_rows(w, cat)),
        }
    }
    let mut out = Vec::new();
    let written: Vec<String> = s
        .written_tables
        .iter()
        .map(|w| format!("{} ({})", w.table, w.writes.join("/")))
        .collect();
    let mut l = vec![t("Writes rows of ")];
    l.extend(join_code(&written));
    l.push(t("."));
    out.push(Block::Para(l));
    if !rows.is_empty() {
        out.push(Block::Table {
            head: vec![
                "Written table".into(),
                "Sets off".into(),
                "For this step".into(),
            ],
            rows,
        });
    }
    if !unread.is_empty() {
        let mut l = vec![t("Triggers and cascades not read (no database): ")];
        l.extend(join_code(&unread));
        l.push(t(
            ". A trigger on a written table changes rows the effects must declare.",
        ));
        out.push(Block::Para(l));
    }
    out
}

fn lock_duration(
    s: &StepReview,
    l: &crate::core::lint::rules::sg132_lock_report::StepLock,
) -> String {
    let timeout = s.timeouts.as_ref().map(|x| x.statement.clone());
    let mut out = l.held.clone();
    if let Some(ms) = s
        .rehearsal
        .elapsed_ms
        .filter(|_| s.kind == StepKind::Transactional)
    {
        out.push_str(&format!(
            "; the whole step took {ms} ms in its last rehearsal"
        ));
    }
    if let Some(tmo) = timeout {
        out.push_str(&format!("; each statement at most {tmo}"));
    }
    out
}

/// The plan's sha256 and its statements, one line each.
pub(super) fn plan(s: &StepReview) -> Vec<Block> {
    let p = &s.plan;
    let Some(sha) = &p.sha256 else {
        return vec![Block::Note {
            tone: Tone::Danger,
            title: "No execution plan.".into(),
            body: vec![
                t(p.error.clone().unwrap_or_default()),
                t(". Nothing can be approved until the files parse."),
            ],
        }];
    };
    let mut out = vec![Block::Fields(vec![
        ("Plan sha256".into(), vec![c(sha)]),
        ("Around it".into(), vec![t(format!("{} read-only assertion(s) before, {} check(s) after, the pack's invariants, timeouts, gates and target", p.pre, p.post))]),
    ])];
    if p.statements.is_empty() {
        out.push(Block::Para(vec![t("No statement runs.")]));
        return out;
    }
    let text: String = p
        .statements
        .iter()
        .map(|st| {
            let writes = if st.writes.is_empty() {
                String::new()
            } else {
                format!("  -- writes {}", st.writes.join(", "))
            };
            format!("{:>3}. {}{}\n", st.n, st.sql, writes)
        })
        .collect();
    out.push(code_block(
        "sql",
        Some(vec![t(
            "in the order they run; the file below has them in full",
        )]),
        &text,
    ));
    out
}

fn file_block(f: &FileFacts) -> Block {
    match &f.text {
        Some(text) => Block::Code {
            lang: "sql",
            caption: Some(vec![
                c(&f.path),
                t(format!(" — {} lines — sha256 ", text.lines().count())),
                c(f.sha256.clone().unwrap_or_else(|| "-".into())),
            ]),
            text: text.clone(),
            numbered: true,
            flagged: f.flagged_lines.iter().copied().collect(),
            file: Some(f.path.clone()),
        },
        None => Block::Note {
            tone: Tone::Danger,
            title: format!("{} cannot be shown.", f.path),
            body: vec![t(format!(
                "{}. Do not approve a step whose file you have not read.",
                f.error.as_deref().unwrap_or("unreadable")
            ))],
        },
    }
}

pub(super) fn files(s: &StepReview) -> Vec<Block> {
    s.file
        .iter()
        .chain(s.rollback.iter())
        .map(file_block)
        .collect()
}

pub(super) fn gates(m: &ReviewModel, s: &StepReview) -> Vec<Block> {
    let mut out = Vec::new();
    if s.missing_one_way_gate {
        out.push(Block::Note {
            tone: Tone::Danger,
            title: "Apply will refuse this step.".into(),
            body: vec![
                t("It is a one-way door, and the pack declares no "),
                c("one_way"),
                t(" gate to authorize it."),
            ],
        });
    }
    if s.gates.is_empty() && s.kind != StepKind::Hold {
        out.push(Block::Note {
            tone: Tone::Warn,
            title: "No gates.".into(),
            body: vec![t(
                "Nothing but the runner's own checks stands before COMMIT.",
            )],
        });
    }
    if !m.database.connected {
        return out;
    }
    let rows: Vec<Vec<Line>> = s
        .gates
        .iter()
        .map(|g| {
            let mut name = vec![c(&g.name)];
            if g.added_for_one_way {
                name.push(t(" (added: one-way door)"));
            }
            vec![
                name,
                gate_state(g),
                vec![t(g
                    .live
                    .as_ref()
                    .map(|v| v.notes.join("; "))
                    .unwrap_or_default())],
            ]
        })
        .collect();
    if !rows.is_empty() {
        out.push(Block::Table {
            head: vec!["Gate".into(), "Now".into(), "Notes".into()],
            rows,
        });
    }
    out
}

fn gate_state(g: &StepGate) -> Line {
    match &g.live {
        None => vec![t("not evaluated")],
        Some(v) if v.kind == "unevaluated" => vec![t("not evaluated")],
        Some(v) if v.kind == "sql" && v.missing == 0 => {
            vec![b("satisfied"), t(format!(" ({})", v.present.join(", ")))]
        }
        Some(v) if v.kind == "sql" => vec![b("not satisfied: the query returned no row")],
        Some(v) if v.missing == 0 => {
            vec![b("satisfied"), t(format!(" by {}", v.present.join(", ")))]
        }
        Some(v) => {
            let mut l = vec![b(format!("{} more needed", v.missing))];
            if !v.present.is_empty() {
                l.push(t(format!("; signed by {}", v.present.join(", "))));
            }
            l
        }
    }
}

pub(super) fn safety(s: &StepReview) -> Vec<Block> {
    vec![checks(&s.safety)]
}

/// A numbered list of checks, their `backticked` names as code.
pub(super) fn checks(items: &[SafetyItem]) -> Block {
    Block::Steps(
        items
            .iter()
            .map(|i| {
                let mut l = vec![b(&i.title), t(" ")];
                l.extend(with_code(&i.text));
                l
            })
            .collect(),
    )
}

/// Plain text with `backticked` spans as code.
fn with_code(text: &str) -> Line {
    text.split('`')
        .enumerate()
        .filter(|(_, part)| !part.is_empty())
        .map(|(i, part)| if i % 2 == 1 { c(part) } else { t(part) })
        .collect()
}

pub(super) fn tests(s: &StepReview) -> Vec<Block> {
    let mut out = Vec::new();
    for n in &s.negatives {
        let mut cap = vec![
            t("negative test "),
            b(&n.name),
            t(" — must fail with SQLSTATE "),
            c(&n.sqlstate),
        ];
        if let Some(name) = &n.sqlstate_name {
            cap.push(t(format!(" ({name})")));
        }
        out.push(code_block("sql", Some(cap), &n.sql));
    }
    for x in &s.measures {
        out.push(code_block(
            "sql",
            Some(vec![
                t("measurement "),
                b(&x.name),
                t(", recorded with the run"),
            ]),
            &x.sql,
        ));
    }
    out
}

pub(super) fn rollback(s: &StepReview) -> Vec<Block> {
    if s.kind == StepKind::Hold {
        return vec![];
    }
    let mut out = Vec::new();
    if s.one_way {
        out.push(Block::Note {
            tone: Tone::Danger,
            title: "ONE-WAY DOOR: this step cannot be undone.".into(),
            body: vec![t(s
                .irreversible_reason
                .clone()
                .unwrap_or_else(|| "no reason given".into()))],
        });
    }
    let gates = match &s.rollback_gates {
        Some(g) if g.is_empty() => vec![t("none")],
        Some(g) => vec![t(g.join(", "))],
        None => vec![t("the step's own")],
    };
    let mut f = vec![("Rollback gates".to_string(), gates)];
    f.push((
        "Backup for restore".into(),
        if s.backup_tables.is_empty() {
            vec![t("no table to dump")]
        } else {
            join_code(&s.backup_tables)
        },
    ));
    out.push(Block::Fields(f));
    if s.rollback.is_some() {
        out.push(Block::Para(vec![
            t("After COMMIT the rollback file runs in its own transaction under its own approvals: "),
            c(format!("stepgate approve --action rollback --step {} --gate G --key ~/.ssh/id_ed25519 --principal YOU", shell_word(&s.id))),
            t("."),
        ]));
    }
    out
}

pub(super) fn lint(s: &StepReview) -> Vec<Block> {
    if s.lint.is_empty() {
        return vec![];
    }
    let errors = s.lint.iter().filter(|d| d.severity == "error").count();
    let mut out = Vec::new();
    if errors > 0 {
        out.push(Block::Note {
            tone: Tone::Danger,
            title: format!("{errors} lint error(s)."),
            body: vec![t(
                "The runner refuses to rehearse or apply a file with lint errors.",
            )],
        });
    }
    out.push(Block::Table {
        head: vec![
            "Code".into(),
            "Severity".into(),
            "File:line".into(),
            "Message".into(),
            "Source line".into(),
        ],
        rows: s
            .lint
            .iter()
            .map(|d| {
                let mut msg = vec![t(&d.message)];
                if let Some(h) = &d.help {
                    msg.push(t(format!(" — help: {h}")));
                }
                vec![
                    vec![c(&d.code)],
                    vec![t(&d.severity)],
                    vec![c(format!("{}:{}", d.file, d.line))],
                    msg,
                    vec![c(&d.source)],
                ]
            })
            .collect(),
    });
    out
}

pub(super) fn sign(s: &StepReview) -> Vec<Block> {
    if s.sign.is_empty() {
        return if s.kind == StepKind::Hold || s.gates.is_empty() {
            vec![Block::Para(vec![t(
                "This step has no signature gate: there is nothing to sign.",
            )])]
        } else {
            vec![]
        };
    }
    let mut out = Vec::new();
    let sid = shell_word(&s.id);
    for g in &s.sign {
        let gg = shell_word(&g.gate);
        out.push(code_block(
            "text",
            Some(vec![t(format!(
                "approval statement, action apply, gate {}",
                g.gate
            ))]),
            &g.statement,
        ));
        out.push(code_block(
            "sh",
            Some(vec![t(
                "sign it with stepgate, or with ssh-keygen (either writes the file stepgate reads)",
            )]),
            &sign_recipes(&s.id, &sid, &g.gate, &gg, &g.signers),
        ));
    }
    out
}

/// One `stepgate approve` line and one ssh-keygen recipe per signer of the gate (`YOU` when
/// the gate names none), from [`crate::engine::approve::ssh_keygen_recipe`].
fn sign_recipes(step: &str, sid: &str, gate: &str, gg: &str, signers: &[String]) -> String {
    let you = ["YOU".to_string()];
    let who = if signers.is_empty() {
        &you[..]
    } else {
        signers
    };
    let mut text = String::new();
    for p in who {
        let recipe = crate::engine::approve::ssh_keygen_recipe(
            step,
            gate,
            crate::core::approval::Action::Apply,
            p,
            "~/.ssh/id_ed25519",
        );
        text.push_str(&format!(
            "# {p}\nstepgate approve --step {sid} --gate {gg} --key ~/.ssh/id_ed25519 --principal {p}\n{}\n",
            recipe.command
        ));
    }
    text
}
