//! Inputs the fuzz targets in `fuzz/` found to panic, minimized by hand, each fed to the
//! same library entry point the target uses. Bad input must be an error, never a panic
//! (a panic in the CLI is exit 101, not the documented exit 2). See RELIABILITY.md.

use std::path::Path;
use stepgate::core::{manifest, sql};

/// Runs `f`, failing the test with `what` if it panics (instead of aborting the harness).
fn no_panic<T>(what: &str, f: impl FnOnce() -> T + std::panic::UnwindSafe) -> T {
    match std::panic::catch_unwind(f) {
        Ok(v) => v,
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{what} panicked: {msg}")
        }
    }
}

fn manifest_with(step_extra: &str, pack_extra: &str) -> String {
    format!(
        "[pack]\nid = \"p\"\ntitle = \"t\"\n{pack_extra}\n[pack.target]\ndatabase = \"db\"\n\
         [[step]]\nid = \"1\"\nname = \"one\"\nfile = \"01.sql\"\n{step_extra}\n"
    )
}

fn parse_manifest(src: &str) {
    let r = no_panic("manifest::parse", || {
        manifest::parse("stepgate.toml", src, Path::new("."))
    });
    let e = r.expect_err("the input is invalid");
    // Rendering the error must not panic either.
    let _ = no_panic("rendering the error", || format!("{e} {:?}", e.report()));
}

/// fuzz target `manifest`, artifact crash-322ae54d484711d489c016792aacb2c5bc40bc69:
/// `ObjKind::parse_prefix` (src/core/objects.rs) slices `t[..w.len()]` at a byte index
/// that can fall inside a multi-byte character.
#[test]
fn effect_reference_with_multibyte_kind_prefix() {
    parse_manifest(&manifest_with("[step.effects]\ncreate = [\"tablé x\"]", ""));
}

/// The original artifact's shape: non-ASCII inside a long effect reference (the
/// 17-byte probe for `materialized view` lands inside `֏`).
#[test]
fn effect_reference_fuzz_artifact() {
    parse_manifest(&manifest_with(
        "[step.effects]\ncreate = [\"table public\u{58f}i \u{58f}iredrker_15\"]",
        "",
    ));
}

/// Same function, through the other manifest keys that build `table …` references.
#[test]
fn protected_table_with_non_ascii_name() {
    let src = manifest_with("", "protected = [\"éééééé\"]");
    let _ = no_panic("manifest::parse", || {
        manifest::parse("stepgate.toml", &src, Path::new("."))
    });
}

#[test]
fn rollback_keeps_and_forbid_with_non_ascii() {
    for extra in [
        "rollback_keeps = [\"triggé x\"]",
        "forbid = [\"drop tablé x\"]",
        "[step.effects]\nalter = [\"ééééééééé\"]",
    ] {
        let src = manifest_with(extra, "");
        let _ = no_panic(extra, || {
            manifest::parse("stepgate.toml", &src, Path::new("."))
        });
    }
}

/// Keeps `sql::parse_file` on the list: the `sql` fuzz target's seeds parse without panic.
#[test]
fn sql_parse_file_smoke() {
    for src in ["", ";", "\\", "SELECT 'é';", "DO $$ BEGIN END $$;", "/*"] {
        let _ = no_panic(src, || sql::parse_file("01.sql", src));
    }
}
