//! Scripts' contract: idempotent repeats exit 0 and say "nothing to do", `--json` on every
//! verb or a clear refusal, refusal reasons as a JSON list, exit codes in every `--help`,
//! help text on every option, and colour as NO_COLOR / CLICOLOR_FORCE / TERM=dumb expect.

mod common;
use clap::CommandFactory;
use common::bin;
use std::process::Command;
use stepgate::cli::render;
use stepgate::cli::{Cli, ColorChoice};
use stepgate::engine::Error;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .args(args)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .expect("run stepgate")
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn a_second_ledger_install_exits_0_and_says_nothing_to_do() {
    let (_db, ci) = common::empty_db("scripts_ledger");
    common::install_ledger(&ci);
    let human = run(&["ledger", "install", "--environment", "test", "--db", &ci]);
    assert_eq!(
        human.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&human.stderr)
    );
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("nothing to do:"), "{text}");
    assert!(text.contains("already installed"), "{text}");
    let json = run(&[
        "ledger",
        "install",
        "--environment",
        "test",
        "--db",
        &ci,
        "--json",
    ]);
    assert_eq!(json.status.code(), Some(0));
    let v = json_of(&json);
    assert_eq!(v["nothing_to_do"], true, "{v}");
    assert!(
        v["reason"].as_str().unwrap().contains("already installed"),
        "{v}"
    );
    // Still exactly one install fact: the repeat wrote nothing.
    assert_eq!(
        common::count(
            &ci,
            "SELECT count(*) FROM stepgate.events WHERE verb = 'install'"
        ),
        1
    );
}

#[test]
fn nothing_to_do_is_exit_0_and_its_own_kind() {
    let e = Error::NothingToDo("step 1 is already committed (at x)".into());
    assert_eq!(e.exit_code(), 0);
    let v = render::nothing_to_do_json(&e.to_string());
    assert_eq!(v["nothing_to_do"], true);
    assert_eq!(v["reason"], "step 1 is already committed (at x)");
}

#[test]
fn refusal_reasons_are_a_list_in_json() {
    let e = Error::Refused(
        "apply of step 2 refused:\n  requires step 1, which is not applied\n  gate `owner`: 0 of 1 valid approvals".into(),
    );
    let v = render::error_json(&e);
    let err = &v["error"];
    assert_eq!(err["exit_code"], 3);
    assert_eq!(err["kind"], "refused");
    assert_eq!(err["summary"], "apply of step 2 refused");
    assert_eq!(
        err["reasons"],
        serde_json::json!([
            "requires step 1, which is not applied",
            "gate `owner`: 0 of 1 valid approvals"
        ])
    );
    assert!(err["message"].as_str().unwrap().contains("\n  requires"));
    // A one-line message is its own single reason.
    let one = render::error_json(&Error::BadInput("no rule `SG999`".into()));
    assert_eq!(
        one["error"]["reasons"],
        serde_json::json!(["no rule `SG999`"])
    );
    assert_eq!(one["error"]["exit_code"], 2);
}

#[test]
fn a_refusal_from_the_binary_carries_reasons() {
    let out = run(&["rules", "--explain", "SG999", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v = json_of(&out);
    assert_eq!(v["error"]["kind"], "bad_input");
    assert!(v["error"]["reasons"]
        .as_array()
        .is_some_and(|r| r.len() == 1));
}

#[test]
fn verbs_without_json_output_refuse_json_with_exit_2() {
    let t = tempfile::tempdir().unwrap();
    let out_dir = t.path().join("man");
    for args in [
        vec!["demo", "--json"],
        vec!["completions", "bash", "--json"],
        vec!["man", "--json", "--out-dir", out_dir.to_str().unwrap()],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let v = json_of(&out);
        assert_eq!(v["error"]["kind"], "bad_input", "{args:?}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains("does not support --json"), "{args:?}: {msg}");
        assert!(msg.contains(args[0]), "{args:?}: {msg}");
    }
    assert!(!out_dir.exists(), "man wrote pages despite refusing");
}

#[test]
fn init_emits_json() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("pack");
    let out = run(&["init", p.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v = json_of(&out);
    assert_eq!(v["created"], p.to_str().unwrap());
    let files = v["files"].as_array().unwrap();
    assert!(
        files
            .iter()
            .any(|f| f.as_str().unwrap().contains("stepgate.toml")),
        "{v}"
    );
    assert!(p.join("stepgate.toml").exists());
}

#[test]
fn every_verb_help_states_its_exit_codes() {
    let cmd = Cli::command();
    let mut missing = Vec::new();
    for sub in cmd.get_subcommands() {
        let help = sub
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        if !help.contains("Exit: 0") {
            missing.push(sub.get_name().to_string());
        }
    }
    assert!(missing.is_empty(), "no exit codes in --help of {missing:?}");
    let out = run(&["ledger", "--help"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to do"));
}

fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
    for a in cmd.get_arguments() {
        let id = a.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        if a.get_help().is_none() && a.get_long_help().is_none() {
            missing.push(format!("{path} {id}"));
        }
    }
    for s in cmd.get_subcommands() {
        if s.get_about().is_none() && s.get_name() != "help" {
            missing.push(format!("{path} {} (no about)", s.get_name()));
        }
        walk(s, &format!("{path} {}", s.get_name()), missing);
    }
}

#[test]
fn every_option_and_verb_has_help_text() {
    let mut missing = Vec::new();
    walk(&Cli::command(), "stepgate", &mut missing);
    assert!(missing.is_empty(), "no help text: {missing:#?}");
}

#[test]
fn colour_rules_follow_the_conventions() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    let auto = ColorChoice::Auto;
    assert!(render::decide_color(auto, true, env(&[])));
    assert!(!render::decide_color(auto, false, env(&[])));
    assert!(!render::decide_color(auto, true, env(&[("NO_COLOR", "1")])));
    assert!(render::decide_color(
        auto,
        false,
        env(&[("CLICOLOR_FORCE", "1")])
    ));
    assert!(!render::decide_color(
        auto,
        false,
        env(&[("CLICOLOR_FORCE", "0")])
    ));
    assert!(!render::decide_color(
        auto,
        false,
        env(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")])
    ));
    assert!(!render::decide_color(auto, true, env(&[("TERM", "dumb")])));
    // An empty NO_COLOR does not count.
    assert!(render::decide_color(auto, true, env(&[("NO_COLOR", "")])));
    // --color decides over the environment.
    assert!(render::decide_color(
        ColorChoice::Always,
        false,
        env(&[("NO_COLOR", "1")])
    ));
    assert!(!render::decide_color(
        ColorChoice::Never,
        true,
        env(&[("CLICOLOR_FORCE", "1")])
    ));
}

#[test]
fn colour_from_the_binary_honours_the_environment() {
    let esc = |out: &std::process::Output| out.stderr.contains(&0x1b);
    let base = || {
        let mut c = Command::new(bin());
        c.args(["rules", "--explain", "SG999"])
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .env("TERM", "xterm-256color");
        c
    };
    // Not a terminal: no colour by default.
    let plain = base().output().unwrap();
    assert_eq!(plain.status.code(), Some(2));
    assert!(!esc(&plain), "{}", String::from_utf8_lossy(&plain.stderr));
    // CLICOLOR_FORCE: colour even though stderr is a pipe.
    let forced = base().env("CLICOLOR_FORCE", "1").output().unwrap();
    assert!(esc(&forced), "{}", String::from_utf8_lossy(&forced.stderr));
    // NO_COLOR wins over CLICOLOR_FORCE.
    let no = base()
        .env("CLICOLOR_FORCE", "1")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!esc(&no), "{}", String::from_utf8_lossy(&no.stderr));
    // --color=never wins over CLICOLOR_FORCE.
    let never = base()
        .env("CLICOLOR_FORCE", "1")
        .args(["--color", "never"])
        .output()
        .unwrap();
    assert!(!esc(&never));
}

#[test]
fn man_page_has_exit_status_environment_files_and_examples() {
    let out = run(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8_lossy(&out.stdout);
    for head in [
        ".SH \"EXIT STATUS\"",
        ".SH \"ENVIRONMENT\"",
        ".SH \"FILES\"",
        ".SH \"EXAMPLES\"",
    ] {
        assert!(page.contains(head), "no {head}");
    }
    for word in [
        "DATABASE_URL",
        "PGSERVICE",
        "NO_COLOR",
        "CLICOLOR_FORCE",
        "STEPGATE_EVIDENCE_DIR",
        "XDG_STATE_HOME",
        "stepgate.toml",
        "stepgate.lock",
        "approvals/",
        "nothing to do",
    ] {
        assert!(page.contains(word), "man page lacks {word}");
    }
    let t = tempfile::tempdir().unwrap();
    let out = run(&["man", "--out-dir", t.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let top = std::fs::read_to_string(t.path().join("stepgate.1")).unwrap();
    assert!(top.contains(".SH \"ENVIRONMENT\""));
    let apply = std::fs::read_to_string(t.path().join("stepgate-apply.1")).unwrap();
    assert!(
        apply.contains(".SH \"EXIT STATUS\"\n.TP\n0\ncommitted"),
        "{apply}"
    );
}

/// `stepgate apply --step <TAB>` in bash offers the step ids of the pack named with
/// -p, and `--gate <TAB>` its gate names, read by the script from `stepgate __complete`.
#[test]
fn bash_completion_offers_the_packs_step_ids_and_gates() {
    if std::process::Command::new("bash")
        .arg("-c")
        .arg("true")
        .status()
        .is_err()
    {
        eprintln!("note: no bash; skipping the completion check");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let pack = t.path().join("pack");
    assert_eq!(
        run(&["init", pack.to_str().unwrap()]).status.code(),
        Some(0)
    );
    let script = t.path().join("stepgate.bash");
    let out = run(&["completions", "bash"]);
    std::fs::write(&script, &out.stdout).unwrap();
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_stepgate"))
        .parent()
        .unwrap();
    let complete = |words: &str| -> String {
        let sh = format!(
            "source '{}'; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); _stepgate_dynamic stepgate \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(sh)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    bin_dir.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env_remove("STEPGATE_PACK")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let p = pack.to_str().unwrap();
    assert_eq!(
        complete(&format!("stepgate -p '{p}' apply --step ''")),
        "1\n"
    );
    assert_eq!(
        complete(&format!("stepgate rehearse --pack '{p}' --step ''")),
        "1\n"
    );
    let manifest = std::fs::read_to_string(pack.join("stepgate.toml")).unwrap();
    let mut gates: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("[gate.")?.split(']').next())
        .collect();
    gates.sort();
    assert!(gates.contains(&"owner"), "{manifest}");
    let offered = complete(&format!("stepgate -p '{p}' approve --gate ''"));
    assert_eq!(offered.lines().collect::<Vec<_>>(), gates);
    // Everything else is still clap's completion.
    assert!(complete("stepgate reh").contains("rehearse"));
    // The hidden lister prints nothing, and exits 0, for a folder that is no pack.
    let out = run(&["-p", t.path().to_str().unwrap(), "__complete", "steps"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    // zsh and fish ask the same lister.
    let zsh = String::from_utf8_lossy(&run(&["completions", "zsh"]).stdout).into_owned();
    assert!(zsh.contains(":STEP:_stepgate_steps'") && zsh.contains("stepgate __complete"));
    let fish = String::from_utf8_lossy(&run(&["completions", "fish"]).stdout).into_owned();
    assert!(fish.contains("-l step") && fish.contains("(__fish_stepgate_values steps)"));
}

/// Every verb's own page carries its exit codes (from its --help) and points to the
/// environment, so `man stepgate-apply` answers "what does exit 3 mean here".
#[test]
fn every_verb_page_has_its_exit_status_and_environment() {
    let t = tempfile::tempdir().unwrap();
    let out = run(&["man", "--out-dir", t.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let mut pages = 0;
    for e in std::fs::read_dir(t.path()).unwrap() {
        let path = e.unwrap().path();
        if path.file_name().is_some_and(|n| n == "stepgate.1") {
            continue;
        }
        let page = std::fs::read_to_string(&path).unwrap();
        let name = path.display();
        assert!(
            page.contains(".SH \"EXIT STATUS\"\n.TP\n0\n"),
            "{name}: no exit status"
        );
        assert!(
            page.contains(".SH ENVIRONMENT") && page.contains("PGHOST"),
            "{name}"
        );
        assert!(
            !page.contains("__complete"),
            "{name}: the hidden lister leaked"
        );
        pages += 1;
    }
    assert!(pages > 20, "only {pages} verb pages");
    let review = std::fs::read_to_string(t.path().join("stepgate-review.1")).unwrap();
    assert!(review.contains(".SH NOTES"));
}
