//! The table locks a statement takes, by PostgreSQL's lock table
//! (<https://www.postgresql.org/docs/current/explicit-locking.html>), for the
//! cross-statement rules (SG129–SG131). Static and conservative: a statement's lock is
//! the strongest any of its parts takes; plain SELECTs are not modelled.

use super::rel_name;
use pg_query::protobuf::{self, AlterTableType as T, ConstrType, ObjectType, RangeVar};
use pg_query::NodeEnum;

/// Table-level lock modes, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockMode {
    AccessShare,
    RowShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    Exclusive,
    AccessExclusive,
}

impl LockMode {
    pub fn name(self) -> &'static str {
        match self {
            LockMode::AccessShare => "ACCESS SHARE",
            LockMode::RowShare => "ROW SHARE",
            LockMode::RowExclusive => "ROW EXCLUSIVE",
            LockMode::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            LockMode::Share => "SHARE",
            LockMode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockMode::Exclusive => "EXCLUSIVE",
            LockMode::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }

    /// What the lock keeps other sessions from doing.
    pub fn blocks(self) -> &'static str {
        match self {
            LockMode::AccessShare | LockMode::RowShare => "only table rewrites and drops",
            LockMode::RowExclusive => "SHARE locks and stronger (CREATE INDEX, most DDL)",
            LockMode::ShareUpdateExclusive => "other DDL and VACUUM, but not reads or writes",
            LockMode::Share | LockMode::ShareRowExclusive => "all writes; reads go on",
            LockMode::Exclusive => "all writes and row-locking reads",
            LockMode::AccessExclusive => "everything, reads included",
        }
    }

    /// Strong enough to stop the application's writes.
    pub fn blocks_writes(self) -> bool {
        self >= LockMode::Share
    }

    fn from_lock_stmt(mode: i32) -> LockMode {
        // LOCK TABLE modes, by their numbers in PostgreSQL's lockdefs.h.
        match mode {
            1 => LockMode::AccessShare,
            2 => LockMode::RowShare,
            3 => LockMode::RowExclusive,
            4 => LockMode::ShareUpdateExclusive,
            5 => LockMode::Share,
            6 => LockMode::ShareRowExclusive,
            7 => LockMode::Exclusive,
            _ => LockMode::AccessExclusive,
        }
    }
}

/// A lock on a relation (`schema.name`) taken by one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableLock {
    pub table: String,
    pub mode: LockMode,
}

fn lock(rv: &RangeVar, mode: LockMode) -> TableLock {
    TableLock {
        table: rel_name(rv),
        mode,
    }
}

/// The table locks a statement takes (one entry per relation, strongest mode).
pub fn statement_locks(node: &NodeEnum) -> Vec<TableLock> {
    let mut out = Vec::new();
    raw_locks(node, &mut out);
    merge(out)
}

/// Keeps the strongest lock per relation, in first-seen order.
fn merge(all: Vec<TableLock>) -> Vec<TableLock> {
    let mut out: Vec<TableLock> = Vec::new();
    for l in all {
        match out.iter_mut().find(|o| o.table == l.table) {
            Some(o) => o.mode = o.mode.max(l.mode),
            None => out.push(l),
        }
    }
    out
}

fn raw_locks(node: &NodeEnum, out: &mut Vec<TableLock>) {
    use LockMode::*;
    let rv = |o: &Option<RangeVar>, m: LockMode, out: &mut Vec<TableLock>| {
        if let Some(r) = o {
            out.push(lock(r, m));
        }
    };
    match node {
        NodeEnum::AlterTableStmt(a) => alter_table_locks(a, out),
        NodeEnum::IndexStmt(i) => {
            let m = if i.concurrent {
                ShareUpdateExclusive
            } else {
                Share
            };
            rv(&i.relation, m, out);
        }
        NodeEnum::CreateStmt(c) => {
            for e in &c.table_elts {
                referenced_tables(e, out);
            }
        }
        NodeEnum::RenameStmt(r) => rv(&r.relation, AccessExclusive, out),
        NodeEnum::TruncateStmt(t) => range_vars(&t.relations, AccessExclusive, out),
        NodeEnum::DropStmt(d) if d.remove_type == ObjectType::ObjectTable as i32 => {
            for o in &d.objects {
                if let Some(name) = super::hazard::dotted_name(o) {
                    out.push(TableLock {
                        table: name,
                        mode: AccessExclusive,
                    });
                }
            }
        }
        NodeEnum::InsertStmt(i) => rv(&i.relation, RowExclusive, out),
        NodeEnum::UpdateStmt(u) => rv(&u.relation, RowExclusive, out),
        NodeEnum::DeleteStmt(d) => rv(&d.relation, RowExclusive, out),
        NodeEnum::MergeStmt(m) => rv(&m.relation, RowExclusive, out),
        NodeEnum::LockStmt(l) => range_vars(&l.relations, LockMode::from_lock_stmt(l.mode), out),
        NodeEnum::CreateTrigStmt(t) => rv(&t.relation, ShareRowExclusive, out),
        NodeEnum::VacuumStmt(v) => vacuum_locks(v, out),
        NodeEnum::ClusterStmt(c) => rv(&c.relation, AccessExclusive, out),
        NodeEnum::RefreshMatViewStmt(r) => {
            let m = if r.concurrent {
                Exclusive
            } else {
                AccessExclusive
            };
            rv(&r.relation, m, out);
        }
        NodeEnum::ReindexStmt(r) => {
            let concurrent = r.params.iter().any(|p| match p.node.as_ref() {
                Some(NodeEnum::DefElem(d)) => d.defname == "concurrently",
                _ => false,
            });
            let m = if concurrent {
                ShareUpdateExclusive
            } else {
                AccessExclusive
            };
            rv(&r.relation, m, out);
        }
        _ => {}
    }
}

fn range_vars(nodes: &[protobuf::Node], m: LockMode, out: &mut Vec<TableLock>) {
    for n in nodes {
        if let Some(NodeEnum::RangeVar(r)) = n.node.as_ref() {
            out.push(lock(r, m));
        }
    }
}

fn vacuum_locks(v: &protobuf::VacuumStmt, out: &mut Vec<TableLock>) {
    let full = v.options.iter().any(|o| match o.node.as_ref() {
        Some(NodeEnum::DefElem(d)) => d.defname == "full",
        _ => false,
    });
    let m = if full {
        LockMode::AccessExclusive
    } else {
        LockMode::ShareUpdateExclusive
    };
    for r in &v.rels {
        if let Some(NodeEnum::VacuumRelation(vr)) = r.node.as_ref() {
            if let Some(rv) = &vr.relation {
                out.push(lock(rv, m));
            }
        }
    }
}

/// FOREIGN KEYs lock the referenced table SHARE ROW EXCLUSIVE.
fn referenced_tables(n: &protobuf::Node, out: &mut Vec<TableLock>) {
    let mut fk = |k: &protobuf::Constraint| {
        if k.contype == ConstrType::ConstrForeign as i32 {
            if let Some(p) = &k.pktable {
                out.push(lock(p, LockMode::ShareRowExclusive));
            }
        }
    };
    match n.node.as_ref() {
        Some(NodeEnum::Constraint(k)) => fk(k),
        Some(NodeEnum::ColumnDef(cd)) => super::column_constraints(cd).for_each(fk),
        _ => {}
    }
}

fn alter_table_locks(a: &protobuf::AlterTableStmt, out: &mut Vec<TableLock>) {
    let Some(rv) = &a.relation else { return };
    let mut mode = None;
    for c in &a.cmds {
        let Some(NodeEnum::AlterTableCmd(cmd)) = c.node.as_ref() else {
            continue;
        };
        if let Some(d) = &cmd.def {
            referenced_tables(d, out);
        }
        let m = alter_cmd_lock(cmd);
        mode = Some(mode.map_or(m, |x: LockMode| x.max(m)));
    }
    if let Some(m) = mode {
        out.push(lock(rv, m));
    }
}

/// The lock one `ALTER TABLE` command takes (ALTER TABLE docs, per subcommand).
fn alter_cmd_lock(cmd: &protobuf::AlterTableCmd) -> LockMode {
    use LockMode::*;
    let t = T::try_from(cmd.subtype).unwrap_or(T::Undefined);
    match t {
        T::AtValidateConstraint
        | T::AtSetStatistics
        | T::AtSetOptions
        | T::AtResetOptions
        | T::AtClusterOn
        | T::AtDropCluster
        | T::AtSetRelOptions
        | T::AtResetRelOptions
        | T::AtAttachPartition => ShareUpdateExclusive,
        T::AtDetachPartition if cmd.def.as_deref().is_some_and(detach_concurrent) => {
            ShareUpdateExclusive
        }
        T::AtEnableTrig
        | T::AtEnableAlwaysTrig
        | T::AtEnableReplicaTrig
        | T::AtDisableTrig
        | T::AtEnableTrigAll
        | T::AtDisableTrigAll
        | T::AtEnableTrigUser
        | T::AtDisableTrigUser => ShareRowExclusive,
        T::AtAddConstraint if is_foreign_key(cmd) => ShareRowExclusive,
        _ => AccessExclusive,
    }
}

fn detach_concurrent(n: &protobuf::Node) -> bool {
    matches!(n.node.as_ref(), Some(NodeEnum::PartitionCmd(p)) if p.concurrent)
}

fn is_foreign_key(cmd: &protobuf::AlterTableCmd) -> bool {
    matches!(
        cmd.def.as_ref().and_then(|d| d.node.as_ref()),
        Some(NodeEnum::Constraint(k)) if k.contype == ConstrType::ConstrForeign as i32
    )
}

/// One lock a statement of a file takes, in file order.
pub struct LockEvent<'a> {
    pub stmt: &'a crate::core::sql::Statement,
    pub table: String,
    pub mode: LockMode,
    /// The statement writes many rows of this table (see [`is_bulk_dml`]); for a `DO`
    /// block, any UPDATE or DELETE of the table in it.
    pub bulk: bool,
}

/// Every table lock the statements of a file take, in order. `DO` blocks are judged
/// from their footprint: row writes take ROW EXCLUSIVE, DDL on a table or its members
/// ACCESS EXCLUSIVE.
pub fn lock_events(file: &super::ParsedFile) -> Vec<LockEvent<'_>> {
    let mut out = Vec::new();
    for stmt in &file.sql.statements {
        let (locks, is_do) = match &stmt.node {
            Some(NodeEnum::DoStmt(_)) => (footprint_locks(stmt), true),
            Some(n) => (statement_locks(n), false),
            None => (Vec::new(), false),
        };
        for l in locks {
            let bulk = if is_do {
                do_writes_rows(stmt, &l.table)
            } else {
                stmt.node.as_ref().is_some_and(is_bulk_dml)
            };
            out.push(LockEvent {
                stmt,
                table: l.table,
                mode: l.mode,
                bulk,
            });
        }
    }
    out
}

fn do_writes_rows(stmt: &crate::core::sql::Statement, table: &str) -> bool {
    use crate::core::objects::Verb;
    stmt.touches
        .iter()
        .any(|t| matches!(t.verb, Verb::Update | Verb::Delete) && t.object.name == table)
}

fn footprint_locks(stmt: &crate::core::sql::Statement) -> Vec<TableLock> {
    use crate::core::objects::{ObjKind, Verb};
    let mut out = Vec::new();
    for t in &stmt.touches {
        let (table, mode) = match (t.verb, t.object.kind) {
            (Verb::Insert | Verb::Update | Verb::Delete, ObjKind::Table) => {
                (t.object.name.clone(), LockMode::RowExclusive)
            }
            (Verb::Truncate, ObjKind::Table) | (Verb::Alter | Verb::Drop, ObjKind::Table) => {
                (t.object.name.clone(), LockMode::AccessExclusive)
            }
            (_, k) if k.is_table_member() => match t.object.table() {
                Some(table) => (table, LockMode::AccessExclusive),
                None => continue,
            },
            _ => continue,
        };
        out.push(TableLock { table, mode });
    }
    merge(out)
}

/// True for statements that rewrite many rows of a table: UPDATE, DELETE, MERGE and
/// INSERT … SELECT (a backfill), not INSERT … VALUES.
pub fn is_bulk_dml(n: &NodeEnum) -> bool {
    match n {
        NodeEnum::UpdateStmt(_) | NodeEnum::DeleteStmt(_) | NodeEnum::MergeStmt(_) => true,
        NodeEnum::InsertStmt(i) => matches!(
            i.select_stmt.as_deref().and_then(|s| s.node.as_ref()),
            Some(NodeEnum::SelectStmt(s)) if s.values_lists.is_empty()
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locks(sql: &str) -> Vec<(String, LockMode)> {
        let p = pg_query::parse(sql, 0).expect("parses");
        let n = p.protobuf.stmts[0]
            .stmt
            .as_ref()
            .and_then(|s| s.node.clone())
            .expect("a statement");
        statement_locks(&n)
            .into_iter()
            .map(|l| (l.table, l.mode))
            .collect()
    }

    #[test]
    fn modes_of_common_statements() {
        use LockMode::*;
        let one =
            |sql: &str, m: LockMode| assert_eq!(locks(sql), vec![("public.t".into(), m)], "{sql}");
        one("ALTER TABLE t ADD COLUMN c int", AccessExclusive);
        one("ALTER TABLE t VALIDATE CONSTRAINT k", ShareUpdateExclusive);
        one("CREATE INDEX i ON t (c)", Share);
        one("CREATE INDEX CONCURRENTLY i ON t (c)", ShareUpdateExclusive);
        one("UPDATE t SET c = 1", RowExclusive);
        one("LOCK TABLE t IN SHARE MODE", Share);
        one("TRUNCATE t", AccessExclusive);
        one("VACUUM FULL t", AccessExclusive);
        one(
            "ALTER TABLE t DETACH PARTITION p CONCURRENTLY",
            ShareUpdateExclusive,
        );
        assert_eq!(
            locks("ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (c) REFERENCES p (id)"),
            vec![
                ("public.p".into(), ShareRowExclusive),
                ("public.t".into(), ShareRowExclusive)
            ]
        );
        assert!(locks("SELECT 1").is_empty());
    }
}
