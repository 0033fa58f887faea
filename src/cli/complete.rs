//! Shell completions that know the pack: `--step <TAB>` offers the step ids of the
//! pack on the command line (`-p DIR`, else `STEPGATE_PACK`, else the current folder)
//! and `--gate <TAB>` its gate names. clap_complete writes the static script; the
//! scripts for bash, zsh and fish are then taught to ask the hidden
//! `stepgate __complete steps|gates` for those two values, so the list is read
//! from the pack at the moment of completion and never goes stale.

use clap::{CommandFactory, ValueEnum};
use clap_complete::Shell;

/// What `stepgate __complete` lists.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Candidates {
    /// Step ids, each with its name after a tab.
    Steps,
    /// Gate names, each with its kind after a tab.
    Gates,
}

/// The candidates of the pack at `pack`, one `value<TAB>description` per line; nothing
/// when the pack cannot be read (a completion must never print an error).
pub fn candidates(pack: &std::path::Path, what: Candidates) -> String {
    let Ok(loaded) = crate::engine::pack::load(pack) else {
        return String::new();
    };
    let m = &loaded.pack.manifest;
    let lines: Vec<String> = match what {
        Candidates::Steps => m
            .step
            .iter()
            .map(|s| format!("{}\t{}", s.id(), one_line(&s.name)))
            .collect(),
        Candidates::Gates => m
            .gate
            .iter()
            .map(|(name, g)| {
                let kind = match g.kind {
                    crate::core::manifest::GateKind::Signature => "signature",
                    crate::core::manifest::GateKind::Sql => "sql",
                };
                format!("{name}\t{kind} gate")
            })
            .collect(),
    };
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> String {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut super::Cli::command(), "stepgate", &mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    match shell {
        Shell::Bash => format!("{text}\n{BASH}"),
        Shell::Zsh => zsh(&text),
        Shell::Fish => format!("{}\n{FISH}", fish(&text)),
        // Other shells get the static completions.
        _ => text,
    }
}

/// Replaces clap's `_stepgate` registration with one that answers `--step` and
/// `--gate` from the pack and hands everything else to `_stepgate`.
const BASH: &str = r#"# Step ids and gate names come from the pack (-p/--pack, else STEPGATE_PACK, else .).
_stepgate_pack_args() {
    local i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -p|--pack) printf -- '-p\n%s\n' "${COMP_WORDS[i+1]}" ;;
            --pack=*) printf -- '-p\n%s\n' "${COMP_WORDS[i]#--pack=}" ;;
        esac
    done
}
_stepgate_dynamic() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" what=""
    case "$prev" in
        --step) what=steps ;;
        --gate) what=gates ;;
    esac
    if [[ -n "$what" ]]; then
        local -a pack
        mapfile -t pack < <(_stepgate_pack_args)
        local words
        words="$(stepgate __complete "$what" "${pack[@]}" 2>/dev/null | cut -f1)"
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
        return 0
    fi
    _stepgate "$@"
}
complete -F _stepgate_dynamic -o nosort -o bashdefault -o default stepgate
"#;

const ZSH_HELPERS: &str = r#"
# Step ids and gate names come from the pack (-p/--pack, else STEPGATE_PACK, else .).
_stepgate_values() {
    local -a pack vals
    local i
    for ((i = 2; i < CURRENT; i++)); do
        case "${words[i]}" in
            -p|--pack) pack=(-p "${words[i+1]}") ;;
            --pack=*) pack=(-p "${words[i]#--pack=}") ;;
        esac
    done
    vals=(${(f)"$(stepgate __complete $1 $pack 2>/dev/null)"})
    vals=(${vals//:/\\:})
    vals=(${vals//$'\t'/:})
    _describe -t $1 $1 vals
}
_stepgate_steps() { _stepgate_values steps }
_stepgate_gates() { _stepgate_values gates }
"#;

fn zsh(text: &str) -> String {
    let body = text
        .replace(":STEP:_default'", ":STEP:_stepgate_steps'")
        .replace(":GATE:_default'", ":GATE:_stepgate_gates'");
    // The helpers go right after `#compdef`, before the script calls `_stepgate`.
    match body.split_once('\n') {
        Some((first, rest)) => format!("{first}\n{ZSH_HELPERS}\n{rest}"),
        None => body,
    }
}

const FISH: &str = r#"# Step ids and gate names come from the pack (-p/--pack, else STEPGATE_PACK, else .).
function __fish_stepgate_values
    set -l tokens (commandline -opc)
    set -l pack
    set -l n (count $tokens)
    for i in (seq $n)
        switch $tokens[$i]
            case -p --pack
                if test $i -lt $n
                    set pack -p $tokens[(math $i + 1)]
                end
            case '--pack=*'
                set pack -p (string replace -- '--pack=' '' $tokens[$i])
        end
    end
    stepgate __complete $argv[1] $pack 2>/dev/null
end
"#;

fn fish(text: &str) -> String {
    text.lines()
        .map(|l| {
            let what = if l.contains(" -l step ") {
                Some("steps")
            } else if l.contains(" -l gate ") {
                Some("gates")
            } else {
                None
            };
            match what {
                Some(w) => format!("{l} -f -a \"(__fish_stepgate_values {w})\"\n"),
                None => format!("{l}\n"),
            }
        })
        .collect()
}
