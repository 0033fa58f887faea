//! SG127 identifier-too-long: a name longer than 63 bytes.
//!
//! Why: PostgreSQL silently truncates identifiers to 63 bytes (NAMEDATALEN − 1), with a
//! NOTICE nobody reads in a migration. The object is created under a name that is not
//! the one written, two long names that differ only after byte 63 collide, and a later
//! statement or a client that uses the full name finds the truncated object by accident
//! or not at all. Multi-byte characters count by bytes. Use a shorter name.

use crate::core::lint::{Emitter, LintContext, ParsedFile, Rule, Severity};
use crate::core::sql::Statement;
use pg_query::protobuf::Token;

pub struct IdentifierTooLong;

const MAX: usize = 63;

/// Cheap pre-filter, one pass over the bytes: a run of identifier bytes (ASCII letters,
/// digits, `_`, `$`, any non-ASCII byte) or a stretch between double quotes longer
/// than 63 bytes.
fn may_have_long_name(s: &str) -> bool {
    let (mut run, mut quoted) = (0usize, false);
    for b in s.bytes() {
        if b == b'"' {
            quoted = !quoted;
            run = 0;
        } else if quoted || b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80 {
            run += 1;
            if run > MAX {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// The identifiers (unquoted) of a statement longer than 63 bytes.
fn long_names(sql: &str) -> Vec<String> {
    let Ok(r) = pg_query::scan(sql) else {
        return Vec::new();
    };
    r.tokens
        .iter()
        .filter(|t| t.token == Token::Ident as i32)
        .filter_map(|t| sql.get(t.start.max(0) as usize..t.end.max(0) as usize))
        .map(|w| {
            w.strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .map_or_else(|| w.to_string(), |x| x.replace("\"\"", "\""))
        })
        .filter(|w| w.len() > MAX)
        .collect()
}

fn check_statement(f: &ParsedFile, st: &Statement, out: &mut Emitter) {
    if !may_have_long_name(&st.text) {
        return;
    }
    for name in long_names(&st.text) {
        let cut: String = name
            .char_indices()
            .take_while(|(i, c)| i + c.len_utf8() <= MAX)
            .map(|(_, c)| c)
            .collect();
        out.stmt(
            f,
            st,
            format!(
                "name `{name}` is {} bytes: PostgreSQL silently truncates it to 63 (`{cut}`)",
                name.len()
            ),
            Some("use a name of at most 63 bytes".into()),
        );
    }
}

impl Rule for IdentifierTooLong {
    fn code(&self) -> &'static str {
        "SG127"
    }
    fn name(&self) -> &'static str {
        "identifier-too-long"
    }
    fn summary(&self) -> &'static str {
        "a name longer than 63 bytes (silently truncated)"
    }
    fn explanation(&self) -> &'static str {
        "PostgreSQL truncates identifiers to 63 bytes with only a NOTICE: the object gets a name that is not the one written, and long names differing after byte 63 collide. Use a shorter name."
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, ctx: &LintContext, out: &mut Emitter) {
        for (_, _, f) in ctx.step_files() {
            for st in &f.sql.statements {
                check_statement(f, st, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::lint::testing::*;

    fn run(body: &str) -> usize {
        of("SG127", &lint_step("", "", body, "SELECT 1;")).len()
    }

    #[test]
    fn fires_on_long_names() {
        let long = "a".repeat(64);
        assert_eq!(run(&format!("CREATE TABLE {long} (id bigint);")), 1);
        assert_eq!(run(&format!("CREATE TABLE t (\"{long}\" bigint);")), 1);
        assert_eq!(run("CREATE TABLE \"👨‍👩‍👧‍👦👨‍👩‍👧‍👦👨‍👩‍👧‍👦\" (id bigint);"), 1);
    }

    #[test]
    fn quiet_up_to_63_bytes() {
        let ok = "a".repeat(63);
        assert_eq!(run(&format!("CREATE TABLE {ok} (id bigint);")), 0);
        assert_eq!(run(&format!("SELECT '{}';", "x".repeat(100))), 0);
    }
}
