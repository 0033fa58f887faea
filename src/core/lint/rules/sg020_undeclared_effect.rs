//! SG020 undeclared-effect: a step file's static footprint does not match its declared
//! `[step.effects]` — a statement creates, alters, drops or writes rows of something
//! the step does not declare, or the step declares a create/drop no statement makes.
//!
//! Why: the seed plans state each step's delta up front ("exactly the new table + 1
//! evolution_snapshots row") and approvers sign that promise. The rehearsal measures
//! the delta and refuses anything else, but a mismatch the parser can see should not
//! wait for a database: an undeclared DROP or an unbounded UPDATE is caught here, in
//! review, before anyone runs anything. Row counts are not required to be statically
//! visible (triggers add rows — e.g. birth_registry +4 through a trigger), but every
//! table a statement writes must be declared with a nonzero count for that verb.
//!
//! Coverage: a CREATE needs `create` (CREATE OR REPLACE may sit in `create` or
//! `alter`); columns, constraints and indexes on a table the step itself creates, and
//! objects the CREATE owns (inline columns and constraints), are covered by the
//! table's entry; an ALTER needs `alter` unless the step creates the object (or its
//! table); a DROP needs `drop`; dropping and re-creating the same object (a trigger
//! re-wire) may be declared once in `alter`; dropping an object the step itself
//! creates needs no `drop` entry. INSERT/UPDATE/DELETE need `rows` for the table
//! (TRUNCATE is refused: PostgreSQL resets a truncated table's transaction row
//! counters, so its delta cannot be measured); an upsert or MERGE needs a nonzero count for at

//! least one of its verbs. Unnamed indexes and constraints cannot be
//! declared at all, so they are errors too.

use crate::core::lint::{Emitter, LintContext, Rule, Severity};
use crate::core::manifest::RowCounts;
use crate::core::objects::{ObjKind, ObjectRef, Verb};
use crate::core::sql::Statement;
use std::collections::{BTreeMap, BTreeSet};

pub struct UndeclaredEffect;

fn count(c: Option<&RowCounts>, v: Verb) -> i64 {
    let Some(c) = c else { return 0 };
    match v {
        Verb::Insert => c.insert,
        Verb::Update => c.update,
        Verb::Delete | Verb::Truncate => c.delete,
        _ => 0,
    }
}

fn verb_word(v: Verb) -> &'static str {
    match v {
        Verb::Insert => "inserts into",
        Verb::Update => "updates",
        Verb::Delete => "deletes from",
        Verb::Truncate => "truncates",
        Verb::Create => "creates",
        Verb::Alter => "alters",
        Verb::Drop => "drops",
    }
}

/// What the step's statements do, statically.
struct Footprint {
    created: BTreeSet<ObjectRef>,
    created_tables: BTreeSet<String>,
    dropped: BTreeSet<ObjectRef>,
}

fn footprint(body: &[Statement]) -> Footprint {
    let mut fp = Footprint {
        created: BTreeSet::new(),
        created_tables: BTreeSet::new(),
        dropped: BTreeSet::new(),
    };
    for st in body {
        for t in &st.touches {
            match t.verb {
                Verb::Create => {
                    if t.object.kind == ObjKind::Table {
                        fp.created_tables.insert(t.object.name.clone());
                    }
                    fp.created.insert(t.object.clone());
                    fp.created.extend(t.owned.iter().cloned());
                }
                Verb::Drop => {
                    fp.dropped.insert(t.object.clone());
                    // What goes with it: a dropped PRIMARY KEY / UNIQUE constraint's index.
                    fp.dropped.extend(t.owned.iter().cloned());
                }
                _ => {}
            }
        }
    }
    fp
}

/// A column, constraint or index on a table this step creates (covered by the table's entry).
fn on_created_table(obj: &ObjectRef, st: &Statement, fp: &Footprint) -> bool {
    match obj.kind {
        ObjKind::Column | ObjKind::Constraint => {
            obj.table().is_some_and(|t| fp.created_tables.contains(&t))
        }
        ObjKind::Index => st
            .references
            .iter()
            .any(|r| r.kind == ObjKind::Table && fp.created_tables.contains(&r.name)),
        _ => false,
    }
}

impl Rule for UndeclaredEffect {
    fn code(&self) -> &'static str {
        "SG020"
    }
    fn name(&self) -> &'static str {
        "undeclared-effect"
    }
    fn summary(&self) -> &'static str {
        "a statement creates, alters, drops or writes rows of something [step.effects] does not declare"
    }
    fn explanation(&self) -> &'static str {
        "Each step declares its delta in [step.effects]: `create`, `alter` and `drop` lists of objects (`table public.t`, `column public.t.c`, `function public.f(text)`, …) and `rows = { \"public.t\" = { insert = 1 } }`. Every object a statement creates, alters or drops must be listed (members and indexes of a table the step creates are covered by the table; CREATE OR REPLACE may be listed under create or alter; a drop-and-recreate may be listed once under alter), every table it writes needs a nonzero row count for that verb (TRUNCATE is refused: PostgreSQL resets the row counters of a truncated table, so use DELETE), and every declared create/drop must be made by some statement. Name every index and constraint so it can be declared. The rehearsal then checks the measured delta against the same declaration, including rows added by triggers."
    }
    fn default_severity(&self) -> Severity {
        Severity::Error
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for (i, step, f) in ctx.step_files() {
            let Some(eff) = ctx.pack.effects.get(i) else {
                continue;
            };
            let (body, _) = f.sql.split_at_terminal();
            let fp = footprint(body);
            let sid = step.id();
            let mut reported: BTreeSet<(Verb, ObjectRef)> = BTreeSet::new();
            for st in body {
                let mut dml: BTreeMap<String, Vec<Verb>> = BTreeMap::new();
                for t in &st.touches {
                    let obj = &t.object;
                    if t.verb == Verb::Truncate {
                        out.stmt(
                            f,
                            st,
                            format!("TRUNCATE of {} cannot be measured: PostgreSQL resets the transaction's row counters for a truncated table, so the delta would show nothing", obj.name),
                            Some("use DELETE (with a WHERE) so the measured delta can be checked against [step.effects]".into()),
                        );
                        continue;
                    }
                    if t.verb.is_dml() {
                        dml.entry(obj.name.clone()).or_default().push(t.verb);
                        continue;
                    }

                    if obj.name.contains("<unnamed") {
                        if reported.insert((t.verb, obj.clone())) {
                            out.stmt(
                                f,
                                st,
                                format!("this {} has no name, so [step.effects] cannot declare it", obj.kind),
                                Some(format!("name the {} so effects can declare it (PostgreSQL would invent a name)", obj.kind)),
                            );
                        }
                        continue;
                    }
                    let (covered, list) = match t.verb {
                        Verb::Create => (
                            eff.create.contains(obj)
                                || (t.or_replace && eff.alter.contains(obj))
                                || (fp.dropped.contains(obj) && eff.alter.contains(obj))
                                || on_created_table(obj, st, &fp),
                            "create",
                        ),
                        Verb::Alter => (
                            eff.alter.contains(obj)
                                || eff.create.contains(obj)
                                || fp.created.contains(obj)
                                || obj.table().is_some_and(|t| fp.created_tables.contains(&t)),
                            "alter",
                        ),
                        _ => (eff.drop.contains(obj) || fp.created.contains(obj), "drop"),
                    };
                    if !covered && reported.insert((t.verb, obj.clone())) {
                        out.stmt(
                            f,
                            st,
                            format!("{} `{obj}`, which step `{sid}` does not declare in [step.effects] {list}", verb_word(t.verb)),
                            Some(format!("declare it: [step.effects] {list} = [\"{obj}\"]")),
                        );
                    }
                }
                for (table, verbs) in dml {
                    let rows = eff.rows.get(&table);
                    if verbs.iter().any(|v| count(rows, *v) > 0) {
                        continue;
                    }
                    let key = ObjectRef::new(ObjKind::Table, table.clone());
                    if !reported.insert((verbs[0], key)) {
                        continue;
                    }
                    let words: Vec<&str> = verbs.iter().map(|v| verb_word(*v)).collect();
                    let field = match verbs[0] {
                        Verb::Insert => "insert",
                        Verb::Update => "update",
                        _ => "delete",
                    };
                    out.stmt(
                        f,
                        st,
                        format!("{} table {table}, but step `{sid}` declares no {field} count for it in [step.effects] rows", words.join(" / ")),
                        Some(format!("declare the expected rows: rows = {{ \"{table}\" = {{ {field} = N }} }}")),
                    );
                }
            }
            if body.iter().any(|s| s.opaque) {
                continue; // dynamic SQL may make the declared changes; the rehearsal checks them
            }
            for (list, entries, made) in [
                ("create", &step.effects.create, Verb::Create),
                ("drop", &step.effects.drop, Verb::Drop),
            ] {
                for e in entries {
                    let Ok(obj) = ObjectRef::parse(e.get_ref()) else {
                        continue;
                    };
                    let done = match made {
                        Verb::Create => fp.created.contains(&obj),
                        _ => {
                            fp.dropped.contains(&obj)
                                || obj.table().is_some_and(|t| {
                                    fp.dropped.contains(&ObjectRef::new(ObjKind::Table, t))
                                })
                        }
                    };
                    if !done {
                        out.manifest(
                            ctx,
                            e.span(),
                            format!("step `{sid}` declares {list} `{obj}`, but no statement in {} {}s it", f.rel, list),
                            Some(format!("remove it from [step.effects] {list}, or add the statement; a stale declaration hides what the step really does")),
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(effects: &str, body: &str) -> Vec<crate::core::lint::Diagnostic> {
        of(
            "SG020",
            &lint_step("", &format!("[step.effects]\n{effects}"), body, "SELECT 1;"),
        )
    }

    #[test]
    fn fires_on_undeclared_ddl_and_rows() {
        let d = run("create = [\"table public.t\"]", "CREATE TABLE t (id int);\nCREATE TABLE u (id int);\nALTER TABLE a ADD COLUMN c int;\nDROP VIEW v;\nINSERT INTO t VALUES (1);");
        assert_eq!(d.len(), 4, "{d:?}");
        assert!(
            d.iter()
                .any(|x| x.message.contains("creates `table public.u`") && x.line == 13),
            "{d:?}"
        );
        assert!(
            d.iter()
                .any(|x| x.message.contains("creates `column public.a.c`")),
            "{d:?}"
        );
        assert!(
            d.iter()
                .any(|x| x.message.contains("drops `view public.v`")),
            "{d:?}"
        );
        assert!(
            d.iter()
                .any(|x| x.message.contains("inserts into table public.t")),
            "{d:?}"
        );
    }

    #[test]
    fn fires_on_stale_declaration_and_unnamed_index() {
        let d = run(
            "create = [\"table public.t\", \"table public.gone\"]\ndrop = [\"table public.old\"]",
            "CREATE TABLE t (id int);\nCREATE INDEX ON t (id);",
        );
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(
            d.iter()
                .any(|x| x.file == "stepgate.toml" && x.message.contains("table public.gone")),
            "{d:?}"
        );
        assert!(
            d.iter()
                .any(|x| x.file == "stepgate.toml" && x.message.contains("table public.old")),
            "{d:?}"
        );
        assert!(
            d.iter()
                .any(|x| x.help.as_deref().unwrap_or("").contains("name the index")),
            "{d:?}"
        );
    }

    #[test]
    fn constraint_owns_its_index() {
        // Dropping a UNIQUE / PRIMARY KEY constraint takes its index: declaring the index
        // drop as well is not stale.
        let d = run(
            "drop = [\"constraint public.t.t_key\", \"index public.t_key\"]",
            "ALTER TABLE t DROP CONSTRAINT t_key;",
        );
        assert!(d.is_empty(), "{d:?}");
        // Nor is it required: the constraint's entry covers it (the rehearsal agrees).
        let d = run(
            "drop = [\"constraint public.t.t_key\"]",
            "ALTER TABLE t DROP CONSTRAINT t_key;",
        );
        assert!(d.is_empty(), "{d:?}");
        // An index no statement can take is still a stale declaration.
        let d = run(
            "drop = [\"constraint public.t.t_key\", \"index public.other\"]",
            "ALTER TABLE t DROP CONSTRAINT t_key;",
        );
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].message.contains("index public.other"), "{d:?}");
        // Adding one with USING INDEX: the constraint is declared, the adopted index
        // (renamed to the constraint's name) comes with it.
        let d = run(
            "create = [\"constraint public.t.t_x_key\", \"index public.t_x_key\"]",
            "ALTER TABLE t ADD CONSTRAINT t_x_key UNIQUE USING INDEX t_x_idx;",
        );
        assert!(d.is_empty(), "{d:?}");
        let d = run(
            "create = [\"constraint public.t.t_x_key\"]",
            "ALTER TABLE t ADD CONSTRAINT t_x_key UNIQUE USING INDEX t_x_idx;",
        );
        assert!(d.is_empty(), "{d:?}");
        // A serial column owns its sequence.
        let d = run(
            "create = [\"column public.t.n\", \"sequence public.t_n_seq\"]",
            "ALTER TABLE t ADD COLUMN n bigserial;",
        );
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn quiet_when_declared() {
        let effects = "create = [\"table public.t\", \"function public.f(text)\"]\nalter = [\"trigger public.a.trg\"]\ndrop = [\"column public.a.old\"]\nrows = { \"public.t\" = { insert = 2 }, \"public.a\" = { update = 1 }, \"public.b\" = { insert = 1 } }";
        let body = "CREATE TABLE t (id int PRIMARY KEY, c text CONSTRAINT c_ck CHECK (c <> ''));\nCREATE INDEX t_c ON t (c);\nALTER TABLE t ADD COLUMN d int;\nALTER TABLE t ALTER COLUMN c SET NOT NULL;\nCREATE OR REPLACE FUNCTION f(x text) RETURNS int LANGUAGE sql AS 'select 1';\nDROP TRIGGER trg ON a;\nCREATE TRIGGER trg AFTER INSERT ON a FOR EACH ROW EXECUTE FUNCTION g();\nALTER TABLE a DROP COLUMN old;\nINSERT INTO t VALUES (1), (2);\nUPDATE a SET x = 1 WHERE id = 1;\nINSERT INTO b VALUES (1) ON CONFLICT (id) DO UPDATE SET x = 2;";
        let d = run(effects, body);
        assert!(d.is_empty(), "{d:?}");
    }
}
