//! The thin CLI: parses arguments, calls the engine, renders human or JSON output.
//! One file per verb family under `cli/`; the definitions here double as the source
//! of `--help`, the shell completions and the man page.

pub mod commit;
pub mod complete;
pub mod demo;
pub mod first_hour;
pub mod pipe;
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
    after_help = "Exit codes: 0 ok · 1 a check failed · 2 bad input (nothing executed) · 3 a gate refused · 4 pack halted · 5 database error · 6 wrong target database · 7 another runner holds the pack. An idempotent repeat (apply of a committed step, a second `ledger install`, rollback of a rolled-back step) exits 0 and says \"nothing to do\"."
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
    /// Connection string (URL or key=value, read as libpq reads it). Default: DATABASE_URL; then service=/PGSERVICE, PGHOST/PGPORT/PGUSER/PGDATABASE/PGSSLMODE/… and ~/.pgpass.
    #[arg(long, global = true, value_name = "URL")]
    pub db: Option<String>,
    /// Machine-readable JSON on stdout instead of the human report.
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress, no narration on stderr: only results and errors. Without it, progress (the running statement, lock waits, retries) goes to stderr: a live line on a terminal, plain lines otherwise; stdout stays the result.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// When to use colour.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Where table dumps and measurement captures go (folders 0700, files 0600). Default: [pack] evidence_dir, else $XDG_STATE_HOME/stepgate/evidence (~/.local/state/stepgate/evidence), never the pack folder.
    #[arg(long, global = true, value_name = "DIR", env = "STEPGATE_EVIDENCE_DIR")]
    pub evidence_dir: Option<PathBuf>,
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
    /// Watch the whole story on a throwaway PostgreSQL, in under a minute (the README's first command).
    #[command(
        after_help = "Exit: 0 the story ran to its end · 1 a step of the story failed · 5 the throwaway PostgreSQL could not be started or reached"
    )]
    Demo {
        /// Leave the cluster running and print how to connect.
        #[arg(long)]
        keep: bool,
    },
    /// Scaffold a new pack that passes `stepgate lint` as it is.
    #[command(
        after_help = "Exit: 0 pack created · 2 bad input (the folder already holds a pack, cannot write)"
    )]
    Init {
        /// Folder to create.
        path: PathBuf,
        /// The target database name written into [pack.target].
        #[arg(long, default_value = "postgres")]
        database: String,
        /// The environment label written into [pack.target] (must equal `stepgate ledger install --environment` on the target). None is written if not given.
        #[arg(long)]
        environment: Option<String>,
        /// How step files are written: plain SQL (the runner supplies the transaction) or the A–I sections layout.
        #[arg(long, value_enum, default_value_t = ProfileArg::Plain)]
        profile: ProfileArg,
    },
    /// Add a step to the pack: appends a [[step]] to stepgate.toml and creates its SQL file.
    #[command(after_help = "Exit: 0 step added · 2 bad input (no pack, bad name, cannot write)")]
    NewStep {
        /// What the step does, e.g. "add email column" (the file becomes NN_add_email_column.sql).
        name: String,
        /// Also create a rollback file under rollback/ and name it in the step.
        #[arg(long)]
        rollback: bool,
    },
    /// Create a pack from Flyway, Sqitch or numbered SQL migrations, with effects declared from static analysis and a list of what to review next.
    #[command(
        after_help = "flyway: V1__x.sql, V1.1__y.sql (ordered numerically), U1__x.sql undo files become rollbacks, R__ repeatables are listed, not imported.\nsqitch: sqitch.plan with deploy/, revert/ and verify/: dependencies become `requires`, revert the rollback, verify the step's post-commit checks.\ndir: 001_x.sql or 001_x.up.sql with an optional 001_x.down.sql.\n\nExit: 0 the pack lints clean · 1 created, but lint reports errors (listed) · 2 bad input (nothing written)"
    )]
    Import {
        /// The kind of migrations to read.
        #[arg(value_enum)]
        format: ImportFormat,
        /// The folder holding the migrations (for sqitch: the project folder with sqitch.plan).
        source: PathBuf,
        /// The pack folder to create.
        pack: PathBuf,
        /// The target database name written into [pack.target] (a placeholder marked TODO if not given).
        #[arg(long)]
        database: Option<String>,
        /// The environment label written into [pack.target]; none is written if not given.
        #[arg(long)]
        environment: Option<String>,
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
        /// Also run the informational rules (SG132: the locks each step holds, and for how long).
        #[arg(long)]
        info: bool,
        /// Judge version-dependent rules for this PostgreSQL version (e.g. 11), instead of
        /// `[pack.target] server_version`.
        #[arg(long, value_name = "VERSION")]
        server_version: Option<String>,
    },
    /// List the lint rules, or explain one.
    #[command(after_help = "Exit: 0 listed or explained · 2 no such rule")]
    Rules {
        /// Explain one rule, e.g. SG012.
        #[arg(long, value_name = "CODE")]
        explain: Option<String>,
    },
    /// Write stepgate.lock: the sha256 of every file of the pack (the frozen plan).
    #[command(
        after_help = "Exit: 0 stepgate.lock written · 2 bad input (bad manifest, missing file)"
    )]
    Freeze,
    /// Install, verify or read the ledger (schema `stepgate` in the target database).
    #[command(
        after_help = "Exit: 0 done (`install` when already installed: nothing to do) · 1 `verify` found edited, deleted or reordered rows · 2 bad input · 3 refused (not a superuser for the guard) · 5 database error"
    )]
    Ledger {
        #[command(subcommand)]
        action: LedgerAction,
    },
    /// Read-only checks before a step: identity, invariants, preflight file, idle sessions, per-step presence.
    #[command(
        after_help = "Exit: 0 every check passed · 1 a check failed · 2 bad input · 4 halted · 5 database error · 6 wrong target"
    )]
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
        /// With --rollback: first the rollbacks of the committed steps that require this one, all in one rolled-back transaction.
        #[arg(long, requires = "rollback")]
        cascade: bool,
        /// Prove the delta over every object in the catalog, not just the ones the step names and what its transaction wrote (slower on large catalogs; the incremental proof falls back to this by itself when it cannot account for a change).
        #[arg(long)]
        full_proof: bool,
    },
    /// The step ledger: gates, last rehearsal, committed / rolled back, halted.
    #[command(after_help = "Exit: 0 shown · 2 bad input · 5 database error · 6 wrong target")]
    Status,
    /// Print the canonical catalog snapshot (its sha256 is the fingerprint).
    #[command(after_help = "Exit: 0 written or shown · 2 bad input · 5 database error")]
    Snapshot {
        /// Write the JSON snapshot to this file instead of printing a summary.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Compare two snapshot files (from `stepgate snapshot -o`).
    #[command(
        after_help = "Exit: 0 the snapshots are equal · 1 they differ · 2 bad input (unreadable snapshot)"
    )]
    Diff {
        /// The earlier snapshot file.
        before: PathBuf,
        /// The later snapshot file.
        after: PathBuf,
    },
    /// Sign an approval for one gate of one step with your SSH key (works offline).
    #[command(
        after_help = "Writes approvals/<step>.<gate>.<principal>.approval and .approval.sig into the pack.\nThe statement binds the pack, step, gate, action, the sha256 of the step file, its rollback and stepgate.toml, and the target.\nSigns through ssh-agent when SSH_AUTH_SOCK is set and the agent holds the key; otherwise with the key file, asking for its passphrase on the terminal (or from STEPGATE_KEY_PASSPHRASE).\nKeys: ed25519, ECDSA (nistp256/384/521), RSA 2048-8192 bits (signed rsa-sha2-512).\n\nExit: 0 signed · 2 bad input (unknown step or gate, a principal not a signer of the gate, a key not listed for it, unreadable key, wrong passphrase)"
    )]
    Approve {
        #[command(flatten)]
        what: ApprovalArgs,
        /// Your OpenSSH private key, or its .pub when the key is in ssh-agent.
        #[arg(long)]
        key: PathBuf,
    },
    /// Print the exact statement to sign, for approvers who sign with `ssh-keygen -Y sign -n stepgate`.
    #[command(after_help = "Exit: 0 printed · 2 bad input (unknown step, gate or action)")]
    ApprovalText {
        #[command(flatten)]
        what: ApprovalArgs,
    },
    /// List every gate of a step with its quorum and each approval found, valid or not, and why.
    #[command(
        after_help = "Exit: 0 shown (whether or not the quorum is met) · 2 bad input · 5 database error · 6 wrong target"
    )]
    Gates {
        /// The step whose gates to list.
        #[arg(long)]
        step: String,
        /// Which authorization: apply (default) or rollback.
        #[arg(long, value_enum, default_value_t = ActionArg::Apply)]
        action: ActionArg,
    },
    /// Inspect or change the guard: the event trigger that refuses DDL (and writes to guarded tables) by the runner unless an approved permit admits the statement.
    #[command(
        after_help = "The guard cannot stop a superuser, a role allowed to SET session_replication_role, or a member of the ledger admin role; `stepgate guard status` warns about each. Changes are admin acts, recorded in the ledger.\n\nExamples:\n  stepgate guard status\n  stepgate guard protect public.accounts public.payments\n  stepgate guard break-glass oncall_dba\n\nExit: 0 done · 2 bad input · 3 refused (not the admin, not a superuser) · 5 database error"
    )]
    Guard {
        #[command(subcommand)]
        action: GuardAction,
    },
    /// Manage the signer registry (the trust root; needs the ledger admin role).
    #[command(
        after_help = "Exit: 0 done · 2 bad input (unreadable key) · 3 refused (not the ledger admin) · 5 database error"
    )]
    Signers {
        #[command(subcommand)]
        action: SignersAction,
    },
    /// Dump the tables a step touches with pg_dump -Fc, verify and checksum the dumps.
    #[command(
        after_help = "Exit: 0 dumped and verified · 1 a dump failed its check · 2 bad input · 4 halted · 5 database error · 6 wrong target · 7 busy"
    )]
    Backup {
        /// The step whose tables to dump.
        #[arg(long)]
        step: String,
    },
    /// Commit exactly one step, behind every gate. Never a range.
    #[command(
        after_help = "Exit: 0 committed, or already committed (\"nothing to do\"; --json: {\"nothing_to_do\": true, \"reason\": …}) · 1 failed (rolled back; pack halted when it diverged) · 2 bad input · 3 a gate refused · 4 halted · 5 database error · 6 wrong target · 7 busy"
    )]
    Apply {
        /// The step to commit (one step id, as in stepgate.toml).
        #[arg(long)]
        step: String,
        /// Retries after a lock_timeout, with backoff.
        #[arg(long, default_value_t = 3)]
        retries: u32,
        /// Refuse instead of taking a backup when none is fresh.
        #[arg(long)]
        no_auto_backup: bool,
        /// Before each attempt, wait (polling, up to DURATION in all; 5m when given bare) until no session holds a lock that conflicts with the step, naming who holds it; then the attempt runs under lock_timeout and --retries as usual. Give the duration with `=`: --wait-for-locks=10m.
        #[arg(
            long,
            value_name = "DURATION",
            num_args = 0..=1,
            require_equals = true,
            default_missing_value = "5m",
            value_parser = parse_duration
        )]
        wait_for_locks: Option<std::time::Duration>,
        /// Prove the delta over every object in the catalog, not just the ones the step names and what its transaction wrote (slower on large catalogs; the incremental proof falls back to this by itself when it cannot account for a change).
        #[arg(long)]
        full_proof: bool,
    },
    /// Re-run a step's post-commit checks and report drift from the recorded fingerprint.
    #[command(
        after_help = "Exit: 0 the post-commit checks pass and the fingerprint matches · 1 a check failed or drift · 2 bad input · 5 database error · 6 wrong target"
    )]
    Verify {
        /// The committed step to verify.
        #[arg(long)]
        step: String,
    },
    /// Compare the live catalog with the fingerprint recorded after the last step. Exit 1 on drift.
    #[command(
        after_help = "A change made outside stepgate stays drift after later commits (each moves the baseline by its own changes only) until the ledger admin accepts it with --accept.\n\nExit: 0 no drift · 1 drift · 2 bad input · 3 refused (--accept by anyone but the ledger admin) · 5 database error · 6 wrong target"
    )]
    Drift {
        /// Make the live catalog the new baseline, after reviewing what changed (the ledger admin only; recorded as a fact).
        #[arg(long)]
        accept: bool,
    },
    /// Halt the pack: every mutating verb refuses until a signed resume.
    #[command(after_help = "Exit: 0 halted · 2 bad input · 5 database error · 6 wrong target")]
    Halt {
        /// Why, recorded in the ledger and shown by `stepgate status`.
        #[arg(long)]
        reason: String,
    },
    /// Lift a halt, with approvals for the pack's `resume` gate bound to the halt event.
    #[command(
        after_help = "Exit: 0 resumed · 2 bad input · 3 refused (no valid approvals for the resume gate) · 5 database error · 6 wrong target"
    )]
    Resume,
    /// Reverse a committed step by its rollback file, under its own approvals.
    #[command(
        after_help = "Refuses while a committed step that requires this one is still committed, unless --cascade.\n\nExit: 0 rolled back, or already rolled back (nothing to do) · 1 failed (rolled back; pack halted when it diverged) · 2 bad input · 3 a gate refused (or dependents still committed) · 4 halted · 5 database error · 6 wrong target · 7 busy"
    )]
    Rollback {
        /// The committed step to reverse.
        #[arg(long)]
        step: String,
        /// Reverse the committed dependents first, in reverse order, each under its own gates.
        #[arg(long)]
        cascade: bool,
        /// Refuse instead of taking a backup when none is fresh.
        #[arg(long)]
        no_auto_backup: bool,
    },
    /// Restore one table from a step's pre-commit dump (table-scoped), under the pack's `restore` gate.
    #[command(
        after_help = "Exit: 0 restored · 1 failed (rolled back) · 2 bad input · 3 a gate refused · 4 halted · 5 database error · 6 wrong target · 7 busy"
    )]
    Restore {
        /// The step whose pre-commit dump to restore from.
        #[arg(long)]
        step: String,
        /// `schema.table` (or `table` for public).
        #[arg(long)]
        table: String,
    },
    /// The review package an approver reads before signing (Markdown, one self-contained HTML file, or --json for its data).
    #[command(
        after_help = "The database is found like every verb finds it (--db, DATABASE_URL, PGSERVICE, PGHOST/PGPORT/PGDATABASE/…); when none answers, or it is not the pack's target, the package says so once and is built from the pack alone.\n\nExit: 0 written · 2 bad input"
    )]
    Review {
        /// Only this step (default: every step).
        #[arg(long)]
        step: Option<String>,
        /// Markdown (default) or one self-contained HTML file.
        #[arg(long, value_enum, default_value_t = ReviewFormat::Md)]
        format: ReviewFormat,
        /// Write to this file instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Apply every step on a throwaway copy, roll every step back, prove the fingerprint is back.
    #[command(
        after_help = "Gates are bypassed on the copy (its ledger is labelled `scratch`); the real target is only read (pg_dump --schema-only).\n\nExit: 0 every step applied and rolled back, fingerprint restored · 1 a step failed or the fingerprint differs · 2 bad input · 5 database error"
    )]
    Scratch {
        /// Build the copy from the target's schema (pg_dump --schema-only; the default).
        #[arg(long, conflicts_with = "from_sql")]
        from_db: bool,
        /// Build the copy from a SQL file instead.
        #[arg(long, value_name = "FILE")]
        from_sql: Option<PathBuf>,
        /// Also copy the data of these tables (with --from-db).
        #[arg(long, value_name = "TABLE", num_args = 1..)]
        with_data: Vec<String>,
        /// Leave the cluster running and print how to connect.
        #[arg(long)]
        keep: bool,
    },
    /// Generate shell completions (bash, zsh and fish also complete --step and --gate from the pack).
    #[command(
        after_help = "Install, for example: stepgate completions bash > ~/.local/share/bash-completion/completions/stepgate\n\nExit: 0 written · 2 bad input (also --json)"
    )]
    Completions {
        /// The shell to write completions for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// List the pack's step ids or gate names for the completion scripts (one per line, a tab, a description).
    #[command(
        name = "__complete",
        hide = true,
        after_help = "Exit: 0 always (an unreadable pack lists nothing)"
    )]
    Complete {
        /// What to list.
        #[arg(value_enum)]
        what: complete::Candidates,
    },
    /// Write the man page (roff) to stdout or a directory.
    #[command(after_help = "Exit: 0 written · 2 bad input (cannot write --out-dir; also --json)")]
    Man {
        /// Directory to write stepgate.1 (and one page per verb) into.
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileArg {
    /// Plain SQL step files; the runner wraps each in its transaction with the timeouts.
    Plain,
    /// Sections A–I, one BEGIN with SET LOCAL timeouts, one terminal ROLLBACK.
    Sections,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportFormat {
    /// A Flyway migrations folder (V…__, U…__, R__ files).
    Flyway,
    /// A Sqitch project (sqitch.plan, deploy/, revert/, verify/).
    Sqitch,
    /// A folder of numbered SQL files with optional .down.sql files.
    Dir,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewFormat {
    Md,
    Html,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionArg {
    Apply,
    Rollback,
    Resume,
    Restore,
}

impl ActionArg {
    pub fn action(self) -> crate::core::approval::Action {
        use crate::core::approval::Action;
        match self {
            ActionArg::Apply => Action::Apply,
            ActionArg::Rollback => Action::Rollback,
            ActionArg::Resume => Action::Resume,
            ActionArg::Restore => Action::Restore,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct ApprovalArgs {
    /// The step (for a resume: `halt-<event id>` as `stepgate status` shows).
    #[arg(long)]
    pub step: String,
    /// The gate you sign for.
    #[arg(long)]
    pub gate: String,
    /// Your principal as registered (`stepgate signers list`).
    #[arg(long)]
    pub principal: String,
    /// What you authorize.
    #[arg(long, value_enum, default_value_t = ActionArg::Apply)]
    pub action: ActionArg,
    /// How long the approval stays valid.
    #[arg(long, default_value = "24h")]
    pub expires: String,
}

#[derive(Subcommand, Debug)]
pub enum SignersAction {
    /// Register a public key for a principal and the gates it may sign.
    Add {
        /// The principal (e.g. an e-mail address) approvals are signed as.
        #[arg(long)]
        principal: String,
        /// The OpenSSH public key file (e.g. ~/.ssh/id_ed25519.pub).
        #[arg(long)]
        key: PathBuf,
        /// Comma-separated gates, or `*` for any gate.
        #[arg(long, value_delimiter = ',', required = true)]
        gates: Vec<String>,
    },
    /// Remove every key of a principal.
    Remove {
        /// The principal whose keys to remove.
        #[arg(long)]
        principal: String,
    },
    /// List the registry.
    List,
    /// Print the registry in OpenSSH allowed_signers format (for the pack's copy).
    Export,
}

#[derive(Subcommand, Debug)]
pub enum GuardAction {
    /// Is the guard installed and enabled; which roles it guards; what lets them walk around it.
    Status,
    /// (Re-)create the event trigger and guard these roles (superuser).
    Install {
        /// A role to guard (repeatable); the runner role is guarded at ledger install.
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
    },
    /// Drop the event trigger: the runner's DDL is no longer refused (ledgered).
    Uninstall,
    /// Refuse writes to these tables by guarded roles without a permit.
    Protect {
        /// Tables, as schema.table.
        #[arg(required = true, value_name = "TABLE")]
        tables: Vec<String>,
    },
    /// Let this role bypass the guard; every bypass is recorded in the ledger as a fact.
    BreakGlass {
        /// The role that may bypass the guard.
        #[arg(value_name = "ROLE")]
        role: String,
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
        /// Do not install the guard (the event trigger that refuses the runner's DDL without a permit). Recorded in the ledger.
        #[arg(long)]
        no_guard: bool,
        /// Print the exact SQL instead of running it.
        #[arg(long)]
        print: bool,
    },
    /// Change the environment label the ledger stores (admin only; ledgered). Approvals for the old label stop working.
    Relabel {
        /// The new environment label.
        #[arg(long)]
        environment: String,
    },
    /// Remove the ledger, the guard and its triggers (admin only). Refuses while steps are committed unless --force.
    #[command(
        after_help = "The ledger cannot record its own removal: the printed summary (with the head hash) is the record; keep it."
    )]
    Uninstall {
        /// Uninstall even though steps are committed (their record is lost).
        #[arg(long)]
        force: bool,
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

/// A duration as packs write them (`30s`, `5m`, `1h30m`).
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    crate::core::duration::parse(text)
}

pub fn main() -> i32 {
    pipe::exit_quietly_on_broken_pipe();
    let cli = Cli::parse();
    if let Some(d) = &cli.global.evidence_dir {
        // Read by engine::evidence; set before any thread starts.
        std::env::set_var(crate::engine::evidence::ENV, d);
    }
    render::setup(&cli.global);
    render::setup_progress(&cli.global);
    let code = verbs::dispatch(cli);
    crate::engine::progress::shutdown();
    code
}
