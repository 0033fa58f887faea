//! The thin CLI: parses arguments, calls the engine, renders human or JSON output.
//! One file per verb family under `cli/`; the definitions here double as the source
//! of `--help`, the shell completions and the man page.

pub mod render;
pub mod verbs;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "stepgate",
    version,
    about = "Governed PostgreSQL changes: lint, rehearse, gate, commit, verify and reverse packs of SQL steps",
    long_about = "stepgate turns a production PostgreSQL change into a pack of SQL steps and holds it to discipline:\n\
every step is linted with PostgreSQL's own parser, rehearsed inside BEGIN..ROLLBACK and proven to leave no trace,\n\
committed only behind named, checksum-bound approvals, backed up first, verified after, and reversible —\n\
with every action written to a tamper-evident ledger in the target database.\n\n\
Start with `stepgate demo` to watch the whole story on a throwaway database, or `stepgate init my-pack`.",
    after_help = "Exit codes: 0 ok · 1 a check failed · 2 bad input (nothing executed) · 3 a gate refused · 4 pack halted · 5 database error · 6 wrong target database · 7 another runner holds the pack"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The pack folder (holds stepgate.toml).
    #[arg(
        short = 'p',
        long,
        global = true,
        default_value = ".",
        env = "STEPGATE_PACK"
    )]
    pub pack: PathBuf,
    /// Connection string (URL or key=value). Default: DATABASE_URL, then PGHOST/PGPORT/PGUSER/PGDATABASE/PGPASSWORD and ~/.pgpass.
    #[arg(long, global = true, value_name = "URL")]
    pub db: Option<String>,
    /// Machine-readable JSON on stdout instead of the human report.
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bars, no narration: only results and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// When to use colour.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LintFormat {
    Human,
    Json,
    Sarif,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Scaffold a new pack that passes `stepgate lint` as it is.
    Init {
        /// Folder to create.
        path: PathBuf,
        /// The target database name written into [pack.target].
        #[arg(long, default_value = "postgres")]
        database: String,
    },
    /// Static checks with PostgreSQL's own parser. Never connects to a database.
    #[command(
        after_help = "Exit: 0 no errors (warnings allowed) · 1 errors · 2 bad input (unparsable SQL, missing file, bad manifest)"
    )]
    Lint {
        /// The pack folder (overrides --pack).
        pack_dir: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = LintFormat::Human)]
        format: LintFormat,
    },
    /// List the lint rules, or explain one.
    Rules {
        /// Explain one rule, e.g. SG012.
        #[arg(long, value_name = "CODE")]
        explain: Option<String>,
    },
    /// Write stepgate.lock: the sha256 of every file of the pack (the frozen plan).
    Freeze,
    /// Install, verify or read the ledger (schema `stepgate` in the target database).
    Ledger {
        #[command(subcommand)]
        action: LedgerAction,
    },
    /// Read-only checks before a step: identity, invariants, preflight file, idle sessions, per-step presence.
    Preflight {
        /// Only this step (default: every step).
        #[arg(long)]
        step: Option<String>,
    },
    /// Run a step inside BEGIN..ROLLBACK, measure its delta, prove entry == exit.
    #[command(
        after_help = "Exit: 0 passed · 1 a check failed (the report says which) · 2 bad input · 4 halted · 6 wrong target"
    )]
    Rehearse {
        /// The step to rehearse.
        #[arg(long)]
        step: String,
        /// Rehearse the step's rollback file instead, against the committed state.
        #[arg(long)]
        rollback: bool,
    },
    /// The step ledger: gates, last rehearsal, committed / rolled back, halted.
    Status,
    /// Print the canonical catalog snapshot (its sha256 is the fingerprint).
    Snapshot {
        /// Write the JSON snapshot to this file instead of printing a summary.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Compare two snapshot files (from `stepgate snapshot -o`).
    Diff { before: PathBuf, after: PathBuf },
    /// Generate shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man page (roff) to stdout or a directory.
    Man {
        /// Directory to write stepgate.1 (and one page per verb) into.
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum LedgerAction {
    /// Create schema `stepgate` (run by a database administrator).
    Install {
        /// Environment label stored in the target, checked by every pack's identity guard.
        #[arg(long)]
        environment: Option<String>,
        /// The role stepgate runs as: gets read + append only (no UPDATE/DELETE, no signer changes).
        #[arg(long)]
        runner_role: Option<String>,
        /// Minimum valid registry signatures on every apply and rollback, whatever a manifest says.
        #[arg(long, default_value_t = 1)]
        floor: u32,
        /// Print the exact SQL instead of running it.
        #[arg(long)]
        print: bool,
    },
    /// Recompute the hash chain; name every edited, deleted or reordered row.
    Verify,
    /// Show ledger events (all packs, or --pack's with --this-pack).
    Log {
        /// Only events of the pack in --pack.
        #[arg(long)]
        this_pack: bool,
        /// Show only the last N events.
        #[arg(long, default_value_t = 50)]
        last: usize,
    },
}

pub fn main() -> i32 {
    let cli = Cli::parse();
    render::setup(&cli.global);
    verbs::dispatch(cli)
}
