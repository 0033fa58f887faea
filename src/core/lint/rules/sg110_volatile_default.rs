//! SG110 adding-column-with-volatile-default: (to be written)

use crate::core::lint::{Emitter, LintContext, Rule, Severity};

pub struct VolatileDefault;

impl Rule for VolatileDefault {
    fn code(&self) -> &'static str {
        "SG110"
    }
    fn name(&self) -> &'static str {
        "adding-column-with-volatile-default"
    }
    fn summary(&self) -> &'static str {
        "(to be written)"
    }
    fn explanation(&self) -> &'static str {
        "(to be written)"
    }
    fn default_severity(&self) -> Severity {
        Severity::Warning
    }
    fn check(&self, _ctx: &LintContext, _out: &mut Emitter) {}
}

#[cfg(test)]
mod scratch {
    #[test]
    fn dump() {
        for s in [
            "ALTER TABLE a ADD COLUMN id serial",
            "ALTER TABLE a ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY",
            "ALTER TABLE a ADD CONSTRAINT nn NOT NULL c NOT VALID",
            "ALTER TABLE a ADD CONSTRAINT u UNIQUE USING INDEX ix",
            "ALTER TABLE a ADD PRIMARY KEY USING INDEX ix",
            "ALTER TABLE a ADD COLUMN c uuid DEFAULT public.gen_random_uuid()",
            "ALTER TABLE a RENAME TO b",
            "ALTER TABLE a RENAME c TO d",
            "ALTER VIEW a RENAME COLUMN c TO d",
            "ALTER TABLE a RENAME CONSTRAINT c TO d",
            "DROP TABLE x.a, b",
        ] {
            let r = pg_query::parse(s, 0).unwrap();
            println!(
                "{s}\n{}\n",
                serde_json::to_string(&r.protobuf.stmts[0].stmt).unwrap()
            );
        }
    }
}
