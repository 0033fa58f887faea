//! Static checks of a pack, ruff/Squawk style: one rule per file under `rules/`,
//! each with a stable code (`SG001`…), a doc comment saying what it catches and why,
//! and fixture tests that show it firing and not firing.
//!
//! The linter is pure: the engine reads the files and hands their text over in a
//! [`PackSources`]; rules see parsed files in a [`LintContext`].

pub mod builtin_functions;
pub mod hazard;
pub mod locks;
pub mod output;
pub mod rules;
#[cfg(test)]
pub mod testing;

use crate::core::error::line_col;
use crate::core::manifest::{Pack, Step};
use crate::core::sql::{self, SqlFile};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Reported for information only (a rule that is off unless asked for).
    Info,
    Warning,
    Error,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One finding, located in a file.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    pub code: &'static str,
    pub rule: &'static str,
    pub severity: Severity,
    /// Path relative to the pack folder (or the manifest name).
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Byte offset and length of the span.
    pub offset: usize,
    pub length: usize,
    pub message: String,
    pub help: Option<String>,
    /// Bad input (unparsable SQL, missing or non-UTF-8 file): lint exits 2.
    pub bad_input: bool,
}

/// A rule. Implementations live one per file in `rules/`.
pub trait Rule: Sync {
    fn code(&self) -> &'static str;
    fn name(&self) -> &'static str;
    /// One line: what it catches.
    fn summary(&self) -> &'static str;
    /// Why it matters and what to do instead (shown by `stepgate rules --explain CODE`).
    fn explanation(&self) -> &'static str;
    fn default_severity(&self) -> Severity;
    /// Info rules run only when asked for (`stepgate lint --info`, or the pack's
    /// severity table names them); every other rule runs unless turned off.
    fn runs_by_default(&self) -> bool {
        self.default_severity() != Severity::Info
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter);
}

/// Which file of the pack a parsed SQL file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    Step(usize),
    Rollback(usize),
    Preflight,
    Verify,
}

/// The pack's text, as read from disk by the engine.
#[derive(Debug, Clone, Default)]
pub struct PackSources {
    /// Relative path → contents (`Err` = could not be read / not UTF-8, with the reason).
    pub files: BTreeMap<String, Result<String, String>>,
    /// Every `.sql` file found under the pack folder (relative paths), for stray-file checks.
    pub sql_on_disk: Vec<String>,
    /// Contents of `stepgate.lock` if present.
    pub lock: Option<String>,
    /// sha256 of every file, relative path → hex (for the lock check).
    pub sha256: BTreeMap<String, String>,
}

/// A parsed pack file.
pub struct ParsedFile {
    pub role: FileRole,
    pub rel: String,
    pub sql: SqlFile,
}

pub struct LintContext<'a> {
    pub pack: &'a Pack,
    pub sources: &'a PackSources,
    pub files: Vec<ParsedFile>,
    /// Files that are named but missing / unreadable / unparsable: (role, rel path, reason).
    pub broken: Vec<(FileRole, String, BrokenFile)>,
    /// The target server's major version (None: unknown, judged as the newest).
    pub server_major: Option<u32>,
}

#[derive(Debug, Clone)]
pub enum BrokenFile {
    Missing(String),
    Unparsable(crate::core::error::SourceError),
}

impl<'a> LintContext<'a> {
    pub fn new(pack: &'a Pack, sources: &'a PackSources) -> Self {
        let mut files = Vec::new();
        let mut broken = Vec::new();
        let mut named: Vec<(FileRole, String)> = Vec::new();
        if let Some(p) = &pack.manifest.pack.preflight {
            named.push((FileRole::Preflight, p.get_ref().clone()));
        }
        if let Some(p) = &pack.manifest.pack.verify {
            named.push((FileRole::Verify, p.get_ref().clone()));
        }
        for (i, s) in pack.manifest.step.iter().enumerate() {
            if let Some(f) = &s.file {
                named.push((FileRole::Step(i), f.get_ref().clone()));
            }
            if let Some(f) = &s.rollback {
                named.push((FileRole::Rollback(i), f.get_ref().clone()));
            }
        }
        for (role, rel) in named {
            match sources.files.get(&rel) {
                None => broken.push((role, rel.clone(), BrokenFile::Missing("not read".into()))),
                Some(Err(e)) => broken.push((role, rel.clone(), BrokenFile::Missing(e.clone()))),
                Some(Ok(src)) => match sql::parse_file(&rel, src) {
                    Ok(sql) => files.push(ParsedFile { role, rel, sql }),
                    Err(e) => broken.push((role, rel, BrokenFile::Unparsable(e))),
                },
            }
        }
        LintContext {
            pack,
            sources,
            files,
            broken,
            server_major: pack.manifest.pack.target.server_major(),
        }
    }

    pub fn step_file(&self, i: usize) -> Option<&ParsedFile> {
        self.files.iter().find(|f| f.role == FileRole::Step(i))
    }

    pub fn rollback_file(&self, i: usize) -> Option<&ParsedFile> {
        self.files.iter().find(|f| f.role == FileRole::Rollback(i))
    }

    pub fn step_files(&self) -> impl Iterator<Item = (usize, &Step, &ParsedFile)> {
        self.pack
            .manifest
            .step
            .iter()
            .enumerate()
            .filter_map(move |(i, s)| self.step_file(i).map(|f| (i, s, f)))
    }

    /// True when the target server is older than PostgreSQL `major` (unknown: newest, so
    /// never older).
    pub fn server_before(&self, major: u32) -> bool {
        self.server_major.is_some_and(|v| v < major)
    }

    /// True for a step or rollback file of a transactional step that the plain profile
    /// lets the runner frame: the pack's `[pack.lint] profile` is `"plain"` and the file
    /// has no BEGIN. The structural rules of the sections profile (SG010, SG012, SG015)
    /// leave such a file to SG025.
    pub fn is_plain_file(&self, f: &ParsedFile) -> bool {
        let i = match f.role {
            FileRole::Step(i) | FileRole::Rollback(i) => i,
            _ => return false,
        };
        self.pack.lint_profile == crate::core::manifest::LintProfile::Plain
            && self
                .pack
                .manifest
                .step
                .get(i)
                .is_some_and(|s| s.transactional)
            && !f
                .sql
                .statements
                .iter()
                .any(|s| s.class == sql::StmtClass::Begin)
    }

    /// The manifest's own text (for diagnostics located in stepgate.toml).
    pub fn manifest_src(&self) -> &str {
        &self.pack.manifest_src
    }
}

/// Collects diagnostics for one rule, filling in code, rule name and severity.
pub struct Emitter {
    code: &'static str,
    rule: &'static str,
    severity: Severity,
    pub diagnostics: Vec<Diagnostic>,
}

impl Emitter {
    pub fn new(rule: &dyn Rule, severity: Severity) -> Self {
        Emitter {
            code: rule.code(),
            rule: rule.name(),
            severity,
            diagnostics: Vec::new(),
        }
    }

    /// A finding at byte `offset` (length `len`) of file `rel` whose text is `src`.
    pub fn at(
        &mut self,
        rel: &str,
        src: &str,
        offset: usize,
        len: usize,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let (line, column) = line_col(src, offset);
        self.diagnostics.push(Diagnostic {
            code: self.code,
            rule: self.rule,
            severity: self.severity,
            file: rel.to_string(),
            line,
            column,
            offset,
            length: len.max(1),
            message: message.into(),
            help,
            bad_input: false,
        });
    }

    /// A finding at a statement.
    pub fn stmt(
        &mut self,
        f: &ParsedFile,
        st: &sql::Statement,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.at(&f.rel, &f.sql.src, st.start, st.head_len(), message, help);
    }

    /// A finding in stepgate.toml at a span (0..0 = first line).
    pub fn manifest(
        &mut self,
        ctx: &LintContext,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let len = span.end.saturating_sub(span.start);
        self.at(
            crate::core::manifest::MANIFEST_FILE,
            ctx.manifest_src(),
            span.start,
            len,
            message,
            help,
        );
    }

    /// Marks the last diagnostic as bad input.
    pub fn bad_input(&mut self) {
        if let Some(d) = self.diagnostics.last_mut() {
            d.bad_input = true;
        }
    }
}

/// What a lint run is asked for beyond the pack itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Also run the info rules (the per-step lock report).
    pub info: bool,
    /// The server's major version, read from a live database: overrides the manifest's
    /// `[pack.target] server_version`.
    pub server_major: Option<u32>,
}

/// Runs every rule, applying the pack's severity overrides. Sorted by file, line, code.
pub fn run(pack: &Pack, sources: &PackSources) -> Vec<Diagnostic> {
    run_with(pack, sources, Options::default())
}

/// [`run`] with [`Options`].
pub fn run_with(pack: &Pack, sources: &PackSources, opts: Options) -> Vec<Diagnostic> {
    let mut ctx = LintContext::new(pack, sources);
    ctx.server_major = opts
        .server_major
        .or(pack.manifest.pack.target.server_major());
    let mut all = Vec::new();
    for rule in rules::all() {
        // The section discipline is a profile a pack opts into.
        if rule.code() == "SG010"
            && pack.lint_profile != crate::core::manifest::LintProfile::Sections
        {
            continue;
        }
        let asked = pack
            .manifest
            .pack
            .lint
            .severity
            .get(rule.code())
            .map(|s| s.get_ref().as_str());
        let sev = match asked {
            Some("off") => continue,
            Some("error") => Severity::Error,
            Some("warning") => Severity::Warning,
            _ if !rule.runs_by_default() && !opts.info => continue,
            _ => rule.default_severity(),
        };
        let mut em = Emitter::new(*rule, sev);
        rule.check(&ctx, &mut em);
        // Bad input is never a warning, whatever the pack's severity table says.
        for d in &mut em.diagnostics {
            if d.bad_input {
                d.severity = Severity::Error;
            }
        }
        all.extend(em.diagnostics);
    }
    all.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.code).cmp(&(&b.file, b.line, b.column, b.code))
    });
    all
}

/// Lint exit code: 2 on bad input, 1 on errors, 0 otherwise.
pub fn exit_code(diags: &[Diagnostic]) -> i32 {
    use crate::core::error::exit;
    if diags.iter().any(|d| d.bad_input) {
        exit::BAD_INPUT
    } else if diags.iter().any(|d| d.severity == Severity::Error) {
        exit::FAILED
    } else {
        exit::OK
    }
}

/// Tables created anywhere in the pack (by any step's CREATE TABLE): a lock-safety rule
/// treats these as new, so ALTERs on them are harmless.
pub fn tables_created_in_pack(ctx: &LintContext) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for f in &ctx.files {
        if !matches!(f.role, FileRole::Step(_)) {
            continue;
        }
        for st in &f.sql.statements {
            for t in &st.touches {
                if t.verb == crate::core::objects::Verb::Create
                    && t.object.kind == crate::core::objects::ObjKind::Table
                {
                    out.insert(t.object.name.clone());
                }
            }
        }
    }
    out
}

/// `schema.table` of a relation as written in a statement (`public` when unqualified).
pub fn rel_name(rv: &pg_query::protobuf::RangeVar) -> String {
    let schema = if rv.schemaname.is_empty() {
        "public"
    } else {
        &rv.schemaname
    };
    format!("{schema}.{}", rv.relname)
}

/// One command of an `ALTER TABLE` in a step file, on a relation that exists before the
/// pack (not created by any of its steps): the lock-safety rules' unit of work.
pub struct AlterCmd<'a> {
    pub step: &'a Step,
    pub file: &'a ParsedFile,
    pub stmt: &'a sql::Statement,
    /// `schema.table` (see [`rel_name`]).
    pub table: String,
    /// What the statement alters: `ALTER TABLE`, `ALTER FOREIGN TABLE`, `ALTER INDEX`, …
    pub objtype: i32,
    pub cmd: &'a pg_query::protobuf::AlterTableCmd,
}

impl<'a> AlterCmd<'a> {
    /// The definition (`def`) of the command when it is of kind `subtype`.
    fn def_if(
        &self,
        subtype: pg_query::protobuf::AlterTableType,
    ) -> Option<&'a pg_query::NodeEnum> {
        if self.cmd.subtype != subtype as i32 {
            return None;
        }
        self.cmd.def.as_ref().and_then(|d| d.node.as_ref())
    }

    /// The column an `ADD COLUMN` adds (None for any other command).
    pub fn added_column(&self) -> Option<&'a pg_query::protobuf::ColumnDef> {
        match self.def_if(pg_query::protobuf::AlterTableType::AtAddColumn)? {
            pg_query::NodeEnum::ColumnDef(cd) => Some(cd),
            _ => None,
        }
    }

    /// The constraint an `ADD CONSTRAINT` adds (None for any other command).
    pub fn added_constraint(&self) -> Option<&'a pg_query::protobuf::Constraint> {
        match self.def_if(pg_query::protobuf::AlterTableType::AtAddConstraint)? {
            pg_query::NodeEnum::Constraint(k) => Some(k),
            _ => None,
        }
    }
}

/// The constraints written inline in a column definition (`NOT NULL`, `DEFAULT`, `REFERENCES`…).
pub fn column_constraints(
    cd: &pg_query::protobuf::ColumnDef,
) -> impl Iterator<Item = &pg_query::protobuf::Constraint> {
    cd.constraints.iter().filter_map(|k| match k.node.as_ref() {
        Some(pg_query::NodeEnum::Constraint(k)) => Some(k.as_ref()),
        _ => None,
    })
}

/// Every `ALTER TABLE`-family command (any object type) on a relation the pack did not
/// create (see [`tables_created_in_pack`]), in step files only, in manifest, statement
/// and command order. Most rules want [`alters_on_existing_tables`].
pub fn alters_on_existing_relations<'a>(ctx: &'a LintContext) -> Vec<AlterCmd<'a>> {
    use pg_query::NodeEnum;
    let created = tables_created_in_pack(ctx);
    let mut out = Vec::new();
    for (_, step, file) in ctx.step_files() {
        for stmt in &file.sql.statements {
            let Some(NodeEnum::AlterTableStmt(a)) = &stmt.node else {
                continue;
            };
            let Some(rv) = &a.relation else { continue };
            let table = rel_name(rv);
            if created.contains(&table) {
                continue;
            }
            for c in &a.cmds {
                if let Some(NodeEnum::AlterTableCmd(cmd)) = c.node.as_ref() {
                    out.push(AlterCmd {
                        step,
                        file,
                        stmt,
                        table: table.clone(),
                        objtype: a.objtype,
                        cmd,
                    });
                }
            }
        }
    }
    out
}

/// [`alters_on_existing_relations`] restricted to `ALTER TABLE` proper (object type table).
pub fn alters_on_existing_tables<'a>(ctx: &'a LintContext) -> Vec<AlterCmd<'a>> {
    let table = pg_query::protobuf::ObjectType::ObjectTable as i32;
    let mut all = alters_on_existing_relations(ctx);
    all.retain(|a| a.objtype == table);
    all
}
