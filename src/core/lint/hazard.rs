//! Shared helpers of the hazard rules (SG111 on): statements of step files, the columns
//! a pack adds, type names, and function calls with their volatility.

use super::builtin_functions;
use super::{rel_name, tables_created_in_pack, LintContext, ParsedFile};
use crate::core::manifest::Step;
use crate::core::sql::Statement;
use pg_query::protobuf::{ColumnDef, FuncCall, Node, TypeName};
use pg_query::NodeEnum;

/// One statement of a step file, with its step.
#[derive(Clone, Copy)]
pub struct StepStmt<'a> {
    pub step: &'a Step,
    pub file: &'a ParsedFile,
    pub stmt: &'a Statement,
}

/// Every parsed statement of every step file (not rollbacks), in manifest and file order.
pub fn step_statements<'a>(ctx: &'a LintContext) -> Vec<StepStmt<'a>> {
    let mut out = Vec::new();
    for (_, step, file) in ctx.step_files() {
        for stmt in &file.sql.statements {
            out.push(StepStmt { step, file, stmt });
        }
    }
    out
}

/// A column a step adds: in `CREATE TABLE` or `ALTER TABLE … ADD COLUMN`.
pub struct NewColumn<'a> {
    pub at: StepStmt<'a>,
    pub rel: &'a pg_query::protobuf::RangeVar,
    pub column: &'a ColumnDef,
}

impl NewColumn<'_> {
    /// `schema.table` of the column's table.
    pub fn table(&self) -> String {
        rel_name(self.rel)
    }

    /// Whether the column is a surrogate key or a reference to one: sequence-fed
    /// (identity, serial, `DEFAULT nextval`) or named `id` / `…_id`.
    pub fn is_key(&self) -> bool {
        is_key_column(self.column)
    }
}

/// Every column added by a step, in `CREATE TABLE` and `ADD COLUMN`.
pub fn new_columns<'a>(ctx: &'a LintContext) -> Vec<NewColumn<'a>> {
    let mut out = Vec::new();
    for s in step_statements(ctx) {
        match &s.stmt.node {
            Some(NodeEnum::CreateStmt(c)) => {
                let Some(rv) = &c.relation else { continue };
                for e in &c.table_elts {
                    if let Some(NodeEnum::ColumnDef(cd)) = e.node.as_ref() {
                        out.push(NewColumn {
                            at: s,
                            rel: rv,
                            column: cd,
                        });
                    }
                }
            }
            Some(NodeEnum::AlterTableStmt(a)) => {
                let Some(rv) = &a.relation else { continue };
                for c in &a.cmds {
                    let Some(NodeEnum::AlterTableCmd(cmd)) = c.node.as_ref() else {
                        continue;
                    };
                    if let Some(NodeEnum::ColumnDef(cd)) =
                        cmd.def.as_ref().and_then(|d| d.node.as_ref())
                    {
                        out.push(NewColumn {
                            at: s,
                            rel: rv,
                            column: cd,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// A sequence-fed column (identity, serial type, `DEFAULT nextval(…)`) or one named like
/// a surrogate key or a reference to one (`id`, `…_id`).
fn is_key_column(cd: &ColumnDef) -> bool {
    use pg_query::protobuf::ConstrType as C;
    let sequence_fed = super::column_constraints(cd).any(|k| {
        k.contype == C::ConstrIdentity as i32
            || (k.contype == C::ConstrDefault as i32
                && k.raw_expr.as_deref().is_some_and(calls_nextval))
    });
    let serial = cd.type_name.as_ref().is_some_and(|t| {
        matches!(
            base_type(t),
            "serial" | "serial4" | "smallserial" | "serial2"
        )
    });
    // The parser lower-cases unquoted names; a quoted "ID" is another name.
    let name = cd.colname.as_str();
    sequence_fed || serial || name == "id" || name.ends_with("_id")
}

fn calls_nextval(n: &Node) -> bool {
    match n.node.as_ref() {
        Some(NodeEnum::FuncCall(f)) => func_name(f) == "nextval",
        Some(NodeEnum::TypeCast(t)) => t.arg.as_deref().is_some_and(calls_nextval),
        _ => false,
    }
}

/// The last part of a type's name (`pg_catalog.int4` → `int4`; the parser lower-cases
/// unquoted names, so `INT` is `int4` too).
pub fn base_type(t: &TypeName) -> &str {
    t.names
        .last()
        .and_then(|p| match p.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
            _ => None,
        })
        .unwrap_or("")
}

/// True when the column's type has a length/precision modifier (`varchar(20)`).
pub fn has_typmod(t: &TypeName) -> bool {
    !t.typmods.is_empty()
}

/// Whether the new column's table is one a step of the pack creates.
pub fn on_new_table(ctx: &LintContext, table: &str) -> bool {
    tables_created_in_pack(ctx).contains(table)
}

/// The unqualified, lower-case name of a called function.
pub fn func_name(f: &FuncCall) -> String {
    f.funcname
        .last()
        .and_then(|p| match p.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.to_ascii_lowercase()),
            _ => None,
        })
        .unwrap_or_default()
}

/// The first function in an expression that is not a known IMMUTABLE or STABLE
/// built-in (unknown functions count as volatile), or None when every call is known
/// non-volatile. Looks at any depth: `md5(random()::text)` finds `random`.
pub fn volatile_call(n: &Node) -> Option<String> {
    let all = |v: &[Node]| v.iter().find_map(volatile_call);
    let one = |o: &Option<Box<Node>>| o.as_deref().and_then(volatile_call);
    match n.node.as_ref()? {
        NodeEnum::FuncCall(f) => {
            let name = func_name(f);
            if builtin_functions::is_non_volatile(&name, f.args.len()) {
                all(&f.args)
            } else {
                Some(name)
            }
        }
        NodeEnum::SubLink(_) => Some("a subquery".into()),
        NodeEnum::TypeCast(t) => one(&t.arg),
        NodeEnum::AExpr(e) => one(&e.lexpr).or_else(|| one(&e.rexpr)),
        NodeEnum::BoolExpr(e) => all(&e.args),
        NodeEnum::CoalesceExpr(e) => all(&e.args),
        NodeEnum::MinMaxExpr(e) => all(&e.args),
        NodeEnum::CaseExpr(e) => one(&e.arg)
            .or_else(|| all(&e.args))
            .or_else(|| one(&e.defresult)),
        NodeEnum::CaseWhen(w) => one(&w.expr).or_else(|| one(&w.result)),
        NodeEnum::AArrayExpr(e) => all(&e.elements),
        NodeEnum::RowExpr(e) => all(&e.args),
        NodeEnum::List(l) => all(&l.items),
        NodeEnum::NullTest(t) => one(&t.arg),
        NodeEnum::BooleanTest(t) => one(&t.arg),
        NodeEnum::CollateClause(c) => one(&c.arg),
        NodeEnum::AIndirection(i) => one(&i.arg),
        NodeEnum::NamedArgExpr(a) => one(&a.arg),
        _ => None,
    }
}

/// True for a NULL constant (`DEFAULT NULL` stores nothing).
pub fn is_null_const(n: &Node) -> bool {
    match n.node.as_ref() {
        Some(NodeEnum::AConst(c)) => c.isnull,
        Some(NodeEnum::TypeCast(t)) => t.arg.as_deref().is_some_and(is_null_const),
        _ => false,
    }
}

/// `schema.name` of a dotted name list as in DROP (`public.` when unqualified).
pub fn dotted_name(n: &Node) -> Option<String> {
    let Some(NodeEnum::List(l)) = n.node.as_ref() else {
        return None;
    };
    let parts: Vec<&str> = l
        .items
        .iter()
        .filter_map(|p| match p.node.as_ref() {
            Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
            _ => None,
        })
        .collect();
    match parts.as_slice() {
        [t] => Some(format!("public.{t}")),
        [.., s, t] => Some(format!("{s}.{t}")),
        [] => None,
    }
}

/// Every object some step of the pack creates, as `kind name` (`index public.i`).
pub fn objects_created_in_pack(ctx: &LintContext) -> std::collections::BTreeSet<String> {
    use crate::core::objects::Verb;
    step_statements(ctx)
        .iter()
        .flat_map(|s| s.stmt.touches.iter())
        .filter(|t| t.verb == Verb::Create)
        .map(|t| t.object.to_string())
        .collect()
}

/// Names (no kind, no argument list) of every object some step creates.
pub fn names_created_in_pack(ctx: &LintContext) -> std::collections::BTreeSet<String> {
    use crate::core::objects::Verb;
    step_statements(ctx)
        .iter()
        .flat_map(|s| s.stmt.touches.iter())
        .filter(|t| t.verb == Verb::Create)
        .map(|t| t.object.name.split('(').next().unwrap_or("").to_string())
        .collect()
}

/// A readable, qualified name of an object node as DROP / RENAME / SET SCHEMA carry it.
pub fn object_label(n: &Node) -> Option<String> {
    match n.node.as_ref()? {
        NodeEnum::List(_) => dotted_name(n),
        NodeEnum::String(s) => Some(s.sval.clone()),
        NodeEnum::ObjectWithArgs(o) => dotted_name(&Node {
            node: Some(NodeEnum::List(pg_query::protobuf::List {
                items: o.objname.clone(),
            })),
        }),
        NodeEnum::TypeName(t) => {
            let parts: Vec<&str> = t
                .names
                .iter()
                .filter_map(|p| match p.node.as_ref() {
                    Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
                    _ => None,
                })
                .collect();
            match parts.as_slice() {
                [t] => Some(format!("public.{t}")),
                [.., s, t] => Some(format!("{s}.{t}")),
                [] => None,
            }
        }
        _ => None,
    }
}

/// The object kind words of an `ObjectType` (`materialized view`), for messages.
pub fn kind_words(t: i32) -> &'static str {
    use pg_query::protobuf::ObjectType as O;
    match O::try_from(t).unwrap_or(O::Undefined) {
        O::ObjectIndex => "index",
        O::ObjectTabconstraint | O::ObjectDomconstraint => "constraint",
        O::ObjectFunction => "function",
        O::ObjectProcedure => "procedure",
        O::ObjectRoutine => "routine",
        O::ObjectAggregate => "aggregate",
        O::ObjectSchema => "schema",
        O::ObjectType => "type",
        O::ObjectDomain => "domain",
        O::ObjectView => "view",
        O::ObjectMatview => "materialized view",
        O::ObjectSequence => "sequence",
        O::ObjectTrigger => "trigger",
        O::ObjectPolicy => "policy",
        O::ObjectForeignTable => "foreign table",
        O::ObjectAttribute => "attribute",
        O::ObjectDatabase => "database",
        O::ObjectTable => "table",
        O::ObjectColumn => "column",
        O::ObjectExtension => "extension",
        O::ObjectCollation => "collation",
        O::ObjectConversion => "conversion",
        O::ObjectOperator => "operator",
        O::ObjectRule => "rule",
        O::ObjectStatisticExt => "statistics object",
        O::ObjectTsconfiguration | O::ObjectTsdictionary => "text search object",
        _ => "object",
    }
}

/// Reports every new column `judge` objects to (it returns the message), with `help`:
/// the shape of the column-type rules (SG119–SG124).
pub fn check_new_columns(
    ctx: &LintContext,
    out: &mut super::Emitter,
    judge: impl Fn(&NewColumn, &TypeName) -> Option<String>,
    help: &str,
) {
    for c in new_columns(ctx) {
        let Some(t) = &c.column.type_name else {
            continue;
        };
        if let Some(msg) = judge(&c, t) {
            out.stmt(c.at.file, c.at.stmt, msg, Some(help.to_string()));
        }
    }
}
