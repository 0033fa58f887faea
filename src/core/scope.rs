//! The scope of a step: the objects its statements name, by the catalogs' name indexes.
//! The incremental measurement ([`crate::db::footprint`]) starts from it.

use crate::core::objects::{ObjKind, ObjectRef, Verb};
use crate::core::sql::Statement;
use std::collections::BTreeSet;

/// The names a step mentions, split for lookup by the catalogs' name indexes.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// (schema, relation): tables, views, sequences, indexes, and the tables of members.
    pub relations: BTreeSet<(String, String)>,
    /// (schema, function name), any argument types.
    pub functions: BTreeSet<(String, String)>,
    /// (schema, type name).
    pub types: BTreeSet<(String, String)>,
    pub schemas: BTreeSet<String>,
    /// Extensions, whose members come and go with them.
    pub extensions: BTreeSet<String>,
    /// Whether schemas take their contents into the scope (a schema renamed or dropped
    /// re-spells or removes everything in it; granting on it changes nothing inside).
    pub schema_contents: bool,
    /// Statements that are GRANT, REVOKE or ALTER DEFAULT PRIVILEGES: DDL that names no
    /// single object to an event trigger, so the DDL tracker counts them instead.
    pub grants: usize,
    /// Some statement may change the catalog where no event trigger sees it (`REASSIGN
    /// OWNED`, event triggers themselves) or hides what it runs (a DO block, CALL, dynamic
    /// SQL): the DDL tracker cannot vouch for such a step, the catalog scan can.
    pub untracked: bool,
}

/// The names a step's statements mention (touches, what comes and goes with them, and
/// references) plus the effects it declares. Unqualified names mean `public`, as in the
/// object grammar and under the search_path stepgate pins.
pub fn names_of(statements: &[&Statement], declared: &[&ObjectRef]) -> Names {
    let mut n = Names::default();
    let mut add = |o: &ObjectRef| {
        let rel_name = if o.kind.is_table_member() {
            o.table()
        } else {
            Some(o.name.clone())
        };
        let pair = |name: &str| -> (String, String) {
            match name.split_once('.') {
                Some((s, r)) => (s.to_string(), r.to_string()),
                None => ("public".to_string(), name.to_string()),
            }
        };
        match o.kind {
            ObjKind::Schema => {
                n.schemas.insert(o.name.clone());
            }
            ObjKind::Function => {
                let base = o.name.split('(').next().unwrap_or(&o.name);
                n.functions.insert(pair(base));
            }
            ObjKind::Type => {
                n.types.insert(pair(&o.name));
            }
            ObjKind::Extension => {
                n.extensions.insert(o.name.clone());
            }
            ObjKind::EventTrigger => {}
            _ => {
                if let Some(r) = rel_name {
                    n.relations.insert(pair(&r));
                }
            }
        }
    };
    for st in statements {
        for t in &st.touches {
            add(&t.object);
            t.owned.iter().for_each(&mut add);
            if t.object.kind == ObjKind::Schema && matches!(t.verb, Verb::Drop | Verb::Alter) {
                n.schema_contents |= schema_renamed_or_dropped(st);
            }
        }
        st.references.iter().for_each(&mut add);
    }
    declared.iter().for_each(|o| add(o));
    for st in statements {
        moved_or_renamed(st, &mut n);
        n.grants += usize::from(grant_like(st));
        n.untracked |= untracked(st);
    }
    n
}

fn grant_like(st: &Statement) -> bool {
    use pg_query::NodeEnum;
    matches!(
        &st.node,
        Some(NodeEnum::GrantStmt(_) | NodeEnum::AlterDefaultPrivilegesStmt(_))
    )
}

/// See [`Names::untracked`].
fn untracked(st: &Statement) -> bool {
    use pg_query::NodeEnum;
    st.opaque
        || st.is_do
        || matches!(
            &st.node,
            Some(
                NodeEnum::ReassignOwnedStmt(_)
                    | NodeEnum::CreateEventTrigStmt(_)
                    | NodeEnum::AlterEventTrigStmt(_)
                    | NodeEnum::CallStmt(_)
            )
        )
}

/// A statement that renames, moves or drops a schema changes what lives inside it.
fn schema_renamed_or_dropped(st: &Statement) -> bool {
    use pg_query::NodeEnum;
    matches!(
        &st.node,
        Some(NodeEnum::RenameStmt(_) | NodeEnum::AlterObjectSchemaStmt(_) | NodeEnum::DropStmt(_))
    )
}

/// A rename, `SET SCHEMA` or ALTER TABLE names its object in the node itself, whatever the
/// static model makes of it: the relation, or the schema (whose contents are re-spelled).
fn moved_or_renamed(st: &Statement, n: &mut Names) {
    use pg_query::protobuf::ObjectType;
    use pg_query::NodeEnum;
    let rel = |r: &Option<pg_query::protobuf::RangeVar>, n: &mut Names| {
        if let Some(r) = r {
            let schema = if r.schemaname.is_empty() {
                "public".to_string()
            } else {
                r.schemaname.clone()
            };
            n.relations.insert((schema, r.relname.clone()));
        }
    };
    match &st.node {
        Some(NodeEnum::RenameStmt(r)) => {
            rel(&r.relation, n);
            if r.rename_type() == ObjectType::ObjectSchema {
                n.schemas.insert(r.subname.clone());
                n.schema_contents = true;
            }
        }
        Some(NodeEnum::AlterObjectSchemaStmt(a)) => {
            rel(&a.relation, n);
            n.schemas.insert(a.newschema.clone());
        }
        // The relation an ALTER TABLE acts on is named, whatever the model makes of the
        // subcommand (ATTACH PARTITION is modelled as a change of the partition).
        Some(NodeEnum::AlterTableStmt(a)) => rel(&a.relation, n),
        _ => {}
    }
}
