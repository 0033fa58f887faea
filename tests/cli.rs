//! The CLI's contract: exit codes, the JSON and SARIF shapes, `init` passing `lint`,
//! help, completions and the man page. No database needed.

mod common;
use common::bin;
use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("run stepgate")
}

fn init_pack() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("pack");
    let out = run(&[
        "init",
        p.to_str().unwrap(),
        "--database",
        "appdb",
        "--profile",
        "sections",
        "-q",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    t
}

#[test]
fn init_output_passes_lint_and_refuses_to_overwrite() {
    let t = init_pack();
    let p = t.path().join("pack");
    let out = run(&["lint", p.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 error(s), 0 warning(s)"));
    let again = run(&["init", p.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn lint_json_and_sarif_shapes() {
    let t = init_pack();
    let p = t.path().join("pack");
    // Introduce an error (COMMIT in a step file) and a warning (a stray .sql file).
    let f = p.join("01_example.sql");
    let text = std::fs::read_to_string(&f)
        .unwrap()
        .replace("\nROLLBACK;\n", "\nCOMMIT;\n");
    std::fs::write(&f, text).unwrap();
    std::fs::write(p.join("stray.sql"), "SELECT 1;\n").unwrap();
    let out = run(&["lint", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["pack"], "pack");
    assert!(v["summary"]["errors"].as_u64().unwrap() >= 1);
    assert!(v["summary"]["warnings"].as_u64().unwrap() >= 1);
    let d = v["diagnostics"].as_array().unwrap();
    let commit = d
        .iter()
        .find(|x| x["code"] == "SG012")
        .expect("SG012 fires on COMMIT");
    for key in [
        "code",
        "rule",
        "severity",
        "file",
        "line",
        "column",
        "offset",
        "length",
        "message",
        "help",
        "bad_input",
    ] {
        assert!(commit.get(key).is_some(), "missing {key}: {commit}");
    }
    assert_eq!(commit["file"], "01_example.sql");
    assert_eq!(commit["severity"], "error");
    assert!(d
        .iter()
        .any(|x| x["code"] == "SG003" && x["severity"] == "warning"));

    let out = run(&["lint", p.to_str().unwrap(), "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(1));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["version"], "2.1.0");
    let driver = &s["runs"][0]["tool"]["driver"];
    assert_eq!(driver["name"], "stepgate");
    assert!(driver["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == "SG012"));
    let res = s["runs"][0]["results"].as_array().unwrap();
    let r = res.iter().find(|r| r["ruleId"] == "SG012").unwrap();
    assert_eq!(r["level"], "error");
    assert_eq!(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "01_example.sql"
    );
    assert!(
        r["locations"][0]["physicalLocation"]["region"]["startLine"]
            .as_u64()
            .unwrap()
            > 1
    );
}

#[test]
fn bad_input_exits_2_naming_file_and_line() {
    let t = init_pack();
    let p = t.path().join("pack");
    // Unparsable SQL: the parser's own message, the file, the line.
    let f = p.join("01_example.sql");
    let text = std::fs::read_to_string(&f).unwrap().replace(
        "CREATE TABLE public.example_table (",
        "CREAT TABLE public.example_table (",
    );
    std::fs::write(&f, text).unwrap();
    let out = run(&["lint", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["code"] == "SG001")
        .cloned()
        .unwrap();
    assert_eq!(d["file"], "01_example.sql");
    assert_eq!(d["line"], 24);
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("syntax error at or near \"CREAT\""),
        "{d}"
    );
    // A malformed manifest: file:line:col with a suggestion.
    let m = p.join("stepgate.toml");
    let text = std::fs::read_to_string(&m)
        .unwrap()
        .replace("requires = []", "requries = []");
    std::fs::write(&m, text).unwrap();
    let out = run(&["lint", p.to_str().unwrap(), "--color", "never"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("stepgate.toml")
            && err.contains("requries")
            && err.contains("did you mean `requires`"),
        "{err}"
    );
    // A missing pack.
    let out = run(&["lint", t.path().join("nope").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    // Bad arguments are bad input too.
    assert_eq!(run(&["apply"]).status.code(), Some(2));
}

#[test]
fn freeze_then_edit_is_reported() {
    let t = init_pack();
    let p = t.path().join("pack");
    let out = run(&["freeze", "-p", p.to_str().unwrap(), "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["files"].as_array().unwrap().len() >= 6);
    assert_eq!(run(&["lint", p.to_str().unwrap()]).status.code(), Some(0));
    let f = p.join("01_example.sql");
    std::fs::write(
        &f,
        format!("{}-- edited\n", std::fs::read_to_string(&f).unwrap()),
    )
    .unwrap();
    let out = run(&["lint", p.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["code"] == "SG004"
                && d["message"].as_str().unwrap().contains("01_example.sql"))
    );
}

#[test]
fn rules_help_completions_and_man() {
    let out = run(&["rules", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.as_array().unwrap().len() >= 30);
    let out = run(&["rules", "--explain", "SG012"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("transaction-shape"));
    assert_eq!(run(&["rules", "--explain", "SG999"]).status.code(), Some(2));
    let help = String::from_utf8_lossy(&run(&["apply", "--help"]).stdout).to_string();
    assert!(
        help.contains("--retries") && help.contains("Exit:"),
        "{help}"
    );
    let comp = run(&["completions", "bash"]);
    assert!(String::from_utf8_lossy(&comp.stdout).contains("stepgate"));
    let man = run(&["man"]);
    assert!(String::from_utf8_lossy(&man.stdout).contains(".TH"));
}
