//! A step file → `core::sql::parse_file`, then the whole linter on a one-step pack built
//! around it (the input is the step file and its rollback; the manifest declares effects,
//! forbid rules, protected and organic tables and a required header so most rules run).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use stepgate::core::{lint, manifest, sql};

const MANIFEST: &str = r#"
[pack]
id = "fuzz"
title = "fuzz"
protected = ["public.keep"]
organic = ["public.grows"]
[pack.target]
database = "db"
[pack.lint]
require_header = ["REHEARSAL-ONLY"]
[gate.owner]
kind = "signature"
signers = ["owner@example.org"]
[[step]]
id = "1"
name = "one"
file = "01.sql"
rollback = "rollback/01.sql"
gates = ["owner"]
forbid = ["drop table", "update public.keep"]
rollback_keeps = ["rows public.grows"]
[step.effects]
create = ["table public.t", "index public.t_idx", "function public.f(integer)"]
alter = ["table public.a"]
drop = ["column public.a.old"]
rows = { "public.t" = { insert = 1 }, "public.grows" = { update = 2 } }
[[step]]
id = "2"
name = "two"
file = "02.sql"
requires = ["1"]
"#;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    match sql::parse_file("01.sql", src) {
        Ok(f) => {
            let _ = f.split_at_terminal();
            for s in &f.statements {
                let _ = (s.head_len(), s.is_read_only(), s.is_transaction_control());
                let _ = f.section_of(s.start);
            }
        }
        Err(e) => {
            let _ = format!("{e}");
            let _ = format!("{:?}", e.report());
        }
    }
    let pack = manifest::parse("stepgate.toml", MANIFEST, Path::new("."))
        .expect("the fixed manifest parses");
    let mut sources = lint::PackSources::default();
    for rel in ["01.sql", "rollback/01.sql"] {
        sources.files.insert(rel.to_string(), Ok(src.to_string()));
        sources.sql_on_disk.push(rel.to_string());
    }
    sources.files.insert(
        "02.sql".to_string(),
        Err("cannot read: No such file or directory".to_string()),
    );
    let diags = lint::run(&pack, &sources);
    let _ = lint::exit_code(&diags);
    let _ = lint::output::to_json(pack.id(), &diags);
    let _ = lint::output::to_sarif(".", &diags);
    // What `stepgate lint` prints: each finding as a located, rendered error.
    for d in &diags {
        let text = if d.file == "stepgate.toml" {
            MANIFEST
        } else {
            src
        };
        let e = stepgate::core::error::SourceError::new(&d.file, text, d.message.clone())
            .span(d.offset, d.length);
        let _ = format!("{:?}", e.report());
    }
});
