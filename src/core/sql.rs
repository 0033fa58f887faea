//! SQL analysis with the real PostgreSQL parser (libpg_query via the `pg_query` crate).
//!
//! A step file is split into statements with exact byte spans and 1-based lines,
//! each statement is classified (transaction control, `SET LOCAL`, read-only,
//! DDL, DML, cannot-run-in-a-transaction) and its static footprint is extracted:
//! every object it creates, alters, drops or writes, named in the grammar of
//! [`crate::core::objects`], plus the objects it references (FK parents, view
//! bases, trigger functions) for dependency checks. `DO` blocks are looked into
//! through the PL/pgSQL parser so a guard that only reads is known to be read-only
//! and a block that writes is known to write.

use crate::core::error::SourceError;
use crate::core::objects::{normalize_args, ObjKind, ObjectRef, Verb};
use pg_query::protobuf::{self, a_const, ObjectType};
use pg_query::NodeEnum;
use serde::Serialize;

/// One object a statement touches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Touch {
    pub verb: Verb,
    pub object: ObjectRef,
    /// For UPDATE/DELETE: whether a WHERE clause limits the rows.
    pub has_where: bool,
    /// `CREATE OR REPLACE`: may create or alter.
    pub or_replace: bool,
    /// Objects that come and go with this one. For a create: what the new object owns
    /// (a table's columns, constraints, their indexes and owned sequences; a constraint's
    /// index, built or adopted with `USING INDEX`; a serial column's sequence). For a
    /// drop: what may go with it (a dropped constraint's index).
    pub owned: Vec<ObjectRef>,
}

/// What kind of statement this is, as far as transaction shape goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum StmtClass {
    Begin,
    Commit,
    Rollback,
    /// SAVEPOINT, RELEASE, ROLLBACK TO, PREPARE TRANSACTION, ...
    OtherTransactionControl {
        what: String,
    },
    /// `SET LOCAL name = value` (or `SET TRANSACTION`).
    SetLocal {
        name: String,
        value: String,
    },
    /// Session-level `SET name = value` / `RESET`.
    SetSession {
        name: String,
        value: String,
    },
    /// SELECT (no INTO, no locking clause), SHOW, EXPLAIN without ANALYZE, a DO block that only reads.
    ReadOnly,
    /// Cannot run inside a transaction block (CONCURRENTLY, VACUUM, ...).
    NonTransactional {
        what: String,
    },
    /// Everything else that changes the database: DDL, DML, DO blocks that write.
    Write,
}

#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    /// 0-based index in the file.
    pub index: usize,
    /// Byte offset of the statement's first token.
    pub start: usize,
    /// Byte offset one past the statement (excluding the semicolon).
    pub end: usize,
    /// 1-based line of `start`.
    pub line: usize,
    pub text: String,
    /// The `-- SECTION X` the statement sits in, if any.
    pub section: Option<char>,
    pub class: StmtClass,
    pub touches: Vec<Touch>,
    /// Objects referenced but not changed: FK parents, view bases, trigger functions.
    pub references: Vec<ObjectRef>,
    /// The parse tree (for lint rules that look deeper).
    #[serde(skip)]
    pub node: Option<NodeEnum>,
    /// True for `DO` blocks (their inner statements are folded into `touches`).
    pub is_do: bool,
    /// True when the footprint could not be fully known (dynamic SQL in a DO block, CALL).
    pub opaque: bool,
}

impl Statement {
    pub fn is_transaction_control(&self) -> bool {
        matches!(
            self.class,
            StmtClass::Begin
                | StmtClass::Commit
                | StmtClass::Rollback
                | StmtClass::OtherTransactionControl { .. }
        )
    }
    pub fn is_read_only(&self) -> bool {
        matches!(self.class, StmtClass::ReadOnly)
    }
    /// Length of the span for diagnostics (first line of the statement).
    pub fn head_len(&self) -> usize {
        self.text.find('\n').unwrap_or(self.text.len()).max(1)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SectionMark {
    pub letter: char,
    pub start: usize,
    pub line: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comment {
    pub start: usize,
    pub end: usize,
    pub line: usize,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetaCommand {
    pub start: usize,
    pub line: usize,
    pub text: String,
}

/// A parsed SQL file.
#[derive(Debug, Clone, Serialize)]
pub struct SqlFile {
    pub path: String,
    #[serde(skip)]
    pub src: String,
    pub statements: Vec<Statement>,
    pub sections: Vec<SectionMark>,
    pub comments: Vec<Comment>,
    pub meta_commands: Vec<MetaCommand>,
}

impl SqlFile {
    pub fn section_of(&self, pos: usize) -> Option<char> {
        self.sections
            .iter()
            .take_while(|s| s.start <= pos)
            .last()
            .map(|s| s.letter)
    }

    /// Statements up to and including the first terminal ROLLBACK/COMMIT (the step proper),
    /// and the ones after it (section H's post-commit checks).
    pub fn split_at_terminal(&self) -> (&[Statement], &[Statement]) {
        let cut = self
            .statements
            .iter()
            .position(|s| matches!(s.class, StmtClass::Rollback | StmtClass::Commit))
            .map(|i| i + 1)
            .unwrap_or(self.statements.len());
        self.statements.split_at(cut)
    }

    pub fn error_at(&self, pos: usize, len: usize, msg: impl Into<String>) -> SourceError {
        SourceError::new(&self.path, &self.src, msg).span(pos, len.max(1))
    }
}

/// Parses `src` (the contents of `path`). psql meta-commands are recorded and blanked
/// so the rest of the file still parses; a syntax error is a `SourceError` with the
/// parser's own message at the failing statement.
pub fn parse_file(path: &str, src: &str) -> Result<SqlFile, SourceError> {
    if src.contains('\0') {
        let pos = src.find('\0').unwrap_or(0);
        return Err(SourceError::new(path, src, "the file contains a NUL byte").span(pos, 1));
    }
    // psql meta-commands: a line whose first non-blank character is a backslash.
    let mut meta_commands = Vec::new();
    let mut cleaned = String::with_capacity(src.len());
    let mut offset = 0;
    for (i, line) in src.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('\\') {
            let lead = line.len() - trimmed.len();
            meta_commands.push(MetaCommand {
                start: offset + lead,
                line: i + 1,
                text: trimmed.trim_end().to_string(),
            });
            // Byte for byte, so every offset in `cleaned` is the same offset in `src`
            // (a multi-byte character becomes as many spaces as it has bytes).
            cleaned.extend(line.bytes().map(|b| if b == b'\n' { '\n' } else { ' ' }));
        } else {
            cleaned.push_str(line);
        }
        offset += line.len();
    }

    // Line of a byte offset, by binary search over the line starts (line_col per
    // statement would be quadratic in the file size).
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(src.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let line_of = |pos: usize| line_starts.partition_point(|&start| start <= pos);
    let tokens = match pg_query::scan(&cleaned) {
        Ok(scan) => scan.tokens,
        Err(e) => return Err(locate_scan_error(path, src, &cleaned, &e)),
    };
    let mut comments = Vec::new();
    let mut sections = Vec::new();
    for t in &tokens {
        if t.token == protobuf::Token::SqlComment as i32
            || t.token == protobuf::Token::CComment as i32
        {
            let (s, e) = (t.start as usize, t.end as usize);
            let text = cleaned.get(s..e).unwrap_or("").to_string();
            let line = line_of(s);
            if let Some(letter) = section_letter(&text) {
                sections.push(SectionMark {
                    letter,
                    start: s,
                    line,
                });
            }
            comments.push(Comment {
                start: s,
                end: e,
                line,
                text,
            });
        }
    }
    // Start of each statement's first real token.
    let token_starts: Vec<usize> = tokens
        .iter()
        .filter(|t| {
            t.token != protobuf::Token::SqlComment as i32
                && t.token != protobuf::Token::CComment as i32
        })
        .map(|t| t.start as usize)
        .collect();

    let raws = match raw_statements(&cleaned) {
        Ok(r) => r,
        Err(e) => return Err(locate_parse_error(path, src, &cleaned, &e)),
    };

    let mut statements = Vec::new();
    for (index, raw) in raws.into_iter().enumerate() {
        let (loc, end) = (raw.loc, raw.end);
        let start = token_starts
            .iter()
            .copied()
            .find(|&s| s >= loc && s < end)
            .unwrap_or(loc);
        let text = cleaned.get(start..end).unwrap_or("").trim_end().to_string();
        let node = raw.node;
        let mut st = Statement {
            index,
            start,
            end: start + text.len(),
            line: line_of(start),
            text,
            section: None,
            class: StmtClass::Write,
            touches: Vec::new(),
            references: Vec::new(),
            node: node.clone(),
            is_do: false,
            opaque: false,
        };
        match &node {
            Some(n) => analyze(n, &mut st),
            None => analyze_shallow(&mut st),
        }
        statements.push(st);
    }
    let mut file = SqlFile {
        path: path.to_string(),
        src: src.to_string(),
        statements,
        sections,
        comments,
        meta_commands,
    };
    let marks: Vec<Option<char>> = file
        .statements
        .iter()
        .map(|s| file.section_of(s.start))
        .collect();
    for (s, m) in file.statements.iter_mut().zip(marks) {
        s.section = m;
    }
    Ok(file)
}

/// `-- SECTION A — HEADER` → 'A'.
fn section_letter(comment: &str) -> Option<char> {
    let body = comment
        .trim_start_matches('-')
        .trim_start_matches("/*")
        .trim();
    let rest = body.strip_prefix("SECTION")?.trim_start();
    let mut chars = rest.chars();
    let c = chars.next()?;
    let next = chars.next();
    if c.is_ascii_uppercase() && next.is_none_or(|n| !n.is_alphanumeric()) {
        Some(c)
    } else {
        None
    }
}

/// One top-level statement as the parser delimits it: byte range in the cleaned text and,
/// where the tree could be handed over, its root node.
struct RawStatement {
    loc: usize,
    end: usize,
    node: Option<NodeEnum>,
}

/// libpg_query hands the tree over as protobuf, whose decoder stops at 100 nested messages;
/// and its serializer refuses trees nested deeper still. Neither means the SQL is invalid.
fn too_deep(e: &pg_query::Error) -> bool {
    match e {
        pg_query::Error::Decode(_) => true,
        pg_query::Error::Parse(m) => {
            m.contains("nested too deeply") || m.contains("stack depth limit exceeded")
        }
        _ => false,
    }
}

/// The file's statements. The whole file is parsed at once; when its tree is too deep to
/// hand over, the file is split by the parser itself (which still refuses invalid SQL) and
/// each statement parsed alone, and a statement still too deep keeps no tree (its class
/// and footprint then come from [`analyze_shallow`]).
fn raw_statements(cleaned: &str) -> Result<Vec<RawStatement>, pg_query::Error> {
    match pg_query::parse(cleaned, 0) {
        Ok(parsed) => {
            return Ok(parsed
                .protobuf
                .stmts
                .iter()
                .map(|raw| {
                    let loc = raw.stmt_location.max(0) as usize;
                    let end = if raw.stmt_len == 0 {
                        cleaned.len()
                    } else {
                        loc + raw.stmt_len as usize
                    };
                    RawStatement {
                        loc,
                        end,
                        node: raw.stmt.as_ref().and_then(|n| n.node.clone()),
                    }
                })
                .collect())
        }
        Err(e) if !too_deep(&e) => return Err(e),
        Err(_) => {}
    }
    let base = cleaned.as_ptr() as usize;
    let mut out = Vec::new();
    for piece in pg_query::split_with_parser(cleaned)? {
        let loc = (piece.as_ptr() as usize).saturating_sub(base);
        let node = pg_query::parse(piece, 0).ok().and_then(|p| {
            p.protobuf
                .stmts
                .into_iter()
                .next()
                .and_then(|raw| raw.stmt)
                .and_then(|n| n.node)
        });
        out.push(RawStatement {
            loc,
            end: loc + piece.len(),
            node,
        });
    }
    Ok(out)
}

/// Class and footprint of a statement that parses but whose tree is too deep to decode:
/// from libpg_query's summary (statement kinds and the tables each touches, read on the C
/// side) and the tokens. What this cannot tell precisely is marked opaque.
fn analyze_shallow(st: &mut Statement) {
    use pg_query::protobuf::summary_result::Context;
    let Ok(summary) = pg_query::summary(&st.text, 0, -1) else {
        st.class = StmtClass::Write;
        st.opaque = true;
        return;
    };
    let words: Vec<String> = pg_query::scan(&st.text)
        .map(|s| {
            s.tokens
                .iter()
                .filter_map(|t| st.text.get(t.start as usize..t.end as usize))
                .map(|w| w.to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    let has = |w: &str| words.iter().any(|x| x == w);
    let tables = |ctx: Context| -> Vec<String> {
        summary
            .tables
            .iter()
            .filter(|t| t.context == ctx)
            .map(|t| {
                let schema = if t.schema_name.is_empty() {
                    "public"
                } else {
                    &t.schema_name
                };
                format!("{schema}.{}", t.table_name)
            })
            .collect()
    };
    for r in tables(Context::Select) {
        st.references.push(ObjectRef::new(ObjKind::Table, r));
    }
    let top = summary.statement_types.first().map(String::as_str);
    match top {
        Some("SelectStmt") if !has("into") && !has("for") => st.class = StmtClass::ReadOnly,
        Some("ViewStmt") => {
            st.class = StmtClass::Write;
            let or_replace = words.get(1).is_some_and(|w| w == "or");
            for v in tables(Context::Ddl) {
                st.touches.push(Touch {
                    verb: Verb::Create,
                    object: ObjectRef::new(ObjKind::View, v),
                    has_where: true,
                    or_replace,
                    owned: Vec::new(),
                });
            }
        }
        Some(k @ ("InsertStmt" | "UpdateStmt" | "DeleteStmt")) => {
            st.class = StmtClass::Write;
            let verb = match k {
                "InsertStmt" => Verb::Insert,
                "UpdateStmt" => Verb::Update,
                _ => Verb::Delete,
            };
            for t in tables(Context::Dml) {
                st.touches.push(Touch {
                    verb,
                    object: ObjectRef::new(ObjKind::Table, t),
                    has_where: has("where"),
                    or_replace: false,
                    owned: Vec::new(),
                });
            }
            // Writable CTEs and sub-statements are not told apart here.
            st.opaque = summary.statement_types.len() > 1 && has("with");
        }
        _ => {
            st.class = StmtClass::Write;
            st.opaque = true;
        }
    }
}

fn strip_pg(e: &pg_query::Error) -> String {
    match e {
        pg_query::Error::Parse(m) | pg_query::Error::Scan(m) | pg_query::Error::Split(m) => {
            m.clone()
        }
        other => other.to_string(),
    }
}

/// Locates a parse error by the parser itself: the error sits at the first token `k` such
/// that the text up to and including token `k` already fails with something other than "at
/// end of input" (a prefix that stops before the error either parses or runs out of
/// input). That property only grows with the prefix, so a binary search over the token
/// ends finds it in a logarithmic number of parses — whatever statement the token is in,
/// however many earlier statements hold semicolons inside `BEGIN ATOMIC … END` or a
/// multi-action `CREATE RULE`.
fn locate_parse_error(path: &str, src: &str, cleaned: &str, err: &pg_query::Error) -> SourceError {
    let message = strip_pg(err);
    let tokens: Vec<(usize, usize)> = pg_query::scan(cleaned)
        .map(|s| {
            s.tokens
                .iter()
                .filter(|t| {
                    t.token != protobuf::Token::SqlComment as i32
                        && t.token != protobuf::Token::CComment as i32
                })
                .map(|t| (t.start as usize, t.end as usize))
                .collect()
        })
        .unwrap_or_default();
    let fails_before_end = |k: usize| -> bool {
        let Some(prefix) = tokens.get(k).and_then(|&(_, e)| cleaned.get(..e)) else {
            return true;
        };
        match pg_query::parse(prefix, 0) {
            Ok(_) => false,
            Err(e) => {
                let m = strip_pg(&e);
                !m.ends_with("at end of input") && !too_deep(&e)
            }
        }
    };
    let (mut lo, mut hi) = (0usize, tokens.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if fails_before_end(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let (pos, len) = match tokens.get(lo) {
        Some(&(s, e)) => (s, e - s),
        // Only "at end of input": point just past the last token.
        None => (tokens.last().map(|&(_, e)| e).unwrap_or(0), 1),
    };
    SourceError::new(path, src, format!("SQL does not parse: {message}"))
        .span(pos.min(src.len()), len.max(1))
        .help("this is PostgreSQL's own parser speaking; fix the statement and lint again")
}

/// Locates a tokenizer error (unterminated literal or comment, junk after a number, bad
/// escape). The scanner names the text "at or near" which it stopped; that text starts at
/// the error, and the first place it occurs where the prefix ending with it fails with
/// the very same message is the place.
fn locate_scan_error(path: &str, src: &str, cleaned: &str, err: &pg_query::Error) -> SourceError {
    let message = strip_pg(err);
    let near = message
        .split_once("at or near \"")
        .and_then(|(_, r)| r.strip_suffix('"'))
        .unwrap_or("");
    let mut pos = None;
    if !near.is_empty() {
        for (i, _) in cleaned.match_indices(near) {
            let same = cleaned
                .get(..i + near.len())
                .map(|p| pg_query::scan(p).err().map(|e| strip_pg(&e)) == Some(message.clone()))
                .unwrap_or(false);
            if same {
                pos = Some(i);
                break;
            }
        }
    }
    let (pos, len) = match pos {
        Some(p) => (p, near.find('\n').unwrap_or(near.len())),
        // No text to go by ("at end of input"): the end of the file.
        None => (cleaned.trim_end().len(), 1),
    };
    SourceError::new(path, src, format!("cannot tokenize: {message}"))
        .span(pos.min(src.len()), len.max(1))
        .help(
            "this is PostgreSQL's own scanner speaking; fix the literal or comment and lint again",
        )
}

// ---------------------------------------------------------------------------
// Classification and footprint.

fn ident(s: &str) -> String {
    s.to_string()
}

fn rel_name(rv: &protobuf::RangeVar) -> String {
    let schema = if rv.schemaname.is_empty() {
        "public"
    } else {
        &rv.schemaname
    };
    format!("{}.{}", ident(schema), ident(&rv.relname))
}

fn rel_schema(rv: &protobuf::RangeVar) -> String {
    if rv.schemaname.is_empty() {
        "public".into()
    } else {
        rv.schemaname.clone()
    }
}

fn str_of(n: &protobuf::Node) -> Option<String> {
    match n.node.as_ref()? {
        NodeEnum::String(s) => Some(s.sval.clone()),
        NodeEnum::AConst(c) => match c.val.as_ref()? {
            a_const::Val::Sval(s) => Some(s.sval.clone()),
            a_const::Val::Ival(i) => Some(i.ival.to_string()),
            a_const::Val::Fval(f) => Some(f.fval.clone()),
            a_const::Val::Boolval(b) => Some(b.boolval.to_string()),
            _ => None,
        },
        NodeEnum::TypeCast(tc) => tc.arg.as_deref().and_then(str_of),
        _ => None,
    }
}

fn qualified(names: &[protobuf::Node]) -> String {
    let parts: Vec<String> = names.iter().filter_map(str_of).collect();
    match parts.len() {
        0 => String::new(),
        1 => format!("public.{}", parts[0]),
        _ => parts[parts.len() - 2..].join("."),
    }
}

fn type_name(t: &protobuf::TypeName) -> String {
    let parts: Vec<String> = t.names.iter().filter_map(str_of).collect();
    let base = match parts.as_slice() {
        [p, n] if p == "pg_catalog" => canonical_type(n),
        [n] => canonical_type(n),
        _ => parts.join("."),
    };
    if t.array_bounds.is_empty() {
        base
    } else {
        format!("{base}[]")
    }
}

/// The names PostgreSQL's `format_type` prints for the parser's internal type names.
fn canonical_type(n: &str) -> String {
    crate::core::objects::canonical_type_name(n)
}

fn func_ref(names: &[protobuf::Node], args: &[String]) -> ObjectRef {
    ObjectRef::new(
        ObjKind::Function,
        format!("{}({})", qualified(names), normalize_args(&args.join(","))),
    )
}

fn touch(st: &mut Statement, verb: Verb, kind: ObjKind, name: String) {
    st.touches.push(Touch {
        verb,
        object: ObjectRef::new(kind, name),
        has_where: true,
        or_replace: false,
        owned: Vec::new(),
    });
}

fn obj_kind_of(t: i32) -> Option<ObjKind> {
    let t = ObjectType::try_from(t).ok()?;
    Some(match t {
        ObjectType::ObjectTable | ObjectType::ObjectForeignTable => ObjKind::Table,
        ObjectType::ObjectView => ObjKind::View,
        ObjectType::ObjectMatview => ObjKind::MaterializedView,
        ObjectType::ObjectIndex => ObjKind::Index,
        ObjectType::ObjectSequence => ObjKind::Sequence,
        ObjectType::ObjectFunction
        | ObjectType::ObjectProcedure
        | ObjectType::ObjectRoutine
        | ObjectType::ObjectAggregate => ObjKind::Function,
        ObjectType::ObjectTrigger => ObjKind::Trigger,
        ObjectType::ObjectType | ObjectType::ObjectDomain => ObjKind::Type,
        ObjectType::ObjectSchema => ObjKind::Schema,
        ObjectType::ObjectExtension => ObjKind::Extension,
        ObjectType::ObjectPolicy => ObjKind::Policy,
        ObjectType::ObjectColumn => ObjKind::Column,
        ObjectType::ObjectTabconstraint => ObjKind::Constraint,
        ObjectType::ObjectEventTrigger => ObjKind::EventTrigger,
        _ => return None,
    })
}

/// Name of a generic object node (DropStmt/RenameStmt/GrantStmt `objects`) of kind `k`.
fn object_name(k: ObjKind, n: &protobuf::Node) -> Option<String> {
    match n.node.as_ref()? {
        NodeEnum::List(l) => {
            let parts: Vec<String> = l.items.iter().filter_map(str_of).collect();
            Some(match (k, parts.len()) {
                (ObjKind::Trigger | ObjKind::Policy | ObjKind::Constraint, 2) => {
                    format!("public.{}.{}", parts[0], parts[1])
                }
                (ObjKind::Trigger | ObjKind::Policy | ObjKind::Constraint, _) => parts.join("."),
                (ObjKind::Column, 2) => format!("public.{}.{}", parts[0], parts[1]),
                (_, 1)
                    if !matches!(
                        k,
                        ObjKind::Schema | ObjKind::Extension | ObjKind::EventTrigger
                    ) =>
                {
                    format!("public.{}", parts[0])
                }
                _ => parts.join("."),
            })
        }
        NodeEnum::String(s) => Some(match k {
            ObjKind::Schema | ObjKind::Extension | ObjKind::EventTrigger => s.sval.clone(),
            _ => format!("public.{}", s.sval),
        }),
        NodeEnum::TypeName(t) => {
            let parts: Vec<String> = t.names.iter().filter_map(str_of).collect();
            Some(if parts.len() == 1 {
                format!("public.{}", parts[0])
            } else {
                parts.join(".")
            })
        }
        NodeEnum::ObjectWithArgs(o) => {
            let args: Vec<String> = o
                .objargs
                .iter()
                .filter_map(|a| match a.node.as_ref()? {
                    NodeEnum::TypeName(t) => Some(type_name(t)),
                    _ => None,
                })
                .collect();
            let r = func_ref(&o.objname, &args);
            Some(if o.args_unspecified {
                qualified(&o.objname)
            } else {
                r.name
            })
        }
        NodeEnum::RangeVar(rv) => Some(rel_name(rv)),
        _ => None,
    }
}

/// Classifies `node` and records its footprint; a statement PostgreSQL refuses inside a
/// transaction block is [`StmtClass::NonTransactional`] (see [`prevented_in_transaction_block`]).
fn analyze(node: &NodeEnum, st: &mut Statement) {
    analyze_node(node, st);
    if let Some(what) = prevented_in_transaction_block(node) {
        st.class = StmtClass::NonTransactional { what };
    }
}

/// `defGetBoolean` on an option list: `None` when `name` is absent.
fn bool_option(options: &[protobuf::Node], name: &str) -> Option<bool> {
    options.iter().find_map(|o| match o.node.as_ref()? {
        NodeEnum::DefElem(d) if d.defname.eq_ignore_ascii_case(name) => {
            // `off`, `on` and bare words arrive as a type name (the grammar's `def_arg`).
            let word = d.arg.as_deref().and_then(|a| match a.node.as_ref()? {
                NodeEnum::TypeName(t) => t.names.last().and_then(str_of),
                _ => str_of(a),
            });
            Some(match word {
                None => true,
                Some(v) => !matches!(
                    v.to_ascii_lowercase().as_str(),
                    "false" | "off" | "0" | "no" | "of" | "fa" | "f" | "n"
                ),
            })
        }
        _ => None,
    })
}

/// The statements PostgreSQL 15 refuses inside a transaction block — every caller of
/// `PreventInTransactionBlock` (src/backend, REL_15_STABLE) whose condition can be read
/// from the statement itself:
///
/// | caller | statement |
/// |---|---|
/// | `ExecVacuum` / `vacuum` | `VACUUM` (not `ANALYZE` alone) |
/// | `cluster` | `CLUSTER` without a table |
/// | `standard_ProcessUtility` | `CREATE/DROP TABLESPACE`, `DROP DATABASE`, `ALTER SYSTEM` |
/// | `createdb` (via utility) | `CREATE DATABASE` |
/// | `AlterDatabase` | `ALTER DATABASE … SET TABLESPACE` |
/// | `CreateSubscription` | `CREATE SUBSCRIPTION` with `create_slot` (default unless `connect = false`) |
/// | `AlterSubscription` | `… REFRESH PUBLICATION`, `SET/ADD/DROP PUBLICATION` with `refresh` (default true) |
/// | `DropSubscription` | `DROP SUBSCRIPTION` of a subscription with a slot (the default) |
/// | `ExecReindex` / `ReindexMultipleTables` | `REINDEX … CONCURRENTLY`, `REINDEX SCHEMA/DATABASE/SYSTEM` |
/// | `ProcessUtilitySlow` | `CREATE INDEX CONCURRENTLY`, `ALTER TABLE … DETACH PARTITION … CONCURRENTLY` |
/// | `ExecDropStmt` | `DROP INDEX CONCURRENTLY` |
/// | `DiscardAll` | `DISCARD ALL` |
///
/// Not here: `COMMIT/ROLLBACK PREPARED` (transaction control, SG012's business) and the
/// callers whose condition lies in the catalog — `CLUSTER` or `REINDEX TABLE/INDEX` of a
/// partitioned table or index, `DROP SUBSCRIPTION` after `slot_name = NONE`. `REFRESH
/// MATERIALIZED VIEW CONCURRENTLY` and `ALTER TYPE … ADD VALUE` run in a transaction.
pub fn prevented_in_transaction_block(node: &NodeEnum) -> Option<String> {
    use protobuf::AlterSubscriptionType as S;
    use protobuf::ReindexObjectType as R;
    let what = match node {
        NodeEnum::VacuumStmt(v) if v.is_vacuumcmd => "VACUUM",
        NodeEnum::ClusterStmt(c) if c.relation.is_none() => "CLUSTER without a table",
        NodeEnum::CreatedbStmt(_) => "CREATE DATABASE",
        NodeEnum::DropdbStmt(_) => "DROP DATABASE",
        NodeEnum::AlterDatabaseStmt(a)
            if a.options.iter().any(|o| {
                matches!(o.node.as_ref(), Some(NodeEnum::DefElem(d)) if d.defname == "tablespace")
            }) =>
        {
            "ALTER DATABASE … SET TABLESPACE"
        }
        NodeEnum::CreateTableSpaceStmt(_) => "CREATE TABLESPACE",
        NodeEnum::DropTableSpaceStmt(_) => "DROP TABLESPACE",
        NodeEnum::AlterSystemStmt(_) => "ALTER SYSTEM",
        NodeEnum::CreateSubscriptionStmt(c) => {
            let connect = bool_option(&c.options, "connect").unwrap_or(true);
            let create_slot = bool_option(&c.options, "create_slot").unwrap_or(connect);
            if !create_slot {
                return None;
            }
            "CREATE SUBSCRIPTION … WITH (create_slot = true)"
        }
        NodeEnum::AlterSubscriptionStmt(a) => match S::try_from(a.kind).unwrap_or(S::Undefined) {
            S::AlterSubscriptionRefresh => "ALTER SUBSCRIPTION … REFRESH PUBLICATION",
            S::AlterSubscriptionSetPublication
            | S::AlterSubscriptionAddPublication
            | S::AlterSubscriptionDropPublication
                if bool_option(&a.options, "refresh").unwrap_or(true) =>
            {
                "ALTER SUBSCRIPTION … PUBLICATION with refresh"
            }
            _ => return None,
        },
        NodeEnum::DropSubscriptionStmt(_) => "DROP SUBSCRIPTION",
        NodeEnum::ReindexStmt(r) => {
            let concurrent = bool_option(&r.params, "concurrently").unwrap_or(false);
            match R::try_from(r.kind).unwrap_or(R::Undefined) {
                _ if concurrent => "REINDEX CONCURRENTLY",
                R::ReindexObjectSchema => "REINDEX SCHEMA",
                R::ReindexObjectSystem => "REINDEX SYSTEM",
                R::ReindexObjectDatabase => "REINDEX DATABASE",
                _ => return None,
            }
        }
        NodeEnum::IndexStmt(i) if i.concurrent => "CREATE INDEX CONCURRENTLY",
        NodeEnum::DropStmt(d) if d.concurrent => "DROP INDEX CONCURRENTLY",
        NodeEnum::AlterTableStmt(a)
            if a.cmds.iter().any(|c| match c.node.as_ref() {
                Some(NodeEnum::AlterTableCmd(c)) => {
                    c.subtype == protobuf::AlterTableType::AtDetachPartition as i32
                        && matches!(
                            c.def.as_ref().and_then(|d| d.node.as_ref()),
                            Some(NodeEnum::PartitionCmd(p)) if p.concurrent
                        )
                }
                _ => false,
            }) =>
        {
            "ALTER TABLE … DETACH PARTITION … CONCURRENTLY"
        }
        NodeEnum::DiscardStmt(d) if d.target == protobuf::DiscardMode::DiscardAll as i32 => {
            "DISCARD ALL"
        }
        _ => return None,
    };
    Some(what.to_string())
}

fn analyze_node(node: &NodeEnum, st: &mut Statement) {
    use protobuf::TransactionStmtKind as K;
    match node {
        NodeEnum::TransactionStmt(t) => {
            st.class = match K::try_from(t.kind).unwrap_or(K::Undefined) {
                K::TransStmtBegin | K::TransStmtStart => StmtClass::Begin,
                K::TransStmtCommit => StmtClass::Commit,
                K::TransStmtRollback => StmtClass::Rollback,
                k => StmtClass::OtherTransactionControl {
                    what: format!("{k:?}")
                        .trim_start_matches("TransStmt")
                        .to_uppercase(),
                },
            };
        }
        NodeEnum::VariableSetStmt(v) => {
            let value = v
                .args
                .iter()
                .filter_map(str_of)
                .collect::<Vec<_>>()
                .join(", ");
            let name = v.name.to_lowercase();
            st.class = if v.is_local || name.starts_with("transaction") {
                StmtClass::SetLocal { name, value }
            } else {
                StmtClass::SetSession { name, value }
            };
        }
        NodeEnum::VariableShowStmt(_) => st.class = StmtClass::ReadOnly,
        NodeEnum::SelectStmt(s) => {
            if let Some(into) = &s.into_clause {
                if let Some(rv) = &into.rel {
                    touch(st, Verb::Create, ObjKind::Table, rel_name(rv));
                }
                st.class = StmtClass::Write;
            } else if !s.locking_clause.is_empty() {
                st.class = StmtClass::Write;
            } else {
                st.class = StmtClass::ReadOnly;
            }
            collect_cte_writes(&s.with_clause, st);
        }
        NodeEnum::ExplainStmt(e) => {
            let with_analyze = e.options.iter().any(
                |o| matches!(o.node.as_ref(), Some(NodeEnum::DefElem(d)) if d.defname == "analyze"),
            );
            st.class = if with_analyze {
                StmtClass::Write
            } else {
                StmtClass::ReadOnly
            };
            if with_analyze {
                if let Some(inner) = e.query.as_ref().and_then(|q| q.node.as_ref()) {
                    analyze(inner, st);
                    if st.touches.is_empty() {
                        st.class = StmtClass::ReadOnly;
                    }
                }
            }
        }
        NodeEnum::DoStmt(d) => {
            st.is_do = true;
            let body = d.args.iter().find_map(|a| match a.node.as_ref()? {
                NodeEnum::DefElem(de) if de.defname == "as" => de.arg.as_deref().and_then(str_of),
                _ => None,
            });
            let lang = d.args.iter().find_map(|a| match a.node.as_ref()? {
                NodeEnum::DefElem(de) if de.defname == "language" => {
                    de.arg.as_deref().and_then(str_of)
                }
                _ => None,
            });
            if lang
                .as_deref()
                .is_some_and(|l| !l.eq_ignore_ascii_case("plpgsql"))
            {
                st.opaque = true;
                st.class = StmtClass::Write;
                return;
            }
            match body.as_deref().map(analyze_plpgsql) {
                Some(Some(inner)) => {
                    st.opaque = inner.opaque;
                    st.references.extend(inner.references);
                    let writes = !inner.touches.is_empty() || inner.opaque;
                    st.touches.extend(inner.touches);
                    st.class = if writes {
                        StmtClass::Write
                    } else {
                        StmtClass::ReadOnly
                    };
                }
                _ => {
                    st.opaque = true;
                    st.class = StmtClass::Write;
                }
            }
        }
        NodeEnum::CreateStmt(c) => {
            st.class = StmtClass::Write;
            if let Some(rv) = &c.relation {
                let table = rel_name(rv);
                let mut owned = Vec::new();
                for elt in &c.table_elts {
                    match elt.node.as_ref() {
                        Some(NodeEnum::ColumnDef(cd)) => {
                            owned.push(ObjectRef::new(
                                ObjKind::Column,
                                format!("{table}.{}", cd.colname),
                            ));
                            owned.extend(column_owned(cd, &table, st));
                        }
                        Some(NodeEnum::Constraint(k)) => constraint_refs(k, &table, &mut owned, st),
                        _ => {}
                    }
                }
                for con in &c.constraints {
                    if let Some(NodeEnum::Constraint(k)) = con.node.as_ref() {
                        constraint_refs(k, &table, &mut owned, st);
                    }
                }
                for parent in &c.inh_relations {
                    if let Some(NodeEnum::RangeVar(p)) = parent.node.as_ref() {
                        st.references
                            .push(ObjectRef::new(ObjKind::Table, rel_name(p)));
                    }
                }
                st.touches.push(Touch {
                    verb: Verb::Create,
                    object: ObjectRef::new(ObjKind::Table, table),
                    has_where: true,
                    or_replace: false,
                    owned,
                });
            }
        }
        NodeEnum::CreateTableAsStmt(c) => {
            st.class = StmtClass::Write;
            let kind = if c.objtype == ObjectType::ObjectMatview as i32 {
                ObjKind::MaterializedView
            } else {
                ObjKind::Table
            };
            if let Some(rv) = c.into.as_ref().and_then(|i| i.rel.as_ref()) {
                touch(st, Verb::Create, kind, rel_name(rv));
            }
            if let Some(q) = &c.query {
                relation_refs(q, st);
            }
        }
        NodeEnum::ViewStmt(v) => {
            st.class = StmtClass::Write;
            if let Some(rv) = &v.view {
                st.touches.push(Touch {
                    verb: Verb::Create,
                    object: ObjectRef::new(ObjKind::View, rel_name(rv)),
                    has_where: true,
                    or_replace: v.replace,
                    owned: Vec::new(),
                });
            }
            if let Some(q) = &v.query {
                relation_refs(q, st);
            }
        }
        NodeEnum::IndexStmt(i) => {
            st.class = StmtClass::Write;
            if let Some(rv) = &i.relation {
                let name = if i.idxname.is_empty() {
                    format!("{}.<unnamed index on {}>", rel_schema(rv), rv.relname)
                } else {
                    format!("{}.{}", rel_schema(rv), i.idxname)
                };
                touch(st, Verb::Create, ObjKind::Index, name);
                st.references
                    .push(ObjectRef::new(ObjKind::Table, rel_name(rv)));
            }
        }
        NodeEnum::AlterTableStmt(a) => {
            st.class = StmtClass::Write;
            let Some(rv) = &a.relation else { return };
            let table = rel_name(rv);
            let kind = obj_kind_of(a.objtype).unwrap_or(ObjKind::Table);
            for cmd in &a.cmds {
                let Some(NodeEnum::AlterTableCmd(c)) = cmd.node.as_ref() else {
                    continue;
                };
                alter_table_cmd(c, &table, kind, st);
            }
        }
        NodeEnum::DropStmt(d) => {
            st.class = StmtClass::Write;
            if let Some(k) = obj_kind_of(d.remove_type) {
                for o in &d.objects {
                    if let Some(name) = object_name(k, o) {
                        touch(st, Verb::Drop, k, name);
                    }
                }
            }
        }
        NodeEnum::CreateTrigStmt(t) => {
            st.class = StmtClass::Write;
            if let Some(rv) = &t.relation {
                st.touches.push(Touch {
                    verb: Verb::Create,
                    object: ObjectRef::new(
                        ObjKind::Trigger,
                        format!("{}.{}", rel_name(rv), t.trigname),
                    ),
                    has_where: true,
                    or_replace: t.replace,
                    owned: Vec::new(),
                });
                st.references
                    .push(ObjectRef::new(ObjKind::Table, rel_name(rv)));
            }
            st.references.push(ObjectRef::new(
                ObjKind::Function,
                format!("{}()", qualified(&t.funcname)),
            ));
        }
        NodeEnum::CreateFunctionStmt(f) => {
            st.class = StmtClass::Write;
            let args: Vec<String> = f
                .parameters
                .iter()
                .filter_map(|p| match p.node.as_ref()? {
                    NodeEnum::FunctionParameter(fp) => {
                        // OUT and TABLE parameters are not part of the identity.
                        let mode = fp.mode;
                        let out = mode == protobuf::FunctionParameterMode::FuncParamOut as i32
                            || mode == protobuf::FunctionParameterMode::FuncParamTable as i32;
                        if out {
                            None
                        } else {
                            fp.arg_type.as_ref().map(type_name)
                        }
                    }
                    _ => None,
                })
                .collect();
            st.touches.push(Touch {
                verb: Verb::Create,
                object: func_ref(&f.funcname, &args),
                has_where: true,
                or_replace: f.replace,
                owned: Vec::new(),
            });
        }
        NodeEnum::AlterFunctionStmt(f) => {
            st.class = StmtClass::Write;
            if let Some(o) = &f.func {
                if let Some(name) = object_name(
                    ObjKind::Function,
                    &protobuf::Node {
                        node: Some(NodeEnum::ObjectWithArgs(o.clone())),
                    },
                ) {
                    touch(st, Verb::Alter, ObjKind::Function, name);
                }
            }
        }
        NodeEnum::CreateSeqStmt(s) => {
            st.class = StmtClass::Write;
            if let Some(rv) = &s.sequence {
                touch(st, Verb::Create, ObjKind::Sequence, rel_name(rv));
            }
        }
        NodeEnum::AlterSeqStmt(s) => {
            st.class = StmtClass::Write;
            if let Some(rv) = &s.sequence {
                touch(st, Verb::Alter, ObjKind::Sequence, rel_name(rv));
            }
        }
        NodeEnum::CreateEnumStmt(e) => {
            st.class = StmtClass::Write;
            touch(st, Verb::Create, ObjKind::Type, qualified(&e.type_name));
        }
        NodeEnum::AlterEnumStmt(e) => {
            st.class = StmtClass::Write;
            touch(st, Verb::Alter, ObjKind::Type, qualified(&e.type_name));
        }
        NodeEnum::CreateDomainStmt(d) => {
            st.class = StmtClass::Write;
            touch(st, Verb::Create, ObjKind::Type, qualified(&d.domainname));
        }
        NodeEnum::AlterDomainStmt(d) => {
            st.class = StmtClass::Write;
            touch(st, Verb::Alter, ObjKind::Type, qualified(&d.type_name));
        }
        NodeEnum::CompositeTypeStmt(c) => {
            st.class = StmtClass::Write;
            if let Some(rv) = &c.typevar {
                touch(st, Verb::Create, ObjKind::Type, rel_name(rv));
            }
        }
        NodeEnum::CreateRangeStmt(r) => {
            st.class = StmtClass::Write;
            touch(st, Verb::Create, ObjKind::Type, qualified(&r.type_name));
        }
        NodeEnum::CreateSchemaStmt(s) => {
            st.class = StmtClass::Write;
            touch(st, Verb::Create, ObjKind::Schema, s.schemaname.clone());
        }
        NodeEnum::CreateExtensionStmt(e) => {
            st.class = StmtClass::Write;
            touch(st, Verb::Create, ObjKind::Extension, e.extname.clone());
        }
        NodeEnum::AlterExtensionStmt(e) => {
            st.class = StmtClass::Write;
            touch(st, Verb::Alter, ObjKind::Extension, e.extname.clone());
        }
        NodeEnum::CreatePolicyStmt(p) => {
            st.class = StmtClass::Write;
            if let Some(rv) = &p.table {
                touch(
                    st,
                    Verb::Create,
                    ObjKind::Policy,
                    format!("{}.{}", rel_name(rv), p.policy_name),
                );
            }
        }
        NodeEnum::AlterPolicyStmt(p) => {
            st.class = StmtClass::Write;
            if let Some(rv) = &p.table {
                touch(
                    st,
                    Verb::Alter,
                    ObjKind::Policy,
                    format!("{}.{}", rel_name(rv), p.policy_name),
                );
            }
        }
        NodeEnum::CreateEventTrigStmt(e) => {
            st.class = StmtClass::Write;
            touch(st, Verb::Create, ObjKind::EventTrigger, e.trigname.clone());
        }
        NodeEnum::AlterEventTrigStmt(e) => {
            st.class = StmtClass::Write;
            touch(st, Verb::Alter, ObjKind::EventTrigger, e.trigname.clone());
        }
        NodeEnum::RenameStmt(r) => {
            st.class = StmtClass::Write;
            let kind = obj_kind_of(r.rename_type);
            match (kind, &r.relation) {
                (Some(ObjKind::Column), Some(rv)) => touch(
                    st,
                    Verb::Alter,
                    ObjKind::Column,
                    format!("{}.{}", rel_name(rv), r.subname),
                ),
                (
                    Some(k @ (ObjKind::Trigger | ObjKind::Policy | ObjKind::Constraint)),
                    Some(rv),
                ) => touch(
                    st,
                    Verb::Alter,
                    k,
                    format!("{}.{}", rel_name(rv), r.subname),
                ),
                (Some(k), Some(rv)) => touch(st, Verb::Alter, k, rel_name(rv)),
                (Some(k), None) => {
                    if let Some(name) = r.object.as_deref().and_then(|o| object_name(k, o)) {
                        touch(st, Verb::Alter, k, name);
                    }
                }
                _ => st.opaque = true,
            }
        }
        NodeEnum::AlterOwnerStmt(o) => {
            st.class = StmtClass::Write;
            if let Some(k) = obj_kind_of(o.object_type) {
                let name = match &o.relation {
                    Some(rv) => Some(rel_name(rv)),
                    None => o.object.as_deref().and_then(|n| object_name(k, n)),
                };
                if let Some(name) = name {
                    touch(st, Verb::Alter, k, name);
                }
            }
        }
        NodeEnum::GrantStmt(g) => {
            st.class = StmtClass::Write;
            if let Some(k) = obj_kind_of(g.objtype) {
                for o in &g.objects {
                    if let Some(name) = object_name(k, o) {
                        touch(st, Verb::Alter, k, name);
                    }
                }
            }
        }
        // A comment is an attribute of its object: the catalog measures it as a change.
        NodeEnum::CommentStmt(c) => {
            st.class = StmtClass::Write;
            if let Some(k) = obj_kind_of(c.objtype) {
                if let Some(name) = c.object.as_deref().and_then(|o| object_name(k, o)) {
                    touch(st, Verb::Alter, k, name);
                }
            }
        }
        NodeEnum::InsertStmt(i) => {
            st.class = StmtClass::Write;
            if let Some(rv) = &i.relation {
                touch(st, Verb::Insert, ObjKind::Table, rel_name(rv));
            }
            if let Some(conflict) = &i.on_conflict_clause {
                if conflict.action == protobuf::OnConflictAction::OnconflictUpdate as i32 {
                    if let Some(rv) = &i.relation {
                        touch(st, Verb::Update, ObjKind::Table, rel_name(rv));
                    }
                }
            }
            collect_cte_writes(&i.with_clause, st);
        }
        NodeEnum::UpdateStmt(u) => {
            st.class = StmtClass::Write;
            if let Some(rv) = &u.relation {
                st.touches.push(Touch {
                    verb: Verb::Update,
                    object: ObjectRef::new(ObjKind::Table, rel_name(rv)),
                    has_where: u.where_clause.is_some(),
                    or_replace: false,
                    owned: Vec::new(),
                });
            }
            collect_cte_writes(&u.with_clause, st);
        }
        NodeEnum::DeleteStmt(d) => {
            st.class = StmtClass::Write;
            if let Some(rv) = &d.relation {
                st.touches.push(Touch {
                    verb: Verb::Delete,
                    object: ObjectRef::new(ObjKind::Table, rel_name(rv)),
                    has_where: d.where_clause.is_some(),
                    or_replace: false,
                    owned: Vec::new(),
                });
            }
            collect_cte_writes(&d.with_clause, st);
        }
        NodeEnum::MergeStmt(m) => {
            st.class = StmtClass::Write;
            if let Some(rv) = &m.relation {
                for v in [Verb::Insert, Verb::Update, Verb::Delete] {
                    touch(st, v, ObjKind::Table, rel_name(rv));
                }
            }
        }
        NodeEnum::TruncateStmt(t) => {
            st.class = StmtClass::Write;
            for r in &t.relations {
                if let Some(NodeEnum::RangeVar(rv)) = r.node.as_ref() {
                    st.touches.push(Touch {
                        verb: Verb::Truncate,
                        object: ObjectRef::new(ObjKind::Table, rel_name(rv)),
                        has_where: false,
                        or_replace: false,
                        owned: Vec::new(),
                    });
                }
            }
        }
        NodeEnum::CopyStmt(c) => {
            if c.is_from {
                st.class = StmtClass::Write;
                if let Some(rv) = &c.relation {
                    touch(st, Verb::Insert, ObjKind::Table, rel_name(rv));
                }
            } else {
                st.class = StmtClass::ReadOnly;
            }
        }
        // Whether these may run in a transaction block is decided by
        // `prevented_in_transaction_block`.
        NodeEnum::VacuumStmt(_)
        | NodeEnum::ReindexStmt(_)
        | NodeEnum::CreatedbStmt(_)
        | NodeEnum::DropdbStmt(_)
        | NodeEnum::CreateTableSpaceStmt(_)
        | NodeEnum::DropTableSpaceStmt(_)
        | NodeEnum::AlterSystemStmt(_) => st.class = StmtClass::Write,
        NodeEnum::CallStmt(_) => {
            st.class = StmtClass::Write;
            st.opaque = true;
        }
        NodeEnum::LockStmt(_) => st.class = StmtClass::Write,
        NodeEnum::RefreshMatViewStmt(r) => {
            // CONCURRENTLY or not, it runs inside a transaction block.
            st.class = StmtClass::Write;
            if let Some(rv) = &r.relation {
                touch(st, Verb::Alter, ObjKind::MaterializedView, rel_name(rv));
            }
        }
        _ => {
            st.class = StmtClass::Write;
            st.opaque = true;
        }
    }
}

fn collect_cte_writes(with: &Option<protobuf::WithClause>, st: &mut Statement) {
    let Some(w) = with else { return };
    for cte in &w.ctes {
        if let Some(NodeEnum::CommonTableExpr(c)) = cte.node.as_ref() {
            if let Some(q) = c.ctequery.as_ref().and_then(|q| q.node.as_ref()) {
                if matches!(
                    q,
                    NodeEnum::InsertStmt(_)
                        | NodeEnum::UpdateStmt(_)
                        | NodeEnum::DeleteStmt(_)
                        | NodeEnum::MergeStmt(_)
                ) {
                    let mut inner = blank_statement();
                    analyze(q, &mut inner);
                    st.touches.extend(inner.touches);
                    st.class = StmtClass::Write;
                }
            }
        }
    }
}

fn blank_statement() -> Statement {
    Statement {
        index: 0,
        start: 0,
        end: 0,
        line: 0,
        text: String::new(),
        section: None,
        class: StmtClass::Write,
        touches: Vec::new(),
        references: Vec::new(),
        node: None,
        is_do: false,
        opaque: false,
    }
}

/// Relations a query reads (view bases), as references.
fn relation_refs(q: &protobuf::Node, st: &mut Statement) {
    let wrapper = protobuf::ParseResult {
        version: 0,
        stmts: vec![protobuf::RawStmt {
            stmt: Some(Box::new(q.clone())),
            stmt_location: 0,
            stmt_len: 0,
        }],
    };
    for (n, _, _, _) in wrapper.nodes() {
        if let pg_query::NodeRef::RangeVar(rv) = n {
            st.references
                .push(ObjectRef::new(ObjKind::Table, rel_name(rv)));
        }
    }
}

/// The schema part of a `schema.table` name.
fn schema_of(table: &str) -> &str {
    table.split('.').next().unwrap_or("public")
}

/// Records what a table constraint references and owns: the constraint itself (when
/// named) and, for PRIMARY KEY / UNIQUE / EXCLUDE, its index — which PostgreSQL names
/// after the constraint, in the table's schema, whether it builds it or adopts an
/// existing one with `USING INDEX` (renaming that index to the constraint's name). The
/// adopted index is owned too, under its old name, and referenced.
fn constraint_refs(
    k: &protobuf::Constraint,
    table: &str,
    owned: &mut Vec<ObjectRef>,
    st: &mut Statement,
) {
    use protobuf::ConstrType as C;
    let ct = C::try_from(k.contype).unwrap_or(C::Undefined);
    if let Some(pk) = &k.pktable {
        st.references
            .push(ObjectRef::new(ObjKind::Table, rel_name(pk)));
    }
    if matches!(
        ct,
        C::ConstrPrimary | C::ConstrUnique | C::ConstrExclusion | C::ConstrForeign | C::ConstrCheck
    ) && !k.conname.is_empty()
    {
        owned.push(ObjectRef::new(
            ObjKind::Constraint,
            format!("{table}.{}", k.conname),
        ));
    }
    if matches!(ct, C::ConstrPrimary | C::ConstrUnique | C::ConstrExclusion) {
        let schema = schema_of(table);
        if !k.conname.is_empty() {
            owned.push(ObjectRef::new(
                ObjKind::Index,
                format!("{schema}.{}", k.conname),
            ));
        }
        if !k.indexname.is_empty() {
            let adopted = ObjectRef::new(ObjKind::Index, format!("{schema}.{}", k.indexname));
            if !owned.contains(&adopted) {
                owned.push(adopted.clone());
            }
            st.references.push(adopted);
        }
    }
}

/// Column types that create a sequence owned by the column.
fn is_serial(t: &protobuf::TypeName) -> bool {
    let parts: Vec<String> = t.names.iter().filter_map(str_of).collect();
    matches!(
        parts.last().map(|s| s.to_ascii_lowercase()).as_deref(),
        Some("serial" | "serial4" | "bigserial" | "serial8" | "smallserial" | "serial2")
    ) && parts.len() == 1
}

/// Objects a new column owns: its inline constraints (and their indexes), and the
/// sequence of a serial or identity column (`<table>_<column>_seq`).
fn column_owned(cd: &protobuf::ColumnDef, table: &str, st: &mut Statement) -> Vec<ObjectRef> {
    use protobuf::ConstrType as C;
    let mut owned = Vec::new();
    let mut sequence = cd.type_name.as_ref().is_some_and(is_serial);
    for con in &cd.constraints {
        if let Some(NodeEnum::Constraint(k)) = con.node.as_ref() {
            sequence |= k.contype == C::ConstrIdentity as i32;
            constraint_refs(k, table, &mut owned, st);
        }
    }
    if sequence {
        let bare = table.rsplit('.').next().unwrap_or(table);
        owned.push(ObjectRef::new(
            ObjKind::Sequence,
            format!("{}.{bare}_{}_seq", schema_of(table), cd.colname),
        ));
    }
    owned
}

fn alter_table_cmd(c: &protobuf::AlterTableCmd, table: &str, kind: ObjKind, st: &mut Statement) {
    use protobuf::AlterTableType as A;
    let sub = A::try_from(c.subtype).unwrap_or(A::Undefined);
    let col = |name: &str| format!("{table}.{name}");
    match sub {
        A::AtAddColumn => {
            if let Some(NodeEnum::ColumnDef(cd)) = c.def.as_ref().and_then(|d| d.node.as_ref()) {
                let owned = column_owned(cd, table, st);
                st.touches.push(Touch {
                    verb: Verb::Create,
                    object: ObjectRef::new(ObjKind::Column, col(&cd.colname)),
                    has_where: true,
                    or_replace: false,
                    owned,
                });
            }
        }
        A::AtDropColumn => touch(st, Verb::Drop, ObjKind::Column, col(&c.name)),
        A::AtColumnDefault
        | A::AtDropNotNull
        | A::AtSetNotNull
        | A::AtAlterColumnType
        | A::AtSetExpression
        | A::AtDropExpression
        | A::AtAddIdentity
        | A::AtSetIdentity
        | A::AtDropIdentity
        | A::AtSetStatistics
        | A::AtSetStorage
        | A::AtSetCompression
        | A::AtSetOptions
        | A::AtResetOptions => touch(st, Verb::Alter, ObjKind::Column, col(&c.name)),
        A::AtAddConstraint => {
            if let Some(NodeEnum::Constraint(k)) = c.def.as_ref().and_then(|d| d.node.as_ref()) {
                let mut owned = Vec::new();
                constraint_refs(k, table, &mut owned, st);
                let name = if k.conname.is_empty() {
                    format!("{table}.<unnamed>")
                } else {
                    col(&k.conname)
                };
                let object = ObjectRef::new(ObjKind::Constraint, name);
                owned.retain(|o| *o != object);
                st.touches.push(Touch {
                    verb: Verb::Create,
                    object,
                    has_where: true,
                    or_replace: false,
                    owned,
                });
            }
        }
        A::AtValidateConstraint | A::AtAlterConstraint => {
            touch(st, Verb::Alter, ObjKind::Constraint, col(&c.name))
        }
        // A PRIMARY KEY, UNIQUE or EXCLUDE constraint takes its index (named after it)
        // along; which kind the constraint is, only the catalog knows, so the index is
        // listed as what the drop may take.
        A::AtDropConstraint => st.touches.push(Touch {
            verb: Verb::Drop,
            object: ObjectRef::new(ObjKind::Constraint, col(&c.name)),
            has_where: true,
            or_replace: false,
            owned: vec![ObjectRef::new(
                ObjKind::Index,
                format!("{}.{}", schema_of(table), c.name),
            )],
        }),
        A::AtEnableTrig | A::AtEnableAlwaysTrig | A::AtEnableReplicaTrig | A::AtDisableTrig => {
            touch(st, Verb::Alter, ObjKind::Trigger, col(&c.name))
        }
        // CLUSTER ON marks the index, not the table.
        A::AtClusterOn => touch(
            st,
            Verb::Alter,
            ObjKind::Index,
            format!("{}.{}", schema_of(table), c.name),
        ),
        // ATTACH / DETACH PARTITION changes the partition (its bound and parent); the
        // partitioned table itself is unchanged in the catalog.
        A::AtAttachPartition | A::AtDetachPartition => {
            let part = match c.def.as_ref().and_then(|d| d.node.as_ref()) {
                Some(NodeEnum::PartitionCmd(p)) => p.name.as_ref().map(rel_name),
                _ => None,
            };
            match part {
                Some(name) => touch(st, Verb::Alter, ObjKind::Table, name),
                None => touch(st, Verb::Alter, kind, table.to_string()),
            }
        }
        _ => touch(st, Verb::Alter, kind, table.to_string()),
    }
}

/// The footprint of a PL/pgSQL body, from the PL/pgSQL parser's tree.
struct Inner {
    touches: Vec<Touch>,
    references: Vec<ObjectRef>,
    opaque: bool,
}

fn analyze_plpgsql(body: &str) -> Option<Inner> {
    let wrapped = format!("CREATE FUNCTION stepgate_do() RETURNS void LANGUAGE plpgsql AS $stepgate$\n{body}\n$stepgate$");
    let tree = pg_query::parse_plpgsql(&wrapped).ok()?;
    let mut inner = Inner {
        touches: Vec::new(),
        references: Vec::new(),
        opaque: false,
    };
    walk_plpgsql(&tree, &mut inner);
    Some(inner)
}

fn walk_plpgsql(v: &serde_json::Value, inner: &mut Inner) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map {
                match k.as_str() {
                    // EXECUTE / FOR … IN EXECUTE / RETURN QUERY EXECUTE: a constant string
                    // is SQL like any other; anything computed stays opaque.
                    "PLpgSQL_stmt_dynexecute" | "PLpgSQL_stmt_dynfors" => {
                        match val
                            .pointer("/query/PLpgSQL_expr/query")
                            .and_then(|q| q.as_str())
                            .and_then(constant_sql)
                        {
                            Some(sql) => analyze_inner_sql(&sql, inner),
                            None => inner.opaque = true,
                        }
                    }
                    "PLpgSQL_stmt_return_query" => {
                        if let Some(q) = val.pointer("/dynquery/PLpgSQL_expr/query") {
                            match q.as_str().and_then(constant_sql) {
                                Some(sql) => analyze_inner_sql(&sql, inner),
                                None => inner.opaque = true,
                            }
                        }
                    }
                    "PLpgSQL_stmt_execsql" => {
                        if let Some(q) = val
                            .pointer("/sqlstmt/PLpgSQL_expr/query")
                            .and_then(|q| q.as_str())
                        {
                            analyze_inner_sql(q, inner);
                        }
                    }
                    _ => {}
                }
                walk_plpgsql(val, inner);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| walk_plpgsql(x, inner)),
        _ => {}
    }
}

/// The text of a PL/pgSQL expression that is one string constant (`'…'`, `E'…'`,
/// `$$…$$`), as PostgreSQL reads it; `None` for anything computed.
fn constant_sql(expr: &str) -> Option<String> {
    let parsed = pg_query::parse(&format!("SELECT {expr}"), 0).ok()?;
    let raw = parsed.protobuf.stmts.first()?;
    let Some(NodeEnum::SelectStmt(sel)) = raw.stmt.as_ref()?.node.as_ref() else {
        return None;
    };
    if sel.target_list.len() != 1 || !sel.from_clause.is_empty() {
        return None;
    }
    let Some(NodeEnum::ResTarget(rt)) = sel.target_list[0].node.as_ref() else {
        return None;
    };
    match rt.val.as_deref()?.node.as_ref()? {
        NodeEnum::AConst(c) => match c.val.as_ref()? {
            a_const::Val::Sval(s) => Some(s.sval.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// Folds the statements of one piece of SQL run inside a PL/pgSQL body into `inner`.
fn analyze_inner_sql(q: &str, inner: &mut Inner) {
    let Ok(parsed) = pg_query::parse(q, 0) else {
        inner.opaque = true;
        return;
    };
    for raw in &parsed.protobuf.stmts {
        if let Some(n) = raw.stmt.as_ref().and_then(|n| n.node.as_ref()) {
            let mut st = blank_statement();
            analyze(n, &mut st);
            inner.opaque |= st.opaque;
            inner.touches.extend(st.touches);
            inner.references.extend(st.references);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(sql: &str) -> SqlFile {
        parse_file("t.sql", sql).unwrap()
    }

    #[test]
    fn splits_and_locates() {
        let f = p("-- SECTION A\n-- hi\nSELECT 1;\n\n-- SECTION C\nBEGIN;\nSET LOCAL lock_timeout = '3s';\nCREATE TABLE t (id int PRIMARY KEY, r int REFERENCES r(id));\nROLLBACK;\n");
        assert_eq!(f.statements.len(), 5);
        assert_eq!(f.statements[0].line, 3);
        assert_eq!(f.statements[0].section, Some('A'));
        assert!(f.statements[0].is_read_only());
        assert_eq!(f.statements[1].class, StmtClass::Begin);
        assert_eq!(f.statements[1].section, Some('C'));
        assert_eq!(
            f.statements[2].class,
            StmtClass::SetLocal {
                name: "lock_timeout".into(),
                value: "3s".into()
            }
        );
        let t = &f.statements[3].touches[0];
        assert_eq!(t.object.to_string(), "table public.t");
        assert!(t
            .owned
            .iter()
            .any(|o| o.to_string() == "column public.t.id"));
        assert!(f.statements[3]
            .references
            .iter()
            .any(|r| r.to_string() == "table public.r"));
        assert_eq!(f.statements[4].class, StmtClass::Rollback);
    }

    #[test]
    fn syntax_error_points_at_line() {
        let e = parse_file("t.sql", "SELECT 1;\nSELEC 2;\n").unwrap_err();
        assert!(e.message.contains("syntax error"), "{}", e.message);
        assert_eq!(e.line_col().unwrap().0, 2);
    }

    #[test]
    fn do_blocks_read_or_write() {
        let f = p("DO $$ BEGIN IF (SELECT count(*) FROM g) <> 8 THEN RAISE EXCEPTION 'x'; END IF; END $$;\nDO $$ BEGIN INSERT INTO t VALUES (1); END $$;\nDO $$ BEGIN EXECUTE 'drop table x'; END $$;");
        assert!(f.statements[0].is_read_only());
        assert_eq!(f.statements[1].class, StmtClass::Write);
        assert_eq!(
            f.statements[1].touches[0].object.to_string(),
            "table public.t"
        );
        // A constant string is analysed: the drop is known, not opaque.
        assert!(!f.statements[2].opaque);
        assert_eq!(
            f.statements[2].touches[0].object.to_string(),
            "table public.x"
        );
        assert_eq!(f.statements[2].touches[0].verb, Verb::Drop);
    }

    #[test]
    fn meta_commands_are_recorded() {
        let f = p("\\set ON_ERROR_STOP 1\nSELECT 1;\n");
        assert_eq!(f.meta_commands.len(), 1);
        assert_eq!(f.meta_commands[0].line, 1);
        assert_eq!(f.statements.len(), 1);
        assert_eq!(f.statements[0].line, 2);
    }

    #[test]
    fn footprints() {
        let f = p("ALTER TABLE a ADD COLUMN c int; DROP TRIGGER trg ON s.t; CREATE INDEX CONCURRENTLY i ON t(x);\nUPDATE t SET x = 1; DELETE FROM t WHERE id = 1; CREATE OR REPLACE FUNCTION f(a text, OUT b int) RETURNS int LANGUAGE sql AS 'select 1';");
        assert_eq!(
            f.statements[0].touches[0].object.to_string(),
            "column public.a.c"
        );
        assert_eq!(
            f.statements[1].touches[0].object.to_string(),
            "trigger s.t.trg"
        );
        assert!(matches!(
            f.statements[2].class,
            StmtClass::NonTransactional { .. }
        ));
        assert_eq!(
            f.statements[2].touches[0].object.to_string(),
            "index public.i"
        );
        assert!(!f.statements[3].touches[0].has_where);
        assert!(f.statements[4].touches[0].has_where);
        assert_eq!(
            f.statements[5].touches[0].object.to_string(),
            "function public.f(text)"
        );
        assert!(f.statements[5].touches[0].or_replace);
    }

    /// A view concatenating `n` columns with `|| ' ' ||`.
    fn concat_view(n: usize) -> String {
        let cols: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
        format!(
            "CREATE VIEW public.v AS SELECT {} AS x FROM public.t",
            cols.join(" || ' ' || ")
        )
    }
    fn plus_select(n: usize) -> String {
        let ops: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        format!("SELECT {}", ops.join(" + "))
    }
    fn nested_subqueries(n: usize) -> String {
        let mut q = "SELECT 1".to_string();
        for _ in 0..n {
            q = format!("SELECT (SELECT x FROM ({q}) s(x))");
        }
        q
    }

    #[test]
    fn deep_expressions_parse_ten_times_deeper_than_reported() {
        // The issue's cases: 23 columns, 48 operands, 16 nested subqueries; 10x each.
        for (n_cat, n_plus, n_sub) in [(23, 48, 16), (230, 480, 160)] {
            let sql = format!(
                "BEGIN;\n{};\n{};\n{};\nINSERT INTO public.t SELECT {};\nROLLBACK;\n",
                concat_view(n_cat),
                plus_select(n_plus),
                nested_subqueries(n_sub),
                plus_select(n_plus).trim_start_matches("SELECT ")
            );
            let f = parse_file("t.sql", &sql).unwrap_or_else(|e| panic!("{n_cat}: {e}"));
            assert_eq!(f.statements.len(), 6, "{n_cat}");
            assert_eq!(f.statements[0].class, StmtClass::Begin);
            let view = &f.statements[1];
            assert_eq!(view.line, 2);
            assert_eq!(view.class, StmtClass::Write);
            assert_eq!(view.touches.len(), 1, "{:?}", view.touches);
            assert_eq!(view.touches[0].verb, Verb::Create);
            assert_eq!(view.touches[0].object.to_string(), "view public.v");
            assert!(view
                .references
                .iter()
                .any(|r| r.to_string() == "table public.t"));
            assert!(f.statements[2].is_read_only(), "{n_plus}");
            assert!(f.statements[3].is_read_only(), "{n_sub}");
            assert_eq!(f.statements[4].touches[0].verb, Verb::Insert);
            assert_eq!(
                f.statements[4].touches[0].object.to_string(),
                "table public.t"
            );
            assert_eq!(f.statements[5].class, StmtClass::Rollback);
            assert_eq!(f.statements[5].line, 6);
        }
    }

    #[test]
    fn deep_statements_still_refuse_invalid_sql() {
        let sql = format!("{};\nSELECT 1 +;\n", plus_select(480));
        let e = parse_file("t.sql", &sql).unwrap_err();
        assert!(e.message.contains("syntax error"), "{}", e.message);
        assert_eq!(e.line_col(), Some((2, 11)));
    }

    #[test]
    fn parse_error_after_begin_atomic_is_located_in_the_failing_statement() {
        let sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT 2;\nEND;\nSELECT 1 FROM t WHERE;\n";
        let e = parse_file("t.sql", sql).unwrap_err();
        assert!(e.message.contains("syntax error"), "{}", e.message);
        // "at or near ;" — the semicolon after WHERE on line 6.
        assert_eq!(e.line_col(), Some((6, 22)), "{}", e.message);
    }

    #[test]
    fn parse_error_after_multi_action_rule_is_located_in_the_failing_statement() {
        let sql = "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));\nSELECT 1;\nUPDATE t SET x = = 1;\n";
        let e = parse_file("t.sql", sql).unwrap_err();
        assert!(e.message.contains("syntax error"), "{}", e.message);
        assert_eq!(e.line_col(), Some((3, 18)), "{}", e.message);
    }

    #[test]
    fn repeated_token_is_blamed_where_it_fails_not_where_it_first_occurs() {
        let e = parse_file("t.sql", "SELECT a, b FROM t;\nSELECT a FROM FROM t;\n").unwrap_err();
        assert_eq!(e.line_col(), Some((2, 15)), "{}", e.message);
    }

    #[test]
    fn offsets_survive_backslash_lines_with_multibyte_text() {
        let sql = "\\echo 'Grüße, 東京 — ok'\nSELECT 1;\nSELECT 2 FROM WHERE;\n";
        let f = parse_file("t.sql", "\\echo 'Grüße, 東京 — ok'\nSELECT 1;\n").unwrap();
        assert_eq!(f.statements[0].line, 2);
        assert_eq!(f.statements[0].text, "SELECT 1");
        let e = parse_file("t.sql", sql).unwrap_err();
        assert_eq!(e.line_col(), Some((3, 15)), "{}", e.message);
    }

    #[test]
    fn tokenizer_errors_are_located() {
        let e = parse_file("t.sql", "SELECT 1;\nSELECT 'a';\nSELECT 'unterminated;\n").unwrap_err();
        assert!(
            e.message.contains("unterminated quoted string"),
            "{}",
            e.message
        );
        assert_eq!(e.line_col(), Some((3, 8)), "{}", e.message);
        let e = parse_file("t.sql", "SELECT 1;\n/* open comment\nSELECT 2;\n").unwrap_err();
        assert!(
            e.message.contains("unterminated /* comment"),
            "{}",
            e.message
        );
        assert_eq!(e.line_col(), Some((2, 1)), "{}", e.message);
        let e = parse_file("t.sql", "SELECT $a$ ok $a$;\n  SELECT $b$ never closed\n").unwrap_err();
        assert!(
            e.message.contains("unterminated dollar-quoted"),
            "{}",
            e.message
        );
        assert_eq!(e.line_col(), Some((2, 10)), "{}", e.message);
        let e = parse_file("t.sql", "SELECT 123;\nSELECT 123abc;\n").unwrap_err();
        assert!(e.message.contains("trailing junk"), "{}", e.message);
        assert_eq!(e.line_col(), Some((2, 8)), "{}", e.message);
    }

    #[test]
    fn constant_execute_in_do_is_analysed_like_any_statement() {
        let f = p("DO $$ DECLARE n int; BEGIN EXECUTE 'SELECT count(*) FROM public.g' INTO n; IF n <> 8 THEN RAISE EXCEPTION 'x'; END IF; END $$;\n\
                   DO $$ DECLARE r record; BEGIN FOR r IN EXECUTE E'SELECT 1 FROM g' LOOP END LOOP; END $$;\n\
                   DO $$ BEGIN EXECUTE $q$UPDATE t SET x = 1 WHERE id = 2$q$; END $$;\n\
                   DO $$ BEGIN EXECUTE 'DROP TABLE ' || 'x'; END $$;\n\
                   DO $$ BEGIN EXECUTE format('SELECT 1 FROM %I', 'g'); END $$;\n");
        assert!(f.statements[0].is_read_only(), "{:?}", f.statements[0]);
        assert!(!f.statements[0].opaque);
        assert!(f.statements[1].is_read_only());
        assert_eq!(f.statements[2].class, StmtClass::Write);
        assert!(!f.statements[2].opaque);
        assert_eq!(f.statements[2].touches[0].verb, Verb::Update);
        assert_eq!(
            f.statements[2].touches[0].object.to_string(),
            "table public.t"
        );
        assert!(f.statements[3].opaque && f.statements[3].class == StmtClass::Write);
        assert!(f.statements[4].opaque && f.statements[4].class == StmtClass::Write);
    }

    #[test]
    fn subscription_options_decide_transaction_block() {
        let nt = |sql: &str| {
            matches!(
                p(sql).statements[0].class,
                StmtClass::NonTransactional { .. }
            )
        };
        assert!(nt("CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p;"));
        assert!(!nt(
            "CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p WITH (create_slot = false);"
        ));
        assert!(!nt(
            "CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p WITH (connect = off);"
        ));
        assert!(nt(
            "CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p WITH (create_slot);"
        ));
        assert!(nt("ALTER SUBSCRIPTION s REFRESH PUBLICATION;"));
        assert!(nt("ALTER SUBSCRIPTION s SET PUBLICATION p;"));
        assert!(!nt(
            "ALTER SUBSCRIPTION s SET PUBLICATION p WITH (refresh = false);"
        ));
        assert!(nt("ALTER SUBSCRIPTION s ADD PUBLICATION p;"));
        assert!(!nt("ALTER SUBSCRIPTION s DISABLE;"));
        assert!(nt("DROP SUBSCRIPTION s;"));
        assert!(!nt("REINDEX TABLE t;"));
        assert!(nt("REINDEX (CONCURRENTLY true) INDEX i;"));
        assert!(!nt("REINDEX (CONCURRENTLY false) INDEX i;"));
    }

    #[test]
    fn terminal_split() {
        let f = p("BEGIN; SELECT 1; ROLLBACK; SELECT 2;");
        let (body, after) = f.split_at_terminal();
        assert_eq!(body.len(), 3);
        assert_eq!(after.len(), 1);
    }
}
