//! A verb's session with the target: the loaded pack, the identity guard already
//! passed, the ledger session (autocommit, its own connection so a rolled-back step
//! still leaves its record), and — for verbs that act — the per-pack runner lock.

use crate::core::manifest::Pack;
use crate::db::connect::{take_notices, NoticeSink, Target};
use crate::db::identity::{self, Identity};
use crate::db::ledger::{self, Actor, Event, NewEvent};
use crate::engine::pack::{self, LoadedPack};
use crate::engine::{Error, Result};
use postgres::Client;
use std::path::PathBuf;

/// Every connection stepgate opens ignores the role's own `search_path` (which whoever
/// holds the runner's password can set): built-in names always resolve to `pg_catalog`
/// first, so a runner-made `public.=` or `public.pg_try_advisory_lock` is never chosen
/// over the real one; user objects resolve through `public`. It is the plan's
/// `search_path` (`core::plan::SEARCH_PATH`), which the guard holds a permitted step to.
pub fn pinned_search_path() -> String {
    format!("SET search_path = {}", crate::core::plan::SEARCH_PATH)
}

/// stepgate's own catalog reads are many rows through cheap expressions: JIT compiling them
/// costs more than running them (a catalog pass at 1,000 tables: 13 ms without, ≈ 360 ms
/// with, measured on PostgreSQL 15). The ledger session runs nothing else; a step's session
/// sets it `LOCAL` only once the step's own statements are done (`quiet_planner`).
pub const NO_JIT: &str = "SET jit = off";

/// Turns JIT off for the rest of the current transaction: called before measuring inside a
/// step's transaction, after its statements ran, so their plans are the server's own.
pub fn quiet_planner(
    c: &mut impl postgres::GenericClient,
) -> std::result::Result<(), postgres::Error> {
    c.batch_execute("SET LOCAL jit = off")
}

/// What every verb needs to find its pack and database.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub pack: PathBuf,
    pub db: Option<String>,
}

pub struct Session {
    pub loaded: LoadedPack,
    pub target: Target,
    pub actor: Actor,
    pub identity: Identity,
    pub run_id: String,
    pub ledger: Client,
    /// True only on a scratch copy started by `stepgate scratch` (gates bypassed, said so).
    pub scratch: bool,
    locked: bool,
}

/// Whether the verb takes the per-pack runner lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    None,
    Pack,
}

pub fn new_run_id() -> String {
    use rand_core::RngCore;
    let mut b = [0u8; 8];
    rand_core::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

impl Session {
    /// Loads the pack, connects, checks the ledger is installed and the identity guard,
    /// and takes the pack lock when asked. No statement of the pack has run yet.
    pub fn open(opts: &Options, verb: &str, lock: Lock) -> Result<Session> {
        let loaded = pack::load(&opts.pack)?;
        Self::open_loaded(loaded, opts, verb, lock)
    }

    pub fn open_loaded(
        loaded: LoadedPack,
        opts: &Options,
        verb: &str,
        lock: Lock,
    ) -> Result<Session> {
        Self::open_inner(loaded, opts, verb, lock, false)
    }

    /// Only for `stepgate scratch`, on the throwaway cluster it started itself: gates are
    /// bypassed there, and only where the connected ledger is labelled `scratch`.
    pub fn open_scratch(loaded: LoadedPack, opts: &Options, verb: &str) -> Result<Session> {
        Self::open_inner(loaded, opts, verb, Lock::Pack, true)
    }

    fn open_inner(
        loaded: LoadedPack,
        opts: &Options,
        verb: &str,
        lock: Lock,
        scratch_mode: bool,
    ) -> Result<Session> {
        let target =
            Target::resolve(opts.db.as_deref()).map_err(|e| Error::BadInput(e.to_string()))?;
        let actor = Actor::current();
        let app = format!(
            "stepgate {verb} {} by {}@{}",
            loaded.pack.id(),
            actor.os_user,
            actor.host
        );
        let mut ledger_client = target
            .connect(&app)
            .map_err(|e| Error::Database(e.to_string()))?;
        // Catalog reads (pg_get_indexdef and friends) take ACCESS SHARE locks: never
        // queue behind a DDL lock for longer than the pack allows.
        ledger_client.batch_execute(&format!(
            "SET lock_timeout = '{}ms'; {}; {}",
            loaded.pack.timeouts.lock.as_millis(),
            pinned_search_path(),
            NO_JIT
        ))?;
        let identity = identity::read(&mut ledger_client)?;
        let mut expected = loaded.pack.manifest.pack.target.clone();
        if scratch_mode && identity.environment.as_deref() == Some("scratch") {
            // A scratch copy is the target's twin by construction; only the name must agree.
            expected.environment = None;
            expected.system_identifier = None;
        }
        let problems = identity::mismatches(&expected, &identity);
        if !problems.is_empty() {
            return Err(Error::WrongTarget(format!(
                "refusing to run: {} is not this pack's target\n  {}",
                target.display(),
                problems.join("\n  ")
            )));
        }
        if !ledger::installed(&mut ledger_client)? {
            return Err(Error::Refused(format!(
                "no stepgate ledger in {}: a database administrator runs `stepgate ledger install --environment NAME` first",
                target.display()
            )));
        }
        let version = ledger::meta(&mut ledger_client, "schema_version")?;
        if version.as_deref() != Some(ledger::SCHEMA_VERSION) {
            return Err(Error::Refused(format!(
                "the stepgate ledger in {} is schema version {}, this stepgate needs {}: a database administrator keeps its record (`stepgate ledger log --json`) and reinstalls it (`stepgate ledger uninstall --force`, then `stepgate ledger install`)",
                target.display(),
                version.as_deref().unwrap_or("unknown"),
                ledger::SCHEMA_VERSION
            )));
        }
        let scratch = scratch_mode && identity.environment.as_deref() == Some("scratch");
        let mut s = Session {
            scratch,
            loaded,
            target,
            actor,
            identity,
            run_id: new_run_id(),
            ledger: ledger_client,
            locked: false,
        };
        if lock == Lock::Pack {
            crate::db::authority::register_pack(&mut s.ledger, s.loaded.pack.id())?;
            match ledger::try_lock_pack(&mut s.ledger, s.loaded.pack.id())? {
                Ok(()) => s.locked = true,
                Err(who) => {
                    return Err(Error::Busy(format!(
                        "pack `{}` is being worked on by {who}; wait for it to finish",
                        s.loaded.pack.id()
                    )))
                }
            }
            // A verb that acts trusts the ledger (halts, commits, rehearsals): it must be intact.
            let problems = s.ledger_problems()?;
            if !problems.is_empty() {
                return Err(Error::Refused(format!(
                    "the ledger in {} has been tampered with; nothing will run until a DBA reconciles it (`stepgate ledger verify`):\n  {}",
                    s.target.display(),
                    problems.iter().map(|p| format!("row {}: {}", p.id, p.problem)).collect::<Vec<_>>().join("\n  ")
                )));
            }
        }
        Ok(s)
    }

    /// The hash chain, recomputed on the client.
    pub fn ledger_problems(&mut self) -> Result<Vec<ledger::ChainProblem>> {
        Ok(ledger::check(&mut self.ledger)?.1)
    }

    pub fn pack(&self) -> &Pack {
        &self.loaded.pack
    }

    /// Appends an event through the ledger session.
    pub fn event(
        &mut self,
        step: Option<&str>,
        verb: &str,
        result: &str,
        sha: Option<&str>,
        details: serde_json::Value,
    ) -> Result<i64> {
        let run_id = self.run_id.clone();
        self.event_for_run(&run_id, step, verb, result, sha, details)
    }

    /// Appends an event on behalf of another run (closing an interrupted one).
    pub fn event_for_run(
        &mut self,
        run_id: &str,
        step: Option<&str>,
        verb: &str,
        result: &str,
        sha: Option<&str>,
        details: serde_json::Value,
    ) -> Result<i64> {
        let pack_id = self.loaded.pack.id().to_string();
        let e = NewEvent {
            pack: &pack_id,
            step,
            verb,
            result,
            file_sha256: sha,
            run_id: Some(run_id),
            details,
        };
        Ok(ledger::append(&mut self.ledger, &self.actor, &e)?)
    }

    pub fn events(&mut self) -> Result<Vec<Event>> {
        let id = self.loaded.pack.id().to_string();
        Ok(ledger::events_for_pack(&mut self.ledger, &id)?)
    }

    /// A second connection for the step's own transaction, collecting NOTICEs.
    pub fn step_client(&self, verb: &str, step: &str, sink: NoticeSink) -> Result<Client> {
        let mut c = open_step_client(&self.target, &self.step_app(verb, step), sink)?;
        crate::engine::progress::watch_client(&self.target, &mut c);
        Ok(c)
    }

    /// [`Session::step_client`], opened on another thread while the caller reads the entry
    /// state, and warmed there: the database's approval check runs ed25519 in PL/pgSQL,
    /// which a new backend compiles on its first call. One verification of a published
    /// vector (RFC 8032, test 1) meanwhile takes that off the commit's path.
    pub fn step_client_early(&self, verb: &str, step: &str, sink: NoticeSink) -> EarlyClient {
        let (target, app) = (self.target.clone(), self.step_app(verb, step));
        EarlyClient {
            target: self.target.clone(),
            handle: std::thread::spawn(move || {
                let mut c = open_step_client(&target, &app, sink)?;
                // Best effort: a ledger without the function, or a refusal, only costs the
                // warm-up.
                let _ = c.batch_execute(WARM_UP_SQL);
                Ok(c)
            }),
        }
    }

    fn step_app(&self, verb: &str, step: &str) -> String {
        format!("stepgate {verb} {}/{step}", self.loaded.pack.id())
    }

    pub fn drain(sink: &NoticeSink) -> Vec<crate::db::connect::Notice> {
        take_notices(sink)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.locked {
            let id = self.loaded.pack.id().to_string();
            let _ = ledger::unlock_pack(&mut self.ledger, &id);
        }
    }
}

/// A connection for a step's own transaction, collecting NOTICEs, with the pinned
/// search_path.
fn open_step_client(target: &Target, app: &str, sink: NoticeSink) -> Result<Client> {
    let mut c = target
        .connect_with_notices(app, sink)
        .map_err(|e| Error::Database(e.to_string()))?;
    c.batch_execute(&pinned_search_path())?;
    Ok(c)
}

/// A step connection being opened and warmed ([`Session::step_client_early`]).
pub struct EarlyClient {
    target: Target,
    handle: std::thread::JoinHandle<Result<Client>>,
}

impl EarlyClient {
    pub fn join(self) -> Result<Client> {
        let mut c = self
            .handle
            .join()
            .map_err(|_| Error::Database("the step connection's thread panicked".into()))??;
        crate::engine::progress::watch_client(&self.target, &mut c);
        Ok(c)
    }
}

/// Compiles the signature check's PL/pgSQL in a new backend (see
/// [`Session::step_client_early`]); checks the privilege first so that a runner without it
/// leaves no error in the server's log.
const WARM_UP_SQL: &str = "DO $warm$
BEGIN
  IF pg_catalog.to_regprocedure('stepgate.ed25519_verify(bytea, bytea, bytea)') IS NOT NULL
     AND pg_catalog.has_function_privilege('stepgate.ed25519_verify(bytea, bytea, bytea)', 'EXECUTE') THEN
    PERFORM stepgate.ed25519_verify(
      pg_catalog.decode('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex'), ''::bytea,
      pg_catalog.decode('e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b', 'hex'));
  END IF;
END
$warm$";
