//! `stepgate.toml` → `core::manifest::parse`, then the error rendered the way the CLI
//! renders it (miette, with the span), so a bad span panics here too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    match stepgate::core::manifest::parse("stepgate.toml", src, Path::new(".")) {
        Ok(pack) => {
            let _ = stepgate::engine::pack::named_files(&pack);
            for step in &pack.manifest.step {
                let _ = (step.gate_names(), step.rollback_gate_names());
            }
            for g in pack.manifest.gate.values() {
                let _ = g.quorum();
            }
        }
        Err(e) => {
            let _ = e.line_col();
            let _ = format!("{e}");
            let _ = format!("{:?}", e.report());
        }
    }
});
