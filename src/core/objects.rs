//! Object references: the names by which `[step.effects]`, `forbid` rules and the
//! catalog diff talk about database objects.
//!
//! One grammar serves all three so that a declared effect, a statement's static
//! footprint and a measured catalog change can be compared by plain equality.
//!
//! ```text
//! table|view|materialized view|sequence|index|type  schema.name
//! column                                             schema.table.column
//! constraint|trigger|policy                          schema.table.name
//! function                                           schema.name(argtypes)
//! schema                                             name
//! extension                                          name
//! event trigger                                      name
//! ```
//! An unqualified name means `public`.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjKind {
    Schema,
    Table,
    Column,
    Constraint,
    Index,
    View,
    MaterializedView,
    Sequence,
    Function,
    Trigger,
    Type,
    Policy,
    Extension,
    EventTrigger,
}

impl ObjKind {
    pub const ALL: [ObjKind; 14] = [
        ObjKind::Schema,
        ObjKind::Table,
        ObjKind::Column,
        ObjKind::Constraint,
        ObjKind::Index,
        ObjKind::View,
        ObjKind::MaterializedView,
        ObjKind::Sequence,
        ObjKind::Function,
        ObjKind::Trigger,
        ObjKind::Type,
        ObjKind::Policy,
        ObjKind::Extension,
        ObjKind::EventTrigger,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ObjKind::Schema => "schema",
            ObjKind::Table => "table",
            ObjKind::Column => "column",
            ObjKind::Constraint => "constraint",
            ObjKind::Index => "index",
            ObjKind::View => "view",
            ObjKind::MaterializedView => "materialized view",
            ObjKind::Sequence => "sequence",
            ObjKind::Function => "function",
            ObjKind::Trigger => "trigger",
            ObjKind::Type => "type",
            ObjKind::Policy => "policy",
            ObjKind::Extension => "extension",
            ObjKind::EventTrigger => "event trigger",
        }
    }

    /// How many dot-separated parts a fully qualified name of this kind has.
    fn parts(self) -> usize {
        match self {
            ObjKind::Schema | ObjKind::Extension | ObjKind::EventTrigger => 1,
            ObjKind::Column | ObjKind::Constraint | ObjKind::Trigger | ObjKind::Policy => 3,
            _ => 2,
        }
    }

    /// True for kinds that live inside a table (their name starts with the table's).
    pub fn is_table_member(self) -> bool {
        matches!(
            self,
            ObjKind::Column | ObjKind::Constraint | ObjKind::Trigger | ObjKind::Policy
        )
    }

    /// True for kinds that are relations (pg_class entries) with a `schema.name`.
    pub fn is_relation(self) -> bool {
        matches!(
            self,
            ObjKind::Table
                | ObjKind::View
                | ObjKind::MaterializedView
                | ObjKind::Sequence
                | ObjKind::Index
        )
    }

    /// Parses the leading kind words of `text`, returning the kind and the rest.
    pub fn parse_prefix(text: &str) -> Option<(ObjKind, &str)> {
        let t = text.trim_start();
        // Longest names first so "materialized view" wins over "view".
        let mut kinds: Vec<ObjKind> = ObjKind::ALL.to_vec();
        kinds.sort_by_key(|k| std::cmp::Reverse(k.as_str().len()));
        for k in kinds {
            let w = k.as_str();
            // `get` rather than slicing: the text is user input and may be any UTF-8.
            if t.get(..w.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(w))
            {
                let rest = t.get(w.len()..).unwrap_or("");

                if rest.is_empty() || rest.starts_with(char::is_whitespace) {
                    return Some((k, rest.trim()));
                }
            }
        }
        None
    }
}

impl fmt::Display for ObjKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A database object named the stepgate way: `kind qualified.name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    pub kind: ObjKind,
    /// Fully qualified, lower-cased unless it was quoted; functions carry `(argtypes)`.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectRefError {
    #[error("unknown object kind in `{0}`; expected one of: schema, table, column, constraint, index, view, materialized view, sequence, function, trigger, type, policy, extension, event trigger")]
    UnknownKind(String),
    #[error("`{0}` needs a name")]
    MissingName(String),
    #[error("`{text}`: a {kind} is named `{shape}`")]
    BadShape {
        text: String,
        kind: ObjKind,
        shape: &'static str,
    },
}

impl ObjectRef {
    pub fn new(kind: ObjKind, name: impl Into<String>) -> Self {
        ObjectRef {
            kind,
            name: name.into(),
        }
    }

    /// Parses `kind name`, qualifying an unqualified name with `public`.
    pub fn parse(text: &str) -> Result<ObjectRef, ObjectRefError> {
        let (kind, rest) =
            ObjKind::parse_prefix(text).ok_or_else(|| ObjectRefError::UnknownKind(text.into()))?;
        if rest.is_empty() {
            return Err(ObjectRefError::MissingName(text.into()));
        }
        let name = qualify(kind, rest).ok_or(ObjectRefError::BadShape {
            text: text.into(),
            kind,
            shape: shape_of(kind),
        })?;
        Ok(ObjectRef { kind, name })
    }

    /// For table members and indexes-of-tables: the owning relation's name (`schema.table`).
    pub fn table(&self) -> Option<String> {
        if self.kind.is_table_member() {
            let mut it = self.name.rsplitn(2, '.');
            it.next();
            it.next().map(str::to_string)
        } else {
            None
        }
    }

    /// The schema part of the name, where the kind has one.
    pub fn schema(&self) -> Option<&str> {
        match self.kind {
            ObjKind::Schema => Some(&self.name),
            ObjKind::Extension | ObjKind::EventTrigger => None,
            _ => self.name.split('.').next(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

fn shape_of(kind: ObjKind) -> &'static str {
    match kind {
        ObjKind::Schema | ObjKind::Extension | ObjKind::EventTrigger => "name",
        ObjKind::Column => "schema.table.column",
        ObjKind::Constraint | ObjKind::Trigger | ObjKind::Policy => "schema.table.name",
        ObjKind::Function => "schema.name(argtypes)",
        _ => "schema.name",
    }
}

/// Normalises one identifier the way PostgreSQL does: quoted keeps its case, bare folds to lower.
pub fn normalize_ident(part: &str) -> String {
    let p = part.trim();
    if p.len() >= 2 && p.starts_with('"') && p.ends_with('"') {
        p[1..p.len() - 1].replace("\"\"", "\"")
    } else {
        p.to_lowercase()
    }
}

/// Splits a dotted name on dots outside double quotes and parentheses.
pub fn split_dotted(name: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    let mut depth = 0usize;
    for c in name.chars() {
        match c {
            '"' => {
                in_quote = !in_quote;
                cur.push(c);
            }
            '(' if !in_quote => {
                depth += 1;
                cur.push(c);
            }
            ')' if !in_quote => {
                depth = depth.saturating_sub(1);
                cur.push(c);
            }
            '.' if !in_quote && depth == 0 => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

/// Normalises a function argument list: lower-case, single spaces, no spaces after
/// commas, and PostgreSQL's own spelling of type aliases (`int` → `integer`,
/// `varchar` → `character varying`, …) so a declared `f(int)` equals the catalog's.
pub fn normalize_args(args: &str) -> String {
    let words: Vec<String> = args
        .trim()
        .split(',')
        .map(|a| {
            a.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        })
        .filter(|a| !a.is_empty())
        .map(|a| canonical_type_name(&a))
        .collect();
    words.join(",")
}

/// The name `format_type` prints for a type alias (arrays keep their `[]`).
pub fn canonical_type_name(t: &str) -> String {
    let (base, array) = match t.strip_suffix("[]") {
        Some(b) => (b.trim(), "[]"),
        None => (t, ""),
    };
    let canon = match base {
        "int" | "int4" => "integer",
        "int8" => "bigint",
        "int2" => "smallint",
        "float8" | "float" => "double precision",
        "float4" => "real",
        "bool" => "boolean",
        "varchar" => "character varying",
        "char" | "bpchar" => "character",
        "timestamptz" => "timestamp with time zone",
        "timestamp" => "timestamp without time zone",
        "timetz" => "time with time zone",
        "time" => "time without time zone",
        "decimal" => "numeric",
        other => other,
    };
    format!("{canon}{array}")
}

/// An identifier as written: quoted (anything but empty) or bare (a letter or `_`, then
/// letters, digits, `_` or `$`, as PostgreSQL's scanner accepts).
fn valid_ident(raw: &str) -> bool {
    let p = raw.trim();
    if p.len() >= 2 && p.starts_with('"') && p.ends_with('"') {
        return p.len() > 2;
    }
    let mut chars = p.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

fn qualify(kind: ObjKind, rest: &str) -> Option<String> {
    if kind == ObjKind::Function {
        let (head, args) = match rest.find('(') {
            Some(i) if rest.trim_end().ends_with(')') => {
                let end = rest.trim_end().len() - 1;
                (&rest[..i], Some(&rest[i + 1..end]))
            }
            Some(_) => return None,
            None => (rest, None),
        };
        let raw = split_dotted(head.trim());
        if !raw.iter().all(|p| valid_ident(p)) {
            return None;
        }
        let parts: Vec<String> = raw.iter().map(|p| normalize_ident(p)).collect();
        let base = match parts.len() {
            1 => format!("public.{}", parts[0]),
            2 => format!("{}.{}", parts[0], parts[1]),
            _ => return None,
        };
        if parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        return Some(match args {
            Some(a) => format!("{base}({})", normalize_args(a)),
            None => base,
        });
    }
    let raw = split_dotted(rest);
    if !raw.iter().all(|p| valid_ident(p)) {
        return None;
    }
    let parts: Vec<String> = raw.iter().map(|p| normalize_ident(p)).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let want = kind.parts();
    if want == 1 {
        return (parts.len() == 1).then(|| parts[0].clone());
    }
    if parts.len() == want {
        Some(parts.join("."))
    } else if parts.len() == want - 1 {
        Some(format!("public.{}", parts.join(".")))
    } else {
        None
    }
}

/// Writes and DDL verbs used by `forbid` rules and static footprints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verb {
    Create,
    Alter,
    Drop,
    Insert,
    Update,
    Delete,
    Truncate,
}

impl Verb {
    pub const ALL: [Verb; 7] = [
        Verb::Create,
        Verb::Alter,
        Verb::Drop,
        Verb::Insert,
        Verb::Update,
        Verb::Delete,
        Verb::Truncate,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Alter => "alter",
            Verb::Drop => "drop",
            Verb::Insert => "insert",
            Verb::Update => "update",
            Verb::Delete => "delete",
            Verb::Truncate => "truncate",
        }
    }
    pub fn is_dml(self) -> bool {
        matches!(
            self,
            Verb::Insert | Verb::Update | Verb::Delete | Verb::Truncate
        )
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `forbid` entry: `<verb> <kind> [name]`. DML verbs may omit the kind (`insert public.t`
/// means `insert table public.t`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForbidRule {
    pub verb: Verb,
    pub kind: ObjKind,
    pub name: Option<String>,
    pub text: String,
}

impl ForbidRule {
    pub fn parse(text: &str) -> Result<ForbidRule, String> {
        let t = text.trim();
        let (verb_word, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
        let verb = Verb::ALL
            .iter()
            .copied()
            .find(|v| v.as_str().eq_ignore_ascii_case(verb_word))
            .ok_or_else(|| {
                format!(
                    "`{t}`: a forbid rule starts with a verb: create, alter, drop, insert, update, delete or truncate"
                )
            })?;
        let rest = rest.trim();
        if rest.is_empty() {
            return Err(format!(
                "`{t}`: name a kind after the verb, e.g. `{verb} trigger` or `{verb} table public.t`"
            ));
        }
        let (kind, name) = match ObjKind::parse_prefix(rest) {
            Some((k, n)) => (k, n),
            None if verb.is_dml() => (ObjKind::Table, rest),
            None => return Err(ObjectRefError::UnknownKind(t.to_string()).to_string()),
        };
        let name = if name.is_empty() {
            None
        } else {
            Some(
                qualify(kind, name)
                    .ok_or_else(|| format!("`{t}`: a {kind} is named `{}`", shape_of(kind)))?,
            )
        };
        Ok(ForbidRule {
            verb,
            kind,
            name,
            text: t.to_string(),
        })
    }

    pub fn matches(&self, verb: Verb, obj: &ObjectRef) -> bool {
        self.verb == verb
            && self.kind == obj.kind
            && self
                .name
                .as_ref()
                .is_none_or(|n| object_name_matches(n, &obj.name))
    }
}

/// A name without an argument list matches every overload of a function.
pub fn object_name_matches(pattern: &str, name: &str) -> bool {
    if pattern == name {
        return true;
    }
    !pattern.contains('(') && name.split('(').next() == Some(pattern)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_qualifies() {
        let r = ObjectRef::parse("table governance_ruleset").unwrap();
        assert_eq!(r.to_string(), "table public.governance_ruleset");
        let r = ObjectRef::parse("materialized view s.mv").unwrap();
        assert_eq!(r.kind, ObjKind::MaterializedView);
        let r = ObjectRef::parse("column t.c").unwrap();
        assert_eq!(r.name, "public.t.c");
        let r = ObjectRef::parse("function f(text, INTEGER)").unwrap();
        assert_eq!(r.name, "public.f(text,integer)");
        let r = ObjectRef::parse("function f(int, varchar, bool[])").unwrap();
        assert_eq!(r.name, "public.f(integer,character varying,boolean[])");

        let r = ObjectRef::parse("trigger public.\"T\".trg").unwrap();
        assert_eq!(r.name, "public.T.trg");
        assert_eq!(r.table().as_deref(), Some("public.T"));
        assert!(ObjectRef::parse("gizmo x").is_err());
        assert!(ObjectRef::parse("table").is_err());
        assert!(ObjectRef::parse("column a.b.c.d").is_err());
    }

    #[test]
    fn forbid_rules_match() {
        let f = ForbidRule::parse("create trigger").unwrap();
        assert!(f.matches(Verb::Create, &ObjectRef::parse("trigger a.b.c").unwrap()));
        assert!(!f.matches(Verb::Drop, &ObjectRef::parse("trigger a.b.c").unwrap()));
        let f = ForbidRule::parse("alter table public.governance_relations").unwrap();
        assert!(f.matches(
            Verb::Alter,
            &ObjectRef::parse("table governance_relations").unwrap()
        ));
        assert!(!f.matches(Verb::Alter, &ObjectRef::parse("table other").unwrap()));
        let f = ForbidRule::parse("insert approval_requests").unwrap();
        assert_eq!(f.kind, ObjKind::Table);
        assert!(ForbidRule::parse("smash table x").is_err());
        assert!(ForbidRule::parse("create").is_err());
    }
}
