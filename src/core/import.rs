//! `stepgate import`: turns a Flyway folder, a Sqitch project or a folder of numbered
//! SQL files into a pack. Pure: the engine reads the source folder and hands the files
//! over; this module orders the migrations, pairs them with their undo/revert/down and
//! verify scripts, declares each step's effects from the static analysis of
//! [`crate::core::sql`], and says what it could not infer.

use crate::core::objects::{ObjKind, ObjectRef, Verb};
use crate::core::sql::{self, SqlFile, StmtClass};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Where the migrations come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Flyway,
    Sqitch,
    Dir,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Flyway => "flyway",
            Format::Sqitch => "sqitch",
            Format::Dir => "dir",
        }
    }
}

/// One migration found in the source, before analysis.
#[derive(Debug, Clone)]
pub struct Migration {
    pub id: String,
    pub name: String,
    /// Path relative to the source folder, and its text.
    pub source: (String, String),
    pub down: Option<(String, String)>,
    pub verify: Option<(String, String)>,
    pub requires: Vec<String>,
    /// Comment lines written after the step in the manifest (e.g. a Sqitch tag).
    pub after: Vec<String>,
}

/// What a source folder holds, in order.
#[derive(Debug, Clone, Default)]
pub struct Discovered {
    pub migrations: Vec<Migration>,
    /// Files or plan entries not imported, with why (shown in the report).
    pub skipped: Vec<Skipped>,
    /// Notes about the source (tags, conflicts) for the review list.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub file: String,
    pub why: String,
}

/// One thing the user should look at before trusting the imported pack.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewItem {
    pub step: Option<String>,
    /// Pack-relative file and 1-based line, when the item is about a statement.
    pub file: Option<String>,
    pub line: Option<usize>,
    pub what: String,
}

impl std::fmt::Display for ReviewItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.file, self.line, &self.step) {
            (Some(file), Some(line), _) => write!(f, "{file}:{line}: {}", self.what),
            (Some(file), None, _) => write!(f, "{file}: {}", self.what),
            (None, _, Some(step)) => write!(f, "step {step}: {}", self.what),
            _ => f.write_str(&self.what),
        }
    }
}

/// A step as imported.
#[derive(Debug, Clone, Serialize)]
pub struct ImportedStep {
    pub id: String,
    pub name: String,
    pub source: String,
    pub file: String,
    pub rollback: Option<String>,
    pub transactional: bool,
    pub requires: Vec<String>,
    pub create: Vec<String>,
    pub alter: Vec<String>,
    pub drop: Vec<String>,
    pub rows: BTreeMap<String, BTreeMap<String, i64>>,
    /// Effects the analysis could not establish (opaque statements, unknown row counts).
    pub todo: Vec<String>,
}

/// The pack to write: its files (pack-relative path → text) and what to review.
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    pub format: Format,
    pub steps: Vec<ImportedStep>,
    #[serde(skip)]
    pub files: Vec<(String, String)>,
    pub skipped: Vec<Skipped>,
    pub review: Vec<ReviewItem>,
}

/// Options for the manifest the import writes.
pub struct Target<'a> {
    pub pack_id: &'a str,
    pub title: &'a str,
    pub database: Option<&'a str>,
    pub environment: Option<&'a str>,
}

// ---------------------------------------------------------------------------
// Discovery

/// A step id from free text: `[A-Za-z0-9_-]+`, other characters become `_`.
pub fn step_id(raw: &str) -> String {
    let s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "step".into()
    } else {
        s
    }
}

fn base_name(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

fn numeric_version(v: &str) -> Option<Vec<u64>> {
    v.split(['.', '_'])
        .map(|p| p.parse::<u64>().ok())
        .collect::<Option<Vec<_>>>()
        .filter(|p| !p.is_empty())
}

fn cmp_versions(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    let n = a.len().max(b.len());
    for i in 0..n {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        if x != y {
            return x.cmp(&y);
        }
    }
    std::cmp::Ordering::Equal
}

/// Flyway: `V<version>__<description>.sql` (versions `1`, `1.1`, `1_1`, ordered
/// numerically), `U<version>__….sql` undo files as rollbacks, `R__….sql` repeatables
/// listed as not imported. `files` are (path relative to the folder, text).
pub fn discover_flyway(files: &[(String, String)]) -> Result<Discovered, String> {
    let mut d = Discovered::default();
    let mut versioned: Vec<(Vec<u64>, String, String, String, String)> = Vec::new();
    let mut undo: BTreeMap<Vec<u64>, (String, String)> = BTreeMap::new();
    for (rel, text) in files {
        let name = base_name(rel);
        let Some(stem) = name.strip_suffix(".sql") else {
            continue;
        };
        let prefix = stem.chars().next().unwrap_or(' ');
        if stem.starts_with("R__") {
            d.skipped.push(Skipped {
                file: rel.clone(),
                why: "Flyway repeatable migration: re-run whenever it changes, which has no place in a pack of steps; turn it into a step by hand if it must run".into(),
            });
            continue;
        }
        let parsed = stem
            .get(1..)
            .and_then(|r| r.split_once("__"))
            .and_then(|(v, desc)| numeric_version(v).map(|n| (v.to_string(), n, desc.to_string())));
        match (prefix, parsed) {
            ('V', Some((v, n, desc))) => {
                if let Some(other) = versioned.iter().find(|x| cmp_versions(&x.0, &n).is_eq()) {
                    return Err(format!(
                        "{rel}: version {v} is also the version of {}",
                        other.3
                    ));
                }
                versioned.push((n, v, desc, rel.clone(), text.clone()));
            }
            ('U', Some((_, n, _))) => {
                undo.insert(n, (rel.clone(), text.clone()));
            }
            _ => d.skipped.push(Skipped {
                file: rel.clone(),
                why: "not a Flyway versioned (V…__), undo (U…__) or repeatable (R__) migration"
                    .into(),
            }),
        }
    }
    versioned.sort_by(|a, b| cmp_versions(&a.0, &b.0));
    let mut prev: Option<String> = None;
    for (n, v, desc, rel, text) in versioned {
        let id = step_id(&format!("v{}", v.replace('.', "_")));
        let down = undo
            .iter()
            .find(|(k, _)| cmp_versions(k, &n).is_eq())
            .map(|(_, f)| f.clone());
        d.migrations.push(Migration {
            id: id.clone(),
            name: desc.replace('_', " "),
            source: (rel, text),
            down,
            verify: None,
            requires: prev.iter().cloned().collect(),
            after: vec![],
        });
        prev = Some(id);
    }
    for (k, (rel, _)) in &undo {
        if !d
            .migrations
            .iter()
            .any(|m| m.down.as_ref().is_some_and(|(r, _)| r == rel))
        {
            let v: Vec<String> = k.iter().map(u64::to_string).collect();
            d.skipped.push(Skipped {
                file: rel.clone(),
                why: format!("undo file for version {}, which has no V file", v.join(".")),
            });
        }
    }
    Ok(d)
}

/// A folder of numbered files: `001_name.sql` or `001_name.up.sql`, with optional
/// `001_name.down.sql`, ordered by the number.
pub fn discover_dir(files: &[(String, String)]) -> Result<Discovered, String> {
    let mut d = Discovered::default();
    let mut ups: Vec<(u64, String, String, String, String)> = Vec::new();
    let mut downs: BTreeMap<u64, (String, String)> = BTreeMap::new();
    for (rel, text) in files {
        if rel.contains('/') {
            d.skipped.push(Skipped {
                file: rel.clone(),
                why: "in a subfolder; `import dir` reads the folder's own files".into(),
            });
            continue;
        }
        let Some(stem) = rel.strip_suffix(".sql") else {
            continue;
        };
        let digits: String = stem.chars().take_while(char::is_ascii_digit).collect();
        let Ok(n) = digits.parse::<u64>() else {
            d.skipped.push(Skipped {
                file: rel.clone(),
                why: "its name does not start with a number".into(),
            });
            continue;
        };
        let rest = stem[digits.len()..].trim_start_matches(['_', '-', '.']);
        if let Some(name) = rest.strip_suffix(".down") {
            if name.is_empty() && rest.is_empty() {
                continue;
            }
            if let Some((prev, _)) = downs.insert(n, (rel.clone(), text.clone())) {
                return Err(format!(
                    "{rel}: number {digits} has a second down file, {prev}"
                ));
            }
            continue;
        }
        let name = rest.strip_suffix(".up").unwrap_or(rest);
        if let Some(other) = ups.iter().find(|x| x.0 == n) {
            return Err(format!(
                "{rel}: number {digits} is also the number of {}",
                other.3
            ));
        }
        ups.push((
            n,
            digits.clone(),
            name.to_string(),
            rel.clone(),
            text.clone(),
        ));
    }
    ups.sort_by_key(|x| x.0);
    let mut prev: Option<String> = None;
    for (n, digits, name, rel, text) in ups {
        let id = step_id(&digits);
        d.migrations.push(Migration {
            id: id.clone(),
            name: if name.is_empty() {
                rel.clone()
            } else {
                name.replace(['_', '-'], " ")
            },
            source: (rel, text),
            down: downs.remove(&n),
            verify: None,
            requires: prev.iter().cloned().collect(),
            after: vec![],
        });
        prev = Some(id);
    }
    for (_, (rel, _)) in downs {
        d.skipped.push(Skipped {
            file: rel,
            why: "down file without an up file of the same number".into(),
        });
    }
    Ok(d)
}

/// Sqitch: `sqitch.plan` (`%project`, change lines `name [deps] time planner # note`,
/// `@tag` lines) with `deploy/`, `revert/` and `verify/` scripts. Deps become
/// `requires`, revert the rollback, verify the step's post-commit checks. A reworked
/// change (the same name planned again) reads its earlier scripts from
/// `deploy/name@TAG.sql`, TAG being the first tag after the earlier entry.
pub fn discover_sqitch(plan: &str, files: &BTreeMap<String, String>) -> Result<Discovered, String> {
    let mut d = Discovered::default();
    struct Entry {
        line: usize,
        name: String,
        deps: Vec<String>,
        note: String,
        tag_after: Option<String>,
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mut tags: Vec<(usize, String)> = Vec::new(); // (index of the entry it follows, tag)
    for (i, raw) in plan.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('%') {
            continue;
        }
        if let Some(tag) = line.strip_prefix('@') {
            let tag = tag.split_whitespace().next().unwrap_or("").to_string();
            if entries.is_empty() {
                return Err(format!(
                    "sqitch.plan:{}: tag @{tag} before any change",
                    i + 1
                ));
            }
            tags.push((entries.len() - 1, tag.clone()));
            continue;
        }
        let (head, note) = match line.split_once(" # ") {
            Some((h, n)) => (h, n.trim().to_string()),
            None => (line.split(" #").next().unwrap_or(line), String::new()),
        };
        let mut name = head.split_whitespace().next().unwrap_or("").to_string();
        if let Some(n) = name.strip_prefix('+') {
            name = n.to_string();
        }
        if name.starts_with('-') {
            return Err(format!(
                "sqitch.plan:{}: `{name}` is a revert entry; import a plan that only deploys",
                i + 1
            ));
        }
        let deps = match (head.find('['), head.find(']')) {
            (Some(a), Some(b)) if a < b => head[a + 1..b]
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            (Some(_), _) => {
                return Err(format!("sqitch.plan:{}: `[` without a closing `]`", i + 1))
            }
            _ => vec![],
        };
        if name.is_empty() {
            return Err(format!(
                "sqitch.plan:{}: a change line without a name",
                i + 1
            ));
        }
        entries.push(Entry {
            line: i + 1,
            name,
            deps,
            note,
            tag_after: None,
        });
    }
    if entries.is_empty() {
        return Err("sqitch.plan plans no change".into());
    }
    // The first tag after each entry (for reworked changes' file names).
    for (idx, e) in entries.iter_mut().enumerate() {
        e.tag_after = tags
            .iter()
            .find(|(at, _)| *at >= idx)
            .map(|(_, t)| t.clone());
    }
    let mut latest_id: BTreeMap<String, String> = BTreeMap::new();
    let mut used: BTreeSet<String> = BTreeSet::new();
    for (idx, e) in entries.iter().enumerate() {
        let reworked_later = entries[idx + 1..].iter().any(|x| x.name == e.name);
        let stem = match (&e.tag_after, reworked_later) {
            (Some(t), true) => format!("{}@{t}", e.name),
            (None, true) => {
                return Err(format!(
                    "sqitch.plan:{}: `{}` is planned again later, but no tag follows this entry to name its scripts",
                    e.line, e.name
                ))
            }
            _ => e.name.clone(),
        };
        let get = |dir: &str| {
            let rel = format!("{dir}/{stem}.sql");
            files.get(&rel).map(|t| (rel, t.clone()))
        };
        let mut id = step_id(&e.name);
        let mut k = 2;
        while used.contains(&id) {
            id = step_id(&format!("{}_{k}", e.name));
            k += 1;
        }
        used.insert(id.clone());
        let mut requires = Vec::new();
        for dep in &e.deps {
            if let Some(c) = dep.strip_prefix('!') {
                d.notes.push(format!(
                    "sqitch.plan:{}: `{}` conflicts with `{c}`; stepgate has no conflicts: check by hand that they never both stand",
                    e.line, e.name
                ));
                continue;
            }
            if dep.contains(':') {
                d.notes.push(format!(
                    "sqitch.plan:{}: `{}` requires `{dep}` from another project; stepgate cannot check it: make it a preflight check",
                    e.line, e.name
                ));
                continue;
            }
            let dep_name = dep.split('@').next().unwrap_or(dep);
            match latest_id.get(dep_name) {
                Some(r) => {
                    if !requires.contains(r) {
                        requires.push(r.clone())
                    }
                }
                None => {
                    return Err(format!(
                        "sqitch.plan:{}: `{}` requires `{dep}`, which is not planned before it",
                        e.line, e.name
                    ))
                }
            }
        }
        let Some(source) = get("deploy") else {
            return Err(format!(
                "sqitch.plan:{}: change `{}` has no deploy/{stem}.sql",
                e.line, e.name
            ));
        };
        // A reworked change requires its earlier version.
        if let Some(prev) = latest_id.get(&e.name) {
            if !requires.contains(prev) {
                requires.push(prev.clone());
            }
        }
        let after = tags
            .iter()
            .filter(|(at, _)| *at == idx)
            .map(|(_, t)| format!("# sqitch tag @{t}"))
            .collect();
        d.migrations.push(Migration {
            id: id.clone(),
            name: if e.note.is_empty() {
                e.name.clone()
            } else {
                e.note.clone()
            },
            source,
            down: get("revert"),
            verify: get("verify"),
            requires,
            after,
        });
        latest_id.insert(e.name.clone(), id);
    }
    Ok(d)
}

// ---------------------------------------------------------------------------
// Building the pack

const TIMEOUTS: [(&str, &str, &str); 3] = [
    ("statement", "statement_timeout", "5s"),
    ("lock", "lock_timeout", "3s"),
    (
        "idle_in_transaction",
        "idle_in_transaction_session_timeout",
        "15s",
    ),
];

fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_list(items: &[String]) -> String {
    let v: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", v.join(", "))
}

/// The file's text with its transaction control (BEGIN, COMMIT, …) replaced by a
/// comment: the runner supplies the transaction. Returns the text and what was removed.
fn strip_transaction_control(f: &SqlFile) -> (String, Vec<(usize, String)>) {
    let src = &f.src;
    let mut out = String::with_capacity(src.len());
    let mut removed = Vec::new();
    let mut pos = 0;
    for st in f.statements.iter().filter(|s| s.is_transaction_control()) {
        if st.start < pos {
            continue;
        }
        let mut end = st.end;
        let rest = &src[end..];
        let ws = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        if rest[ws..].starts_with(';') {
            end += ws + 1;
        }
        let first: String = st.text.split_whitespace().collect::<Vec<_>>().join(" ");
        out.push_str(&src[pos..st.start]);
        out.push_str(&format!(
            "-- stepgate import: removed `{first};` (stepgate runs the file in its own transaction)"
        ));
        removed.push((st.line, first));
        pos = end;
    }
    out.push_str(&src[pos..]);
    (out, removed)
}

/// Rows an `INSERT … VALUES (…), (…)` adds, when the statement says so statically.
fn insert_row_count(st: &sql::Statement) -> Option<i64> {
    let Some(pg_query::NodeEnum::InsertStmt(ins)) = &st.node else {
        return None;
    };
    if ins.on_conflict_clause.is_some() {
        return None;
    }
    let sel = ins.select_stmt.as_ref()?.node.as_ref()?;
    match sel {
        pg_query::NodeEnum::SelectStmt(s) if !s.values_lists.is_empty() => {
            Some(s.values_lists.len() as i64)
        }
        _ => None,
    }
}

struct Analysis {
    create: BTreeSet<String>,
    alter: BTreeSet<String>,
    drop: BTreeSet<String>,
    rows: BTreeMap<String, BTreeMap<String, i64>>,
    transactional: bool,
    todo: Vec<(usize, String)>,
}

fn analyse(f: &SqlFile) -> Analysis {
    let body: Vec<&sql::Statement> = f
        .statements
        .iter()
        .filter(|s| !s.is_transaction_control())
        .collect();
    let mut created: BTreeSet<ObjectRef> = BTreeSet::new();
    let mut created_tables: BTreeSet<String> = BTreeSet::new();
    let mut dropped: BTreeSet<ObjectRef> = BTreeSet::new();
    for st in &body {
        for t in &st.touches {
            match t.verb {
                Verb::Create => {
                    if t.object.kind == ObjKind::Table {
                        created_tables.insert(t.object.name.clone());
                    }
                    created.insert(t.object.clone());
                }
                Verb::Drop => {
                    dropped.insert(t.object.clone());
                }
                _ => {}
            }
        }
    }
    let on_created_table = |o: &ObjectRef, st: &sql::Statement| match o.kind {
        ObjKind::Column | ObjKind::Constraint => {
            o.table().is_some_and(|t| created_tables.contains(&t))
        }
        ObjKind::Index => st
            .references
            .iter()
            .any(|r| r.kind == ObjKind::Table && created_tables.contains(&r.name)),
        _ => false,
    };
    let mut a = Analysis {
        create: BTreeSet::new(),
        alter: BTreeSet::new(),
        drop: BTreeSet::new(),
        rows: BTreeMap::new(),
        transactional: true,
        todo: vec![],
    };
    let mut nontx = false;
    let mut writes_beside = false;
    for st in &body {
        match &st.class {
            StmtClass::NonTransactional { .. } => nontx = true,
            StmtClass::ReadOnly | StmtClass::SetLocal { .. } | StmtClass::SetSession { .. } => {}
            _ => writes_beside = true,
        }
        if st.opaque {
            a.todo.push((
                st.line,
                "its effects cannot be read statically (dynamic SQL, CALL or an unanalysed statement): rehearse the step and declare what the measured delta shows".into(),
            ));
        }
        let mut dml: BTreeMap<String, BTreeSet<Verb>> = BTreeMap::new();
        for t in &st.touches {
            let o = &t.object;
            let key = o.to_string();
            if o.name.contains("<unnamed") {
                a.todo.push((
                    st.line,
                    format!(
                        "this {} has no name, so it cannot be declared: name it",
                        o.kind
                    ),
                ));
                continue;
            }
            match t.verb {
                Verb::Create => {
                    if dropped.contains(o) {
                        a.alter.insert(key);
                    } else if !on_created_table(o, st) {
                        a.create.insert(key);
                    }
                }
                Verb::Alter => {
                    let covered = created.contains(o)
                        || o.table().is_some_and(|t| created_tables.contains(&t));
                    if !covered {
                        a.alter.insert(key);
                    }
                }
                Verb::Drop => {
                    if created.contains(o) {
                        a.alter.insert(key);
                    } else {
                        a.drop.insert(key);
                    }
                }
                Verb::Truncate => a.todo.push((
                    st.line,
                    format!("TRUNCATE of {} cannot be measured: use DELETE", o.name),
                )),
                v => {
                    dml.entry(o.name.clone()).or_default().insert(v);
                }
            }
        }
        for (table, verbs) in dml {
            let entry = a.rows.entry(table.clone()).or_default();
            for v in verbs {
                let word = match v {
                    Verb::Insert => "insert",
                    Verb::Update => "update",
                    _ => "delete",
                };
                let known = if v == Verb::Insert && st.touches.len() == 1 {
                    insert_row_count(st)
                } else {
                    None
                };
                match known {
                    Some(n) => *entry.entry(word.into()).or_insert(0) += n,
                    None => {
                        *entry.entry(word.into()).or_insert(0) += 1;
                        a.todo.push((
                            st.line,
                            format!("{word} on {table}: the row count cannot be known statically; it is declared as 1 — rehearse and set the measured count"),
                        ));
                    }
                }
            }
        }
    }
    // An object dropped and re-created is declared once under alter.
    a.drop.retain(|d| !a.alter.contains(d));
    a.create.retain(|c| !a.alter.contains(c));
    if nontx {
        a.transactional = false;
        if writes_beside {
            a.todo.push((
                1,
                "CONCURRENTLY (or another statement that cannot run in a transaction) sits beside other writes: split it into its own step".into(),
            ));
        }
    }
    a
}

/// The effects `stepgate import` would declare for `f`, as [`ResolvedEffects`], with the
/// notes it would leave as TODOs (line, text). This is the static prediction of a step's
/// delta: the differential test (`tests/differential.rs`) checks it against rehearsals.
pub fn predicted_effects(
    f: &SqlFile,
) -> (crate::core::manifest::ResolvedEffects, Vec<(usize, String)>) {
    let a = analyse(f);
    let refs = |set: &BTreeSet<String>| -> BTreeSet<ObjectRef> {
        set.iter()
            .filter_map(|s| ObjectRef::parse(s).ok())
            .collect()
    };
    let mut out = crate::core::manifest::ResolvedEffects {
        create: refs(&a.create),
        alter: refs(&a.alter),
        drop: refs(&a.drop),
        rows: BTreeMap::new(),
    };
    for (table, verbs) in &a.rows {
        let mut c = crate::core::manifest::RowCounts::default();
        for (verb, n) in verbs {
            match verb.as_str() {
                "insert" => c.insert = *n,
                "update" => c.update = *n,
                _ => c.delete = *n,
            }
        }
        out.rows.insert(table.clone(), c);
    }
    (out, a.todo)
}

/// Builds the pack from discovered migrations.
pub fn build(d: &Discovered, format: Format, target: &Target<'_>) -> Imported {
    let mut steps = Vec::new();
    let mut files: Vec<(String, String)> = Vec::new();
    let mut review: Vec<ReviewItem> = Vec::new();
    let mut manifest = String::new();
    let fmt = format.name();
    manifest.push_str(&format!(
        "# Imported by `stepgate import {fmt}`. Lines marked `TODO review` are what the import\n# could not infer: read them, fix the pack, then `stepgate lint` and `stepgate rehearse`.\n"
    ));
    manifest.push_str("[pack]\n");
    manifest.push_str(&format!("id = {}\n", toml_str(target.pack_id)));
    manifest.push_str(&format!("title = {}\n", toml_str(target.title)));
    manifest.push_str("allowed_signers = \"allowed_signers\" # OpenSSH allowed-signers copy of the target's signer registry\n\n");
    manifest.push_str("[pack.target]\n");
    match target.database {
        Some(db) => manifest.push_str(&format!("database = {}\n", toml_str(db))),
        None => {
            manifest.push_str(
                "database = \"postgres\" # TODO review: the database these migrations are for\n",
            );
            review.push(ReviewItem {
                step: None,
                file: Some("stepgate.toml".into()),
                line: None,
                what: "[pack.target] database is a placeholder (\"postgres\"): set the real database name (or import with --database)".into(),
            });
        }
    }
    match target.environment {
        Some(env) => manifest.push_str(&format!("environment = {}\n", toml_str(env))),
        None => manifest.push_str("# environment = \"staging\"   # the label given to `stepgate ledger install --environment`\n"),
    }
    manifest.push_str("\n[pack.timeouts] # the runner sets these on every transaction it opens\n");
    for (k, _, v) in TIMEOUTS {
        manifest.push_str(&format!("{k} = \"{v}\"\n"));
    }
    manifest.push_str("\n[pack.lint]\nprofile = \"plain\" # step files are plain SQL; stepgate supplies the transaction\n\n");
    manifest.push_str("[gate.owner] # TODO review: the people who approve these steps\nkind = \"signature\"\nsigners = [\"owner@example.org\"]\nquorum = 1\n\n");
    manifest.push_str(
        "[gate.resume] # lifts a halt\nkind = \"signature\"\nsigners = [\"owner@example.org\"]\n",
    );
    review.push(ReviewItem {
        step: None,
        file: Some("stepgate.toml".into()),
        line: None,
        what: "[gate.owner] and [gate.resume] name a placeholder signer (owner@example.org): put your approvers there and in allowed_signers".into(),
    });

    for m in &d.migrations {
        let base = base_name(&m.source.0).to_string();
        let step_rel = format!("steps/{base}");
        let parsed = match sql::parse_file(&m.source.0, &m.source.1) {
            Ok(p) => p,
            Err(e) => {
                // Copy it as it is: lint will show the parse error with its line.
                review.push(ReviewItem {
                    step: Some(m.id.clone()),
                    file: Some(step_rel.clone()),
                    line: None,
                    what: format!("does not parse: {}", e.message),
                });
                files.push((step_rel.clone(), m.source.1.clone()));
                steps.push(ImportedStep {
                    id: m.id.clone(),
                    name: m.name.clone(),
                    source: m.source.0.clone(),
                    file: step_rel,
                    rollback: None,
                    transactional: true,
                    requires: m.requires.clone(),
                    create: vec![],
                    alter: vec![],
                    drop: vec![],
                    rows: BTreeMap::new(),
                    todo: vec!["the file does not parse".into()],
                });
                continue;
            }
        };
        let a = analyse(&parsed);
        let header = format!("-- imported from {fmt}: {}\n", m.source.0);
        let (body, removed) = strip_transaction_control(&parsed);
        // Line numbers in the pack file are shifted by the header line(s).
        let mut step_text = format!("{header}{body}");
        if !step_text.ends_with('\n') {
            step_text.push('\n');
        }
        let mut verify_note = None;
        if let Some((vrel, vtext)) = &m.verify {
            match sql::parse_file(vrel, vtext) {
                Ok(vf) if a.transactional => {
                    let checks: Vec<&sql::Statement> = vf
                        .statements
                        .iter()
                        .filter(|s| !s.is_transaction_control())
                        .collect();
                    if checks.iter().all(|s| s.is_read_only()) && !checks.is_empty() {
                        // Frame the step so the verify script becomes its post-commit checks.
                        let mut framed = format!("{header}BEGIN;\n");
                        for (_, guc, v) in TIMEOUTS {
                            framed.push_str(&format!("SET LOCAL {guc} = '{v}';\n"));
                        }
                        framed.push_str(body.trim_end());
                        framed.push_str(&format!(
                            "\n-- The runner commits here, behind every gate; rehearse rolls back.\nROLLBACK;\n-- post-commit verification, from {vrel}\n"
                        ));
                        for c in checks {
                            framed.push_str(c.text.trim());
                            framed.push_str(";\n");
                        }
                        step_text = framed;
                    } else {
                        verify_note = Some(format!("{vrel} is not read-only checks only; it was not imported: turn it into [[step.measure]] or invariants by hand"));
                    }
                }
                Ok(_) => {
                    verify_note = Some(format!("{vrel} was not imported: a non-transactional step has no post-commit section; run it as `stepgate verify` checks by hand"));
                }
                Err(e) => {
                    verify_note = Some(format!(
                        "{vrel} does not parse ({}); it was not imported",
                        e.message
                    ));
                }
            }
        }
        if let Some(n) = verify_note {
            review.push(ReviewItem {
                step: Some(m.id.clone()),
                file: None,
                line: None,
                what: n,
            });
        }
        let header_lines = 1;
        if !removed.is_empty() {
            let list: Vec<String> = removed.iter().map(|(_, w)| format!("`{w}`")).collect();
            review.push(ReviewItem {
                step: Some(m.id.clone()),
                file: Some(step_rel.clone()),
                line: None,
                what: format!(
                    "removed {} from the file: stepgate runs each step in its own transaction",
                    list.join(", ")
                ),
            });
        }
        files.push((step_rel.clone(), step_text));

        let mut rollback_rel = None;
        if let Some((drel, dtext)) = &m.down {
            let rel = format!("rollback/{}", base_name(drel));
            let text = match sql::parse_file(drel, dtext) {
                Ok(df) => {
                    let (b, _) = strip_transaction_control(&df);
                    format!("-- imported from {fmt}: {drel}\n{b}")
                }
                Err(_) => dtext.clone(),
            };
            files.push((rel.clone(), text));
            rollback_rel = Some(rel);
        }

        let mut todo_lines: Vec<String> = Vec::new();
        for (line, what) in &a.todo {
            let line = line + header_lines;
            todo_lines.push(format!("{step_rel}:{line}: {what}"));
            review.push(ReviewItem {
                step: Some(m.id.clone()),
                file: Some(step_rel.clone()),
                line: Some(line),
                what: what.clone(),
            });
        }

        manifest.push_str("\n[[step]]\n");
        manifest.push_str(&format!("id = {}\n", toml_str(&m.id)));
        manifest.push_str(&format!("name = {}\n", toml_str(&m.name)));
        manifest.push_str(&format!("file = {}\n", toml_str(&step_rel)));
        match &rollback_rel {
            Some(r) => manifest.push_str(&format!("rollback = {}\n", toml_str(r))),
            None => {
                let down_kind = match format {
                    Format::Flyway => "U (undo) file",
                    Format::Sqitch => "revert script",
                    Format::Dir => "down file",
                };
                manifest.push_str(&format!(
                    "one_way = true # TODO review: no {down_kind} was found; write a rollback file, or keep one_way\nirreversible_reason = {}\n",
                    toml_str(&format!("imported from {fmt} without a {down_kind}"))
                ));
                review.push(ReviewItem {
                    step: Some(m.id.clone()),
                    file: None,
                    line: None,
                    what: format!("has no {down_kind}: it is marked one_way; write rollback/{base} and name it as `rollback` if it can be undone"),
                });
            }
        }
        if !m.requires.is_empty() {
            manifest.push_str(&format!("requires = {}\n", toml_list(&m.requires)));
        }
        manifest.push_str("gates = [\"owner\"]\n");
        if !a.transactional {
            manifest.push_str("transactional = false # holds CREATE INDEX CONCURRENTLY (or similar): runs outside a transaction\n");
            review.push(ReviewItem {
                step: Some(m.id.clone()),
                file: None,
                line: None,
                what: "runs outside a transaction (transactional = false): it cannot be rehearsed inside BEGIN..ROLLBACK; try it with `stepgate scratch`".into(),
            });
        }
        manifest.push_str("\n[step.effects]\n");
        for t in &todo_lines {
            manifest.push_str(&format!("# TODO review: {t}\n"));
        }
        let create: Vec<String> = a.create.iter().cloned().collect();
        let alter: Vec<String> = a.alter.iter().cloned().collect();
        let drop: Vec<String> = a.drop.iter().cloned().collect();
        for (k, v) in [("create", &create), ("alter", &alter), ("drop", &drop)] {
            if !v.is_empty() {
                manifest.push_str(&format!("{k} = {}\n", toml_list(v)));
            }
        }
        if !a.rows.is_empty() {
            let entries: Vec<String> = a
                .rows
                .iter()
                .map(|(t, c)| {
                    let counts: Vec<String> = c.iter().map(|(k, n)| format!("{k} = {n}")).collect();
                    format!("{} = {{ {} }}", toml_str(t), counts.join(", "))
                })
                .collect();
            manifest.push_str(&format!("rows = {{ {} }}\n", entries.join(", ")));
        }
        for line in &m.after {
            manifest.push_str(line);
            manifest.push('\n');
        }
        steps.push(ImportedStep {
            id: m.id.clone(),
            name: m.name.clone(),
            source: m.source.0.clone(),
            file: step_rel,
            rollback: rollback_rel,
            transactional: a.transactional,
            requires: m.requires.clone(),
            create,
            alter,
            drop,
            rows: a.rows.clone(),
            todo: todo_lines,
        });
    }
    for n in &d.notes {
        review.push(ReviewItem {
            step: None,
            file: None,
            line: None,
            what: n.clone(),
        });
    }
    for s in &d.skipped {
        review.push(ReviewItem {
            step: None,
            file: Some(s.file.clone()),
            line: None,
            what: format!("not imported: {}", s.why),
        });
    }
    files.insert(0, ("stepgate.toml".into(), manifest));
    files.push((
        "allowed_signers".into(),
        "# OpenSSH allowed-signers: <principal> <key-type> <base64-key> [comment]\n# It must agree with the target's signer registry (`stepgate signers list`).\n".into(),
    ));
    files.push((".gitignore".into(), GITIGNORE.into()));
    Imported {
        format,
        steps,
        files,
        skipped: d.skipped.clone(),
        review,
    }
}

/// What a pack keeps out of git: local evidence and run state, if any ends up there.
pub const GITIGNORE: &str =
    "# stepgate: local run state and evidence (table dumps hold production data)\n.stepgate/\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn flyway_orders_versions_numerically_and_pairs_undo() {
        let d = discover_flyway(&files(&[
            ("V1.10__c.sql", "SELECT 1;"),
            ("V1.2__b.sql", "SELECT 1;"),
            ("V1__a.sql", "SELECT 1;"),
            ("U1.2__b.sql", "SELECT 1;"),
            ("R__views.sql", "SELECT 1;"),
        ]))
        .unwrap();
        let ids: Vec<&str> = d.migrations.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["v1", "v1_2", "v1_10"]);
        assert_eq!(
            d.migrations[1].down.as_ref().map(|x| x.0.as_str()),
            Some("U1.2__b.sql")
        );
        assert!(d.migrations[0].down.is_none());
        assert_eq!(d.migrations[2].requires, ["v1_2"]);
        assert_eq!(d.skipped.len(), 1);
        assert_eq!(d.skipped[0].file, "R__views.sql");
        assert!(
            discover_flyway(&files(&[("V1__a.sql", ""), ("V1.0__b.sql", "")]))
                .unwrap_err()
                .contains("V1.0__b.sql")
        );
    }

    #[test]
    fn sqitch_plan_with_deps_tags_and_rework() {
        let plan = "%syntax-version=1.0.0\n%project=flipr\n\nappschema 2013-12-30T23:19:28Z M <m@x> # Add schema\nusers [appschema] 2013-12-31T00:10:30Z M <m@x> # Users table\n@v1.0 2014-01-01T00:00:00Z M <m@x> # Tag\nusers [users@v1.0] 2014-01-02T00:00:00Z M <m@x> # Rework\n";
        let mut f = BTreeMap::new();
        for p in [
            "deploy/appschema.sql",
            "deploy/users@v1.0.sql",
            "deploy/users.sql",
            "revert/users.sql",
        ] {
            f.insert(p.to_string(), "SELECT 1;".to_string());
        }
        let d = discover_sqitch(plan, &f).unwrap();
        let ids: Vec<&str> = d.migrations.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["appschema", "users", "users_2"]);
        assert_eq!(d.migrations[1].source.0, "deploy/users@v1.0.sql");
        assert_eq!(d.migrations[1].requires, ["appschema"]);
        assert_eq!(d.migrations[1].after, ["# sqitch tag @v1.0"]);
        assert_eq!(d.migrations[2].requires, ["users"]);
        assert_eq!(
            d.migrations[2].down.as_ref().map(|x| x.0.as_str()),
            Some("revert/users.sql")
        );
        let bad = discover_sqitch("x [nope] 2014-01-01T00:00:00Z M <m@x>\n", &f).unwrap_err();
        assert!(
            bad.contains("sqitch.plan:1") && bad.contains("nope"),
            "{bad}"
        );
    }

    #[test]
    fn effects_transaction_control_and_todos() {
        let d = discover_dir(&files(&[
            ("001_t.up.sql", "BEGIN;\nCREATE TABLE public.t (id int PRIMARY KEY, x int);\nINSERT INTO public.t VALUES (1, 1), (2, 2);\nCOMMIT;\n"),
            ("001_t.down.sql", "DROP TABLE public.t;\n"),
            ("002_idx.sql", "CREATE INDEX CONCURRENTLY t_x ON public.t (x);\n"),
            ("003_fill.sql", "UPDATE public.t SET x = id WHERE x IS NULL;\nDO $$ BEGIN EXECUTE format('SELECT %s', 1); END $$;\n"),
        ]))
        .unwrap();
        let t = Target {
            pack_id: "p",
            title: "p",
            database: Some("db"),
            environment: None,
        };
        let im = build(&d, Format::Dir, &t);
        assert_eq!(im.steps.len(), 3);
        assert_eq!(im.steps[0].create, ["table public.t"]);
        assert_eq!(im.steps[0].rows["public.t"]["insert"], 2);
        assert!(!im.steps[1].transactional);
        assert!(
            im.steps[2]
                .todo
                .iter()
                .any(|x| x.contains("steps/003_fill.sql:2") && x.contains("update")),
            "{:?}",
            im.steps[2].todo
        );
        assert!(
            im.steps[2]
                .todo
                .iter()
                .any(|x| x.contains("steps/003_fill.sql:3")),
            "{:?}",
            im.steps[2].todo
        );
        let manifest = &im.files[0].1;
        assert!(
            manifest.contains("# TODO review: steps/003_fill.sql:3"),
            "{manifest}"
        );
        assert!(
            !manifest.lines().any(|l| l.starts_with("environment")),
            "{manifest}"
        );
        let step1 = &im
            .files
            .iter()
            .find(|f| f.0 == "steps/001_t.up.sql")
            .unwrap()
            .1;
        assert!(
            !step1.contains("\nBEGIN;") && step1.contains("removed `BEGIN;`"),
            "{step1}"
        );
        crate::core::manifest::parse("stepgate.toml", manifest, std::path::Path::new("."))
            .expect("the imported manifest loads");
    }
}
