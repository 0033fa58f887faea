//! Connecting the libpq way: `--db` (a `postgresql://` URL or `key=value` string), else
//! `DATABASE_URL`, else nothing; then `service=`/`PGSERVICE` and the service files, the
//! libpq environment (`PGHOST`, `PGPORT`, `PGSSLMODE`, …), defaults and the password
//! file — resolved by the pure [`crate::core::conninfo`], which documents the order and
//! every difference from libpq. This module supplies the real inputs (environment,
//! files, home directory), connects, and hands client programs the same connection.
//!
//! # TLS
//!
//! TLS is OpenSSL, through `postgres-openssl`. Chosen over rustls because libpq itself,
//! and so `pg_dump`/`pg_restore` that stepgate starts, are OpenSSL: the same library
//! reading the same files gives the same answer in stepgate and in its child programs —
//! the same PEM/encrypted-key formats, CRL files and hashed CRL directories,
//! `sslrootcert=system` meaning OpenSSL's default trust store (`SSL_CTX_set_default_verify_paths`,
//! exactly what libpq does), and `verify-ca` (chain check, no host-name check) without
//! writing a certificate verifier by hand. Debian's libssl is kept patched by the
//! distribution; the build needs `libssl-dev` (scripts/setup.sh installs it).
//!
//! `sslmode`, as in libpq: `disable` never; `allow` plain first, TLS if that fails;
//! `prefer` (the default) TLS first, plain if that fails; `require` TLS, no check of the
//! certificate — unless a root certificate file exists (`sslrootcert`, or
//! `~/.postgresql/root.crt`), which makes it `verify-ca`; `verify-ca` TLS with the
//! server's chain checked against `sslrootcert`, the host name not checked; `verify-full`
//! the chain and the host name. Unix sockets never use TLS (libpq ignores `sslmode`
//! there). Client certificates come from `sslcert`/`sslkey` (default
//! `~/.postgresql/postgresql.crt`/`.key`, used when present; `sslpassword` decrypts the
//! key), revocation lists from `sslcrl`/`sslcrldir`.
//!
//! # Which server
//!
//! With several hosts (`host=a,b`, `postgresql://a:1,b:2/db`) each is tried in order
//! (shuffled with `load_balance_hosts=random`), and `target_session_attrs` is checked
//! on each. The first that fits is *pinned*: every later session of the same [`Target`]
//! (and its clones) goes to it, and so do the client programs — [`Target::tool_command`]
//! gives them that one host and port, the same user, database, TLS settings and
//! certificate files, and the password in `PGPASSWORD` (never on a command line), with
//! every other libpq variable (`PGSERVICE`, `PGSERVICEFILE`, `PGHOST`, …) removed so the
//! child cannot resolve anything differently.
//!
//! A password never appears in any output: [`Target::display`] is what every message,
//! log line and ledger row uses.

use crate::core::conninfo::{self, Endpoint, Inputs, Origin, Resolved, SslMode, KEYWORDS};
use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslVerifyMode, SslVersion};
use openssl::x509::store::X509Lookup;
use openssl::x509::verify::X509VerifyFlags;
use postgres::config::{ChannelBinding, SslNegotiation};
use postgres::{Client, Config, NoTls};
use postgres_openssl::MakeTlsConnector;
use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid connection string: {0}")]
    Invalid(String),
    #[error("cannot connect to {target}: {detail}")]
    Unreachable { target: String, detail: String },
}

/// The connect timeout when none is given (libpq: wait forever).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where we connect, with the password kept out of `Debug`/`Display`.
#[derive(Clone)]
pub struct Target {
    resolved: Arc<Resolved>,
    /// Endpoint indexes in the order to try them.
    order: Arc<Vec<usize>>,
    /// The endpoint the first successful session reached.
    pinned: Arc<Mutex<Option<usize>>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({})", self.display())
    }
}

fn env_var(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

fn home_dir() -> Option<String> {
    env_var("HOME").or_else(|| {
        nix::unistd::User::from_uid(nix::unistd::geteuid())
            .ok()
            .flatten()
            .map(|u| u.dir.display().to_string())
    })
}

fn os_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(whoami::username)
}

/// The password file, when libpq would use it: a plain file without group or world access.
fn read_passfile(path: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        eprintln!("warning: password file \"{path}\" is not a plain file; not using it");
        return None;
    }
    if meta.permissions().mode() & 0o077 != 0 {
        eprintln!("warning: password file \"{path}\" has group or world access; permissions should be u=rw (0600) or less; not using it");
        return None;
    }
    std::fs::read_to_string(path).ok()
}

fn default_socket_dir() -> String {
    for d in ["/var/run/postgresql", "/tmp"] {
        if Path::new(d).exists() {
            return d.to_string();
        }
    }
    "/tmp".into()
}

/// Debian's libpq is built with `--sysconfdir=/etc/postgresql-common`.
const DEFAULT_SYSCONFDIR: &str = "/etc/postgresql-common";

fn is_true(v: &str) -> bool {
    matches!(
        v.to_ascii_lowercase().as_str(),
        "1" | "true" | "on" | "yes" | "database"
    )
}

/// Refuses what stepgate cannot honour, instead of silently connecting another way.
fn check_supported(r: &Resolved) -> Result<(), ConnectError> {
    let no = |m: String| Err(ConnectError::Invalid(m));
    if r.get("gssencmode") == Some("require") {
        return no(
            "gssencmode=require: stepgate has no GSSAPI encryption; use TLS (sslmode=verify-full)"
                .into(),
        );
    }
    if let Some(p) = r.get("requirepeer") {
        return no(format!("requirepeer={p} is not supported by stepgate"));
    }
    if r.get("replication").is_some_and(is_true) {
        return no("replication connections are not supported by stepgate".into());
    }
    if let Some(a) = r.get("require_auth") {
        return no(format!("require_auth={a} is not supported by stepgate"));
    }
    if r.get("sslcertmode") == Some("require") {
        return no(
            "sslcertmode=require is not supported by stepgate (allow and disable are)".into(),
        );
    }
    if let Some(enc) = r.get("client_encoding") {
        let e = enc.to_ascii_uppercase().replace('-', "");
        if e != "UTF8" && e != "AUTO" && e != "UNICODE" {
            return no(format!(
                "client_encoding={enc}: stepgate always talks UTF8 to the server"
            ));
        }
    }
    for k in ["min_protocol_version", "max_protocol_version"] {
        if let Some(v) = r.get(k) {
            if v != "3.0" && !(k == "max_protocol_version" && v == "latest") {
                return no(format!("{k}={v}: stepgate speaks protocol 3.0"));
            }
        }
    }
    for ep in &r.endpoints {
        if ep.host.starts_with('@') {
            return no(format!(
                "host={}: abstract unix sockets are not supported by stepgate",
                ep.host
            ));
        }
        if let Some(a) = &ep.hostaddr {
            if a.parse::<std::net::IpAddr>().is_err() {
                return no(format!("could not parse network address \"{a}\""));
            }
        }
    }
    Ok(())
}

fn secs(r: &Resolved, k: &str) -> Option<i64> {
    r.get(k).and_then(|v| v.trim().parse::<i64>().ok())
}

impl Target {
    /// Resolves the connection from an explicit string (URL or key=value) or the environment.
    pub fn resolve(explicit: Option<&str>) -> Result<Target, ConnectError> {
        let from = explicit
            .map(str::to_string)
            .or_else(|| env_var("DATABASE_URL"));
        let read = |p: &str| std::fs::read_to_string(p).ok();
        let inputs = Inputs {
            env: &env_var,
            read_service_file: &read,
            read_passfile: &read_passfile,
            home: home_dir(),
            os_user: os_user(),
            default_socket_dir: default_socket_dir(),
            default_sysconfdir: DEFAULT_SYSCONFDIR.into(),
        };
        let resolved = conninfo::resolve(from.as_deref(), &inputs)
            .map_err(|e| ConnectError::Invalid(redact(&e.0)))?;
        Target::from_resolved(resolved)
    }

    /// A target from parameters resolved elsewhere (tests give their own inputs).
    pub fn from_resolved(resolved: Resolved) -> Result<Target, ConnectError> {
        check_supported(&resolved)?;
        let mut order: Vec<usize> = (0..resolved.endpoints.len()).collect();
        if resolved.get("load_balance_hosts") == Some("random") {
            use rand_core::RngCore;
            // Fisher–Yates with the OS generator.
            for i in (1..order.len()).rev() {
                let j = (rand_core::OsRng.next_u32() as usize) % (i + 1);
                order.swap(i, j);
            }
        }
        Ok(Target {
            resolved: Arc::new(resolved),
            order: Arc::new(order),
            pinned: Arc::new(Mutex::new(None)),
        })
    }

    /// The resolved parameters (values and where each came from).
    pub fn params(&self) -> &Resolved {
        &self.resolved
    }

    fn pinned(&self) -> Option<usize> {
        self.pinned.lock().map(|p| *p).unwrap_or(None)
    }

    /// The endpoints clients are sent to: the pinned one, else all of them in order.
    fn endpoints_now(&self) -> Vec<&Endpoint> {
        match self.pinned() {
            Some(i) => self.resolved.endpoints.get(i).into_iter().collect(),
            None => self
                .order
                .iter()
                .filter_map(|i| self.resolved.endpoints.get(*i))
                .collect(),
        }
    }

    /// The host and port the sessions reached (`None` before the first session).
    pub fn reached(&self) -> Option<String> {
        self.pinned()
            .and_then(|i| self.resolved.endpoints.get(i))
            .map(Endpoint::display)
    }

    /// `user@host:port/db` — never the password. Several hosts (before one was
    /// reached) read `user@h1:p1,h2:p2/db`.
    pub fn display(&self) -> String {
        let hosts = self
            .endpoints_now()
            .iter()
            .map(|e| e.display())
            .collect::<Vec<_>>()
            .join(",");
        format!(
            "{}@{}/{}",
            self.resolved.user(),
            hosts,
            self.resolved.dbname()
        )
    }

    pub fn dbname(&self) -> &str {
        self.resolved.dbname()
    }

    /// Opens a session. `application_name` tags it in pg_stat_activity (e.g. `stepgate apply 3`);
    /// an `application_name` the user gave (string, service, `PGAPPNAME`) wins.
    pub fn connect(&self, application_name: &str) -> Result<Client, ConnectError> {
        self.open(application_name, None)
    }

    /// Opens a session whose NOTICE/WARNING messages are collected into `sink`, so the
    /// engine can show each one beside the file line of the statement that raised it.
    pub fn connect_with_notices(
        &self,
        application_name: &str,
        sink: NoticeSink,
    ) -> Result<Client, ConnectError> {
        self.open(application_name, Some(sink))
    }

    fn open(&self, app: &str, sink: Option<NoticeSink>) -> Result<Client, ConnectError> {
        let attrs = self.resolved.get("target_session_attrs").unwrap_or("any");
        let candidates: Vec<usize> = match self.pinned() {
            Some(i) => vec![i],
            None => self.order.to_vec(),
        };
        // prefer-standby: a standby first, then anything.
        let passes: Vec<&str> = match attrs {
            "prefer-standby" => vec!["standby", "any"],
            a => vec![a],
        };
        let mut failures = Vec::new();
        for want in &passes {
            for &i in &candidates {
                let Some(ep) = self.resolved.endpoints.get(i) else {
                    continue;
                };
                match self.open_endpoint(ep, app, sink.clone()) {
                    Ok(mut client) => match session_fits(&mut client, want) {
                        Ok(()) => {
                            if let Ok(mut p) = self.pinned.lock() {
                                *p = Some(i);
                            }
                            return Ok(client);
                        }
                        Err(why) => failures.push(format!("{}: {why}", ep.display())),
                    },
                    Err(e) => failures.push(if candidates.len() > 1 {
                        format!("{}: {e}", ep.display())
                    } else {
                        e
                    }),
                }
            }
        }
        Err(ConnectError::Unreachable {
            target: self.display(),
            detail: redact(&failures.join("; ")),
        })
    }

    fn base_config(&self, ep: &Endpoint, app: &str) -> Config {
        let r = &*self.resolved;
        let mut c = Config::new();
        if ep.host.is_empty() {
            // Only hostaddr: it is also the name TLS checks.
            if let Some(a) = &ep.hostaddr {
                c.host(a);
            }
        } else {
            c.host(&ep.host);
        }
        if let Some(a) = ep.hostaddr.as_deref().and_then(|a| a.parse().ok()) {
            c.hostaddr(a);
        }
        c.port(ep.port);
        c.user(r.user());
        c.dbname(r.dbname());
        if let Some(pw) = &ep.password {
            c.password(pw.as_bytes());
        }
        if let Some(o) = r.get("options") {
            c.options(o);
        }
        c.application_name(self.application_name(app));
        match secs(r, "connect_timeout") {
            // libpq: zero or less waits forever, 1 counts as 2.
            Some(t) if t <= 0 => {}
            Some(t) => {
                c.connect_timeout(Duration::from_secs(t.max(2) as u64));
            }
            None => {
                c.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
            }
        }
        if let Some(k) = secs(r, "keepalives") {
            c.keepalives(k != 0);
        }
        if let Some(t) = secs(r, "keepalives_idle").filter(|t| *t > 0) {
            c.keepalives_idle(Duration::from_secs(t as u64));
        }
        if let Some(t) = secs(r, "keepalives_interval").filter(|t| *t > 0) {
            c.keepalives_interval(Duration::from_secs(t as u64));
        }
        if let Some(n) = secs(r, "keepalives_count").filter(|n| *n > 0) {
            c.keepalives_retries(n as u32);
        }
        if let Some(t) = secs(r, "tcp_user_timeout").filter(|t| *t > 0) {
            c.tcp_user_timeout(Duration::from_millis(t as u64));
        }
        c.channel_binding(match r.get("channel_binding") {
            Some("disable") => ChannelBinding::Disable,
            Some("require") => ChannelBinding::Require,
            _ => ChannelBinding::Prefer,
        });
        if r.get("sslnegotiation") == Some("direct") {
            c.ssl_negotiation(SslNegotiation::Direct);
        }
        c
    }

    /// The user's application_name when given, else stepgate's own name for the session.
    fn application_name<'a>(&'a self, app: &'a str) -> &'a str {
        match self.resolved.origin("application_name") {
            Some(Origin::Default) | None => app,
            Some(_) => self.resolved.get("application_name").unwrap_or(app),
        }
    }

    /// One endpoint, with libpq's sslmode behaviour (including allow/prefer fallbacks).
    fn open_endpoint(
        &self,
        ep: &Endpoint,
        app: &str,
        sink: Option<NoticeSink>,
    ) -> Result<Client, String> {
        let mode = self.resolved.sslmode();
        let mut config = self.base_config(ep, app);
        if let Some(sink) = sink {
            config.notice_callback(move |n| {
                if let Ok(mut v) = sink.lock() {
                    v.push(Notice {
                        severity: n.severity().to_string(),
                        code: n.code().code().to_string(),
                        message: n.message().to_string(),
                    });
                }
            });
        }
        let plain = |config: &Config| -> Result<Client, String> {
            let mut c = config.clone();
            c.ssl_mode(postgres::config::SslMode::Disable);
            c.connect(NoTls)
                .map_err(|e| describe_connect_error(&e, mode, ep, &self.resolved))
        };
        let tls = |config: &Config| -> Result<Client, String> {
            let connector = self.tls_connector(mode)?;
            let mut c = config.clone();
            c.ssl_mode(postgres::config::SslMode::Require);
            c.connect(connector)
                .map_err(|e| describe_connect_error(&e, mode, ep, &self.resolved))
        };
        if ep.is_socket() || mode == SslMode::Disable {
            return plain(&config);
        }
        if mode == SslMode::VerifyFull && ep.host.is_empty() {
            // As libpq: with only hostaddr there is no name to check.
            return Err(
                "host name must be specified for a verified SSL connection (sslmode=verify-full needs host=NAME; hostaddr alone gives none)".into(),
            );
        }
        match mode {
            SslMode::Allow => plain(&config).or_else(|first| {
                tls(&config).map_err(|second| format!("{first}; then over TLS: {second}"))
            }),
            SslMode::Prefer => tls(&config).or_else(|first| {
                plain(&config).map_err(|second| format!("{first}; then without TLS: {second}"))
            }),
            _ => tls(&config),
        }
    }

    /// The OpenSSL connector for `mode`, loading the root, client and CRL files as libpq does.
    fn tls_connector(&self, mode: SslMode) -> Result<MakeTlsConnector, String> {
        let r = &*self.resolved;
        let ssl = |what: &str, e: openssl::error::ErrorStack| format!("{what}: {e}");
        let mut b = SslConnector::builder(SslMethod::tls_client())
            .map_err(|e| ssl("cannot set up TLS", e))?;
        let verify_full = mode == SslMode::VerifyFull;
        let mut verify_chain = false;
        if let Some((root, explicit)) = r.ssl_file("sslrootcert") {
            if root == "system" {
                b.set_default_verify_paths()
                    .map_err(|e| ssl("cannot load the system's trusted root certificates", e))?;
                verify_chain = true;
            } else if Path::new(&root).exists() {
                b.set_ca_file(&root).map_err(|e| {
                    ssl(
                        &format!("could not read root certificate file \"{root}\""),
                        e,
                    )
                })?;
                verify_chain = true;
            } else if matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) {
                return Err(format!(
                    "root certificate file \"{root}\" does not exist{}: sslmode={} needs it to check the server's certificate. Give the CA's certificate with sslrootcert=FILE, use the system's trusted roots with sslrootcert=system, or use sslmode=require (no check)",
                    if explicit { "" } else { " (the default)" },
                    mode.as_str()
                ));
            }
        } else if matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) {
            return Err(format!(
                "sslmode={} needs a root certificate: give sslrootcert=FILE (no home directory to find ~/.postgresql/root.crt)",
                mode.as_str()
            ));
        }
        if verify_chain {
            b.set_verify(SslVerifyMode::PEER);
            let mut crl = false;
            if let Some((file, _)) = r.ssl_file("sslcrl").filter(|(f, _)| Path::new(f).exists()) {
                b.cert_store_mut()
                    .add_lookup(X509Lookup::file())
                    .and_then(|l| l.load_crl_file(&file, SslFiletype::PEM).map(|_| ()))
                    .map_err(|e| {
                        ssl(
                            &format!("could not load SSL certificate revocation list \"{file}\""),
                            e,
                        )
                    })?;
                crl = true;
            }
            if let Some(dir) = r.get("sslcrldir") {
                b.cert_store_mut()
                    .add_lookup(X509Lookup::hash_dir())
                    .and_then(|l| l.add_dir(dir, SslFiletype::PEM))
                    .map_err(|e| ssl(&format!("could not load SSL certificate revocation list directory \"{dir}\""), e))?;
                crl = true;
            }
            if crl {
                b.cert_store_mut()
                    .set_flags(X509VerifyFlags::CRL_CHECK | X509VerifyFlags::CRL_CHECK_ALL)
                    .map_err(|e| ssl("cannot enable CRL checks", e))?;
            }
        } else {
            b.set_verify(SslVerifyMode::NONE);
        }
        if r.get("sslcertmode") != Some("disable") {
            self.load_client_cert(&mut b)?;
        }
        let version = |v: &str| match v {
            "TLSv1" => Some(SslVersion::TLS1),
            "TLSv1.1" => Some(SslVersion::TLS1_1),
            "TLSv1.2" => Some(SslVersion::TLS1_2),
            "TLSv1.3" => Some(SslVersion::TLS1_3),
            _ => None,
        };
        let min = r.get("ssl_min_protocol_version").unwrap_or("TLSv1.2");
        b.set_min_proto_version(version(min))
            .map_err(|e| ssl("ssl_min_protocol_version", e))?;
        if let Some(max) = r.get("ssl_max_protocol_version") {
            b.set_max_proto_version(version(max))
                .map_err(|e| ssl("ssl_max_protocol_version", e))?;
        }
        let sni = r.get("sslsni") != Some("0");
        let mut m = MakeTlsConnector::new(b.build());
        m.set_callback(move |cfg, _domain| {
            cfg.set_verify_hostname(verify_full);
            cfg.set_use_server_name_indication(sni);
            Ok(())
        });
        Ok(m)
    }

    /// `sslcert`/`sslkey` (defaults under ~/.postgresql, used when the certificate exists).
    fn load_client_cert(&self, b: &mut openssl::ssl::SslConnectorBuilder) -> Result<(), String> {
        let r = &*self.resolved;
        let Some((cert, _)) = r.ssl_file("sslcert") else {
            return Ok(());
        };
        if !Path::new(&cert).exists() {
            return Ok(()); // libpq too: no certificate file, no client certificate
        }
        b.set_certificate_chain_file(&cert)
            .map_err(|e| format!("could not load client certificate file \"{cert}\": {e}"))?;
        let Some((key, _)) = r.ssl_file("sslkey") else {
            return Err(format!(
                "certificate present, but no private key file (give sslkey=FILE for \"{cert}\")"
            ));
        };
        check_key_permissions(&key)?;
        let pem = std::fs::read(&key)
            .map_err(|e| format!("certificate present, but not private key file \"{key}\": {e}"))?;
        let pkey = match r.get("sslpassword") {
            Some(pw) => openssl::pkey::PKey::private_key_from_pem_passphrase(&pem, pw.as_bytes()),
            None => openssl::pkey::PKey::private_key_from_pem(&pem),
        }
        .or_else(|e| openssl::pkey::PKey::private_key_from_der(&pem).map_err(|_| e))
        .map_err(|e| format!("could not load private key file \"{key}\": {e}"))?;
        b.set_private_key(&pkey)
            .and_then(|_| b.check_private_key())
            .map_err(|e| format!("certificate does not match private key file \"{key}\": {e}"))?;
        Ok(())
    }

    /// libpq-style key=value string for client programs (pg_dump, pg_restore): the one
    /// host:port the sessions reached (every host, in order, before any session), the
    /// same user, database and TLS settings. The password comes back separately, for
    /// `PGPASSWORD`, so it never shows in `ps`. Prefer [`Target::tool_command`], which
    /// also clears the libpq environment the child would otherwise read.
    pub fn conninfo_for_tools(&self) -> (String, Option<String>) {
        let r = &*self.resolved;
        let eps = self.endpoints_now();
        let q = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
        let mut parts = Vec::new();
        let join = |f: &dyn Fn(&Endpoint) -> String| {
            eps.iter().map(|e| f(e)).collect::<Vec<_>>().join(",")
        };
        parts.push(format!("host={}", q(&join(&|e| e.host.clone()))));
        if eps.iter().any(|e| e.hostaddr.is_some()) {
            parts.push(format!(
                "hostaddr={}",
                q(&join(&|e| e.hostaddr.clone().unwrap_or_default()))
            ));
        }
        parts.push(format!("port={}", q(&join(&|e| e.port.to_string()))));
        parts.push(format!("user={}", q(r.user())));
        parts.push(format!("dbname={}", q(r.dbname())));
        for (k, v) in self.tool_params() {
            parts.push(format!("{k}={}", q(&v)));
        }
        // The pinned endpoint's password. With several hosts and no session yet, a
        // password from the password file may differ per host: the child then reads
        // that same file itself (passfile= in tool_params) instead.
        let pw = if eps.len() > 1 && eps.iter().any(|e| e.password_from_file) {
            None
        } else {
            eps.first().and_then(|e| e.password.clone())
        };
        (parts.join(" "), pw)
    }

    /// Every parameter besides host/port/user/dbname/password that the child must share,
    /// as (keyword, value), with the TLS files made explicit.
    fn tool_params(&self) -> Vec<(String, String)> {
        let r = &*self.resolved;
        let mut out: Vec<(String, String)> = Vec::new();
        let mode = r.sslmode();
        out.push(("sslmode".into(), mode.as_str().into()));
        for k in ["sslrootcert", "sslcrl", "sslcert", "sslkey"] {
            if let Some((f, explicit)) = r.ssl_file(k) {
                if k == "sslrootcert" && f == "system" {
                    // libpq before 16 reads `system` as a file name: give the file
                    // OpenSSL's default paths name (what `system` loads) where there is one.
                    out.push((k.into(), system_roots_file().unwrap_or(f)));
                } else if explicit || Path::new(&f).exists() {
                    out.push((k.into(), f));
                }
            }
        }
        for k in [
            "sslcrldir",
            "sslsni",
            "sslcertmode",
            "sslnegotiation",
            "ssl_min_protocol_version",
            "ssl_max_protocol_version",
            "channel_binding",
            "options",
            "keepalives",
            "keepalives_idle",
            "keepalives_interval",
            "keepalives_count",
            "tcp_user_timeout",
        ] {
            if let Some(v) = r.get(k) {
                out.push((k.into(), v.into()));
            }
        }
        if let Some(p) = &r.passfile {
            out.push(("passfile".into(), p.clone()));
        }
        let timeout = match secs(r, "connect_timeout") {
            Some(t) => t.to_string(),
            None => DEFAULT_CONNECT_TIMEOUT.as_secs().to_string(),
        };
        out.push(("connect_timeout".into(), timeout));
        if self.pinned().is_none() {
            if let Some(v) = r.get("target_session_attrs") {
                out.push(("target_session_attrs".into(), v.into()));
            }
        }
        // The user's application_name, else `stepgate` (a caller may append its own
        // fallback_application_name, which libpq then prefers to this one).
        match r.origin("application_name") {
            Some(Origin::Default) | None => {
                out.push(("fallback_application_name".into(), "stepgate".into()))
            }
            Some(_) => {
                if let Some(v) = r.get("application_name") {
                    out.push(("application_name".into(), v.into()));
                }
            }
        }
        // stepgate never uses GSSAPI encryption: neither may the child.
        out.push(("gssencmode".into(), "disable".into()));
        out
    }

    /// A client program (`pg_dump`, `pg_restore`, `psql`) set up to reach exactly what
    /// this target reached: the libpq environment cleared, TLS settings in `PGSSLMODE`,
    /// `PGSSLROOTCERT`, … and the password in `PGPASSWORD`. Pass
    /// [`Target::conninfo_for_tools`] as its `--dbname`.
    pub fn tool_command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(program);
        for (_, var) in KEYWORDS {
            if let Some(var) = var {
                c.env_remove(var);
            }
        }
        for var in conninfo::OTHER_ENV {
            c.env_remove(var);
        }
        c.env_remove("DATABASE_URL");
        for (k, v) in self.tool_params() {
            if let Some(var) = KEYWORDS
                .iter()
                .find(|(kw, _)| *kw == k)
                .and_then(|(_, var)| *var)
            {
                c.env(var, v);
            }
        }
        if let (_, Some(pw)) = self.conninfo_for_tools() {
            c.env("PGPASSWORD", pw);
        }
        c
    }
}

/// The CA bundle `SSL_CTX_set_default_verify_paths` loads: `SSL_CERT_FILE`, else
/// OpenSSL's compiled-in default (Debian: /usr/lib/ssl/cert.pem), when it exists.
fn system_roots_file() -> Option<String> {
    let file = env_var("SSL_CERT_FILE").or_else(|| {
        // SAFETY: X509_get_default_cert_file returns a pointer to a static,
        // NUL-terminated string compiled into libcrypto; it is never freed.
        let p = unsafe { openssl_sys::X509_get_default_cert_file() };
        if p.is_null() {
            return None;
        }
        // SAFETY: non-null, NUL-terminated, 'static (see above).
        let s = unsafe { std::ffi::CStr::from_ptr(p) };
        Some(s.to_string_lossy().to_string())
    })?;
    Path::new(&file).exists().then_some(file)
}

/// `target_session_attrs`, checked on an open session as libpq does.
fn session_fits(client: &mut Client, want: &str) -> Result<(), String> {
    let show = |client: &mut Client, q: &str| -> Result<String, String> {
        client
            .simple_query(q)
            .map_err(|e| crate::db::describe_pg_error(&e))?
            .into_iter()
            .find_map(|m| match m {
                postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            })
            .ok_or_else(|| format!("no answer to {q}"))
    };
    match want {
        "read-write" | "read-only" => {
            let ro = show(client, "SHOW transaction_read_only")? == "on";
            match (want, ro) {
                ("read-write", true) => {
                    Err("session is read-only (target_session_attrs=read-write)".into())
                }
                ("read-only", false) => {
                    Err("session is not read-only (target_session_attrs=read-only)".into())
                }
                _ => Ok(()),
            }
        }
        "primary" | "standby" => {
            let standby = show(client, "SELECT pg_catalog.pg_is_in_recovery()")? == "t";
            match (want, standby) {
                ("primary", true) => {
                    Err("server is in hot standby mode (target_session_attrs=primary)".into())
                }
                ("standby", false) => {
                    Err("server is not in hot standby mode (target_session_attrs=standby)".into())
                }
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// libpq's rule for private key files.
fn check_key_permissions(path: &str) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("certificate present, but not private key file \"{path}\": {e}"))?;
    if !meta.is_file() {
        return Err(format!("private key file \"{path}\" is not a regular file"));
    }
    let mode = meta.mode();
    let me = nix::unistd::geteuid().as_raw();
    if (meta.uid() == me && mode & 0o077 != 0) || (meta.uid() == 0 && mode & 0o037 != 0) {
        return Err(format!(
            "private key file \"{path}\" has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root"
        ));
    }
    Ok(())
}

/// A connection failure in words that say what failed.
fn describe_connect_error(
    e: &postgres::Error,
    mode: SslMode,
    ep: &Endpoint,
    r: &Resolved,
) -> String {
    let full = crate::db::describe_pg_error(e);
    let root = match r.ssl_file("sslrootcert") {
        Some((f, _)) if f == "system" => "the system's trusted roots (sslrootcert=system)".into(),
        Some((f, _)) => format!("a CA in sslrootcert \"{f}\""),
        None => "sslrootcert".to_string(),
    };
    if full.contains("certificate verify failed") {
        // postgres-openssl appends OpenSSL's verify result ("self-signed certificate in
        // certificate chain", "hostname mismatch", …) after the error stack.
        let reason = full
            .split(": ")
            .skip_while(|p| !p.contains("certificate verify failed"))
            .find(|p| !p.starts_with("error:") && !p.trim().is_empty())
            .unwrap_or("certificate verify failed")
            .trim()
            .to_string();
        if reason.contains("hostname mismatch") || reason.contains("IP address mismatch") {
            let name = if ep.host.is_empty() {
                ep.hostaddr.clone().unwrap_or_default()
            } else {
                ep.host.clone()
            };
            return format!(
                "TLS: the server's certificate does not match the host name \"{name}\" (sslmode=verify-full checks it; connect with a name the certificate lists, or use sslmode=verify-ca to check only the chain)"
            );
        }
        return format!(
            "TLS: the server's certificate is not trusted: {reason} (sslmode={} checks that it chains to {root})",
            mode.as_str()
        );
    }
    if full.contains("server does not support TLS") {
        return format!(
            "TLS: the server does not offer TLS, and sslmode={} requires it",
            mode.as_str()
        );
    }
    if full.contains("no encryption") && full.contains("pg_hba.conf") {
        return format!(
            "{full} — the server accepts only TLS connections here (sslmode={}); use sslmode=require or verify-full",
            mode.as_str()
        );
    }
    if full.contains("certificate required") || full.contains("requires a valid client certificate")
    {
        return format!(
            "{full} — the server wants a client certificate: give sslcert=FILE and sslkey=FILE (default ~/.postgresql/postgresql.crt and .key)"
        );
    }
    full
}

/// A NOTICE or WARNING raised by the server.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Notice {
    pub severity: String,
    pub code: String,
    pub message: String,
}

pub type NoticeSink = std::sync::Arc<std::sync::Mutex<Vec<Notice>>>;

/// Drains collected notices.
pub fn take_notices(sink: &NoticeSink) -> Vec<Notice> {
    sink.lock()
        .map(|mut v| std::mem::take(&mut *v))
        .unwrap_or_default()
}

/// Removes anything that looks like a password from a message.
pub fn redact(msg: &str) -> String {
    let re = regex::Regex::new(
        r"(?i)((?:ssl)?password\s*=\s*)('[^']*'|\S+)|(://[^:/@\s]+:)([^@\s]+)(@)",
    );
    match re {
        Ok(re) => re
            .replace_all(msg, |c: &regex::Captures| {
                if let Some(k) = c.get(1) {
                    format!("{}***", k.as_str())
                } else {
                    format!("{}***{}", &c[3], &c[5])
                }
            })
            .to_string(),
        Err(_) => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("password=sekrit host=x"), "password=*** host=x");
        assert_eq!(redact("sslpassword='a b' host=x"), "sslpassword=*** host=x");
        assert_eq!(redact("postgres://u:sekrit@h/db"), "postgres://u:***@h/db");
        let t = Target::resolve(Some("postgresql://u:sekrit@localhost:5433/db")).unwrap();
        assert_eq!(t.display(), "u@localhost:5433/db");
        assert!(!format!("{t:?}").contains("sekrit"));
        let (ci, pw) = t.conninfo_for_tools();
        assert!(!ci.contains("sekrit"), "{ci}");
        assert_eq!(pw.as_deref(), Some("sekrit"));
    }

    #[test]
    fn tools_get_every_host_until_one_is_reached() {
        let t = Target::resolve(Some(
            "postgresql://u@a:1,[::1]:2/db?sslmode=verify-full&sslrootcert=/ca.pem&target_session_attrs=read-write",
        ))
        .unwrap();
        assert_eq!(t.display(), "u@a:1,[::1]:2/db");
        let (ci, _) = t.conninfo_for_tools();
        assert!(ci.starts_with("host='a,::1' port='1,2' user='u' dbname='db' sslmode='verify-full' sslrootcert='/ca.pem'"), "{ci}");
        assert!(ci.contains("target_session_attrs='read-write'"), "{ci}");
        if let Ok(mut p) = t.pinned.lock() {
            *p = Some(1);
        }
        let (ci, _) = t.conninfo_for_tools();
        assert!(ci.starts_with("host='::1' port='2' "), "{ci}");
        assert!(!ci.contains("target_session_attrs"), "{ci}");
        assert_eq!(t.reached().as_deref(), Some("[::1]:2"));
        let cmd = t.tool_command("pg_dump");
        let envs: Vec<(String, Option<String>)> = cmd
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().to_string(),
                    v.map(|v| v.to_string_lossy().to_string()),
                )
            })
            .collect();
        assert!(envs.contains(&("PGSERVICE".into(), None)));
        assert!(envs.contains(&("PGSSLMODE".into(), Some("verify-full".into()))));
        assert!(envs.contains(&("PGSSLROOTCERT".into(), Some("/ca.pem".into()))));
    }

    #[test]
    fn tools_get_the_system_roots_as_a_file() {
        let t = Target::resolve(Some("host=h sslrootcert=system")).unwrap();
        let (ci, _) = t.conninfo_for_tools();
        assert!(ci.contains("sslmode='verify-full'"), "{ci}");
        match system_roots_file() {
            Some(f) => assert!(ci.contains(&format!("sslrootcert='{f}'")), "{ci}"),
            None => assert!(ci.contains("sslrootcert='system'"), "{ci}"),
        }
    }

    #[test]
    fn verify_full_needs_a_host_name() {
        let t = Target::resolve(Some("hostaddr=127.0.0.1 port=1 sslmode=verify-full")).unwrap();
        let e = t
            .connect("test")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("host name must be specified"), "{e}");
    }

    #[test]
    fn unsupported_parameters_are_refused() {
        for s in [
            "gssencmode=require",
            "requirepeer=postgres",
            "replication=database",
            "client_encoding=LATIN1",
            "host=@abstract",
            "hostaddr=not-an-ip",
        ] {
            assert!(Target::resolve(Some(s)).is_err(), "{s}");
        }
        assert!(Target::resolve(Some("client_encoding=UTF8")).is_ok());
    }
}
