//! Connection parameters resolved the way libpq resolves them — pure: the environment,
//! the files and the machine's defaults come in as [`Inputs`], so every rule here is
//! unit-tested without touching the process environment. `src/db/connect.rs` supplies
//! the real inputs and does the connecting.
//!
//! Order, as in libpq (`conninfo_parse`/`conninfo_uri_parse`, `parse_service_info`,
//! `conninfo_add_defaults`, `connectOptions2`):
//!
//! 1. the explicit string: `key=value …` (values single-quoted with `\` escapes when
//!    they hold spaces) or a `postgresql://`/`postgres://` URL
//!    (`user:password@host1:port1,[::1]:port2/dbname?key=value&…`, every part
//!    percent-decoded; query parameters override what the authority said, so
//!    `postgresql://u@h:5433/db?host=/socket/dir` connects to the socket);
//! 2. the service named by `service=` (or `PGSERVICE`): its group in the per-user file
//!    (`servicefile=`, else `PGSERVICEFILE`, else `~/.pg_service.conf`); when that file
//!    lacks the group, the system file `PGSYSCONFDIR/pg_service.conf`. Service values
//!    only fill parameters the string left unset;
//! 3. the libpq environment variables (`PGHOST`, `PGPORT`, `PGSSLMODE`, … see
//!    [`KEYWORDS`]) for what is still unset;
//! 4. defaults: host = the default socket directory, port 5432, user = the OS user,
//!    dbname = user, sslmode = prefer;
//! 5. per host, a missing password is looked up in the password file (`passfile=`, else
//!    `PGPASSFILE`, else `~/.pgpass`), matched on host (the default socket directory
//!    counts as `localhost`), port, dbname and user.
//!
//! Where stepgate differs from libpq (all deliberate, all documented in README.md):
//! * an environment variable set to the empty string counts as unset (libpq would
//!   take `PGSERVICE=` as a service named ``);
//! * `DATABASE_URL` is read when no explicit string is given (a stepgate convention);
//! * `connect_timeout` defaults to 10 seconds (libpq waits forever);
//! * `application_name` defaults to `stepgate …` naming the verb (libpq: unset);
//! * the default socket directory is `/var/run/postgresql` when it exists, else `/tmp`
//!   (libpq uses the one compiled in: Debian's is `/var/run/postgresql`);
//! * parameters of features stepgate does not implement are refused with a message
//!   rather than ignored: `gssencmode=require`, `requirepeer`, `replication`,
//!   `require_auth`, `sslcertmode=require`, a `client_encoding` other than UTF8, and
//!   abstract unix sockets (`host=@name`).

use std::collections::BTreeMap;

/// Every connection keyword libpq (up to 18) accepts, with its environment variable.
pub const KEYWORDS: &[(&str, Option<&str>)] = &[
    ("service", Some("PGSERVICE")),
    ("servicefile", Some("PGSERVICEFILE")),
    ("user", Some("PGUSER")),
    ("password", Some("PGPASSWORD")),
    ("passfile", Some("PGPASSFILE")),
    ("channel_binding", Some("PGCHANNELBINDING")),
    ("connect_timeout", Some("PGCONNECT_TIMEOUT")),
    ("dbname", Some("PGDATABASE")),
    ("host", Some("PGHOST")),
    ("hostaddr", Some("PGHOSTADDR")),
    ("port", Some("PGPORT")),
    ("client_encoding", Some("PGCLIENTENCODING")),
    ("options", Some("PGOPTIONS")),
    ("application_name", Some("PGAPPNAME")),
    ("fallback_application_name", None),
    ("keepalives", None),
    ("keepalives_idle", None),
    ("keepalives_interval", None),
    ("keepalives_count", None),
    ("tcp_user_timeout", None),
    ("sslmode", Some("PGSSLMODE")),
    ("sslnegotiation", Some("PGSSLNEGOTIATION")),
    ("sslcompression", Some("PGSSLCOMPRESSION")),
    ("sslcert", Some("PGSSLCERT")),
    ("sslkey", Some("PGSSLKEY")),
    ("sslcertmode", Some("PGSSLCERTMODE")),
    ("sslpassword", None),
    ("sslrootcert", Some("PGSSLROOTCERT")),
    ("sslcrl", Some("PGSSLCRL")),
    ("sslcrldir", Some("PGSSLCRLDIR")),
    ("sslsni", Some("PGSSLSNI")),
    ("requirepeer", Some("PGREQUIREPEER")),
    ("require_auth", Some("PGREQUIREAUTH")),
    ("ssl_min_protocol_version", Some("PGSSLMINPROTOCOLVERSION")),
    ("ssl_max_protocol_version", Some("PGSSLMAXPROTOCOLVERSION")),
    ("min_protocol_version", Some("PGMINPROTOCOLVERSION")),
    ("max_protocol_version", Some("PGMAXPROTOCOLVERSION")),
    ("gssencmode", Some("PGGSSENCMODE")),
    ("krbsrvname", Some("PGKRBSRVNAME")),
    ("gsslib", Some("PGGSSLIB")),
    ("gssdelegation", Some("PGGSSDELEGATION")),
    ("replication", None),
    ("target_session_attrs", Some("PGTARGETSESSIONATTRS")),
    ("load_balance_hosts", Some("PGLOADBALANCEHOSTS")),
];

/// Environment variables libpq reads that are not connection keywords.
pub const OTHER_ENV: &[&str] = &[
    "PGSYSCONFDIR",
    "PGREQUIRESSL",
    "PGTZ",
    "PGDATESTYLE",
    "PGGEQO",
];

pub const DEFAULT_PORT: u16 = 5432;

fn known(key: &str) -> bool {
    KEYWORDS.iter().any(|(k, _)| *k == key)
}

/// What libpq says, near enough word for word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConnInfoError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ConnInfoError> {
    Err(ConnInfoError(msg.into()))
}

/// Where a resolved value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Explicit,
    Service,
    Env,
    Default,
}

/// Parses a connection string: a URL when it starts with `postgresql://` or
/// `postgres://`, else `key=value` pairs. Later pairs override earlier ones.
pub fn parse(s: &str) -> Result<Vec<(String, String)>, ConnInfoError> {
    if s.starts_with("postgresql://") || s.starts_with("postgres://") {
        parse_uri(s)
    } else {
        parse_kv(s)
    }
}

/// `key=value` pairs, as libpq's `conninfo_parse`.
pub fn parse_kv(s: &str) -> Result<Vec<(String, String)>, ConnInfoError> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let n = chars.len();
    loop {
        while i < n && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= n {
            break;
        }
        let mut key = String::new();
        while i < n && !chars[i].is_whitespace() && chars[i] != '=' {
            key.push(chars[i]);
            i += 1;
        }
        while i < n && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= n || chars[i] != '=' {
            return err(format!(
                "missing \"=\" after \"{key}\" in connection info string"
            ));
        }
        i += 1;
        while i < n && chars[i].is_whitespace() {
            i += 1;
        }
        let mut val = String::new();
        if i < n && chars[i] == '\'' {
            i += 1;
            let mut closed = false;
            while i < n {
                match chars[i] {
                    '\\' if i + 1 < n => {
                        val.push(chars[i + 1]);
                        i += 2;
                    }
                    '\'' => {
                        closed = true;
                        i += 1;
                        break;
                    }
                    c => {
                        val.push(c);
                        i += 1;
                    }
                }
            }
            if !closed {
                return err("unterminated quoted string in connection info string");
            }
        } else {
            while i < n && !chars[i].is_whitespace() {
                if chars[i] == '\\' && i + 1 < n {
                    i += 1;
                }
                val.push(chars[i]);
                i += 1;
            }
        }
        if !known(&key) {
            return err(format!("invalid connection option \"{key}\""));
        }
        out.push((key, val));
    }
    Ok(out)
}

/// Percent-decoding as libpq's `conninfo_uri_decode`.
pub fn percent_decode(s: &str) -> Result<String, ConnInfoError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            let (h, l) = match (
                b.get(i + 1).and_then(|c| hex(*c)),
                b.get(i + 2).and_then(|c| hex(*c)),
            ) {
                (Some(h), Some(l)) => (h, l),
                _ => return err(format!("invalid percent-encoded token: \"{s}\"")),
            };
            let v = (h * 16 + l) as u8;
            if v == 0 {
                return err(format!(
                    "forbidden value %00 in percent-encoded value: \"{s}\""
                ));
            }
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).or_else(|_| err(format!("percent-encoded value is not UTF-8: \"{s}\"")))
}

/// A `postgresql://` URL, as libpq's `conninfo_uri_parse_options`.
pub fn parse_uri(uri: &str) -> Result<Vec<(String, String)>, ConnInfoError> {
    let rest = uri
        .strip_prefix("postgresql://")
        .or_else(|| uri.strip_prefix("postgres://"))
        .ok_or_else(|| ConnInfoError(format!("invalid URI: \"{uri}\"")))?;
    let mut out: Vec<(String, String)> = Vec::new();
    // The authority ends at the first '/' or '?'.
    // User info, as libpq looks for it: up to the first '@' met before any '/'
    // (a '?' does not stop the look-ahead); the user ends at the first ':'.
    let rest = match rest.find(['@', '/']) {
        Some(at) if rest.as_bytes()[at] == b'@' => {
            let userinfo = &rest[..at];
            let (user, pw) = match userinfo.find(':') {
                Some(c) => (&userinfo[..c], Some(&userinfo[c + 1..])),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                out.push(("user".into(), percent_decode(user)?));
            }
            if let Some(pw) = pw.filter(|p| !p.is_empty()) {
                // Never echo the password in the error.
                let pw = percent_decode(pw).map_err(|_| {
                    ConnInfoError("invalid percent-encoding in the URI's password".into())
                })?;
                out.push(("password".into(), pw));
            }
            &rest[at + 1..]
        }
        _ => rest,
    };
    // The host list ends at the first '/' or '?'.
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (hostpart, tail) = rest.split_at(auth_end);
    // host[:port] list, comma-separated; IPv6 literals in brackets. Like libpq, a list
    // with commas is stored even when its items are empty (`h1,h2` sets port to `,`,
    // so each host gets 5432 and PGPORT is not read).
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    let mut any_port = false;
    let mut any_host = false;
    if !hostpart.is_empty() {
        for (h, p) in split_hosts(hostpart, uri)? {
            any_host |= !h.is_empty();
            any_port |= p.as_deref().is_some_and(|p| !p.is_empty());
            hosts.push(percent_decode(&h)?);
            ports.push(percent_decode(p.as_deref().unwrap_or(""))?);
        }
    }
    any_port |= hosts.len() > 1;
    if any_host || hosts.len() > 1 {
        out.push(("host".into(), hosts.join(",")));
    }
    if any_port {
        out.push(("port".into(), ports.join(",")));
    }
    let (path, query) = match tail.find('?') {
        Some(q) => (&tail[..q], Some(&tail[q + 1..])),
        None => (tail, None),
    };
    if let Some(db) = path.strip_prefix('/') {
        if !db.is_empty() {
            out.push(("dbname".into(), percent_decode(db)?));
        }
    }
    if let Some(q) = query {
        let pairs: Vec<&str> = q.split('&').collect();
        for (i, pair) in pairs.iter().enumerate() {
            // A trailing '&' is harmless; an empty pair elsewhere is not (as libpq).
            if pair.is_empty() && i + 1 == pairs.len() {
                continue;
            }
            let (k, v) = match pair.find('=') {
                Some(e) => (&pair[..e], &pair[e + 1..]),
                None => {
                    return err(format!(
                        "missing key/value separator \"=\" in URI query parameter: \"{pair}\""
                    ))
                }
            };
            if v.contains('=') {
                return err(format!(
                    "extra key/value separator \"=\" in URI query parameter: \"{pair}\""
                ));
            }
            let mut k = percent_decode(k)?;
            let mut v = percent_decode(v)?;
            // JDBC compatibility, as libpq: ssl=true means sslmode=require.
            if k == "ssl" && v == "true" {
                k = "sslmode".into();
                v = "require".into();
            }
            if !known(&k) {
                return err(format!("invalid URI query parameter: \"{k}\""));
            }
            out.retain(|(ok, _)| *ok != k);
            out.push((k, v));
        }
    }
    Ok(out)
}

/// Splits `h1:p1,[::1]:p2,h3` into (host, port) items.
fn split_hosts(s: &str, uri: &str) -> Result<Vec<(String, Option<String>)>, ConnInfoError> {
    let mut items = Vec::new();
    let mut rest = s;
    loop {
        let (host, after) = if let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']').ok_or_else(|| {
                ConnInfoError(format!(
                    "end of string reached when looking for matching \"]\" in IPv6 host address in URI: \"{uri}\""
                ))
            })?;
            if close == 0 {
                return err(format!(
                    "IPv6 host address may not be empty in URI: \"{uri}\""
                ));
            }
            let after = &r[close + 1..];
            if !(after.is_empty() || after.starts_with(':') || after.starts_with(',')) {
                return err(format!(
                    "unexpected character \"{}\" after \"]\" in IPv6 host address in URI: \"{uri}\"",
                    after.chars().next().unwrap_or(' ')
                ));
            }
            (r[..close].to_string(), after)
        } else {
            let end = rest.find([':', ',']).unwrap_or(rest.len());
            (rest[..end].to_string(), &rest[end..])
        };
        let (port, after) = if let Some(p) = after.strip_prefix(':') {
            let end = p.find(',').unwrap_or(p.len());
            (Some(p[..end].to_string()), &p[end..])
        } else {
            (None, after)
        };
        items.push((host, port));
        match after.strip_prefix(',') {
            Some(r) => rest = r,
            None => break,
        }
    }
    Ok(items)
}

/// The `[service]` group of a `pg_service.conf` text: `Ok(None)` when the file has no
/// such group. Errors as libpq's `parseServiceFile`.
pub fn parse_service_file(
    text: &str,
    file: &str,
    service: &str,
) -> Result<Option<Vec<(String, String)>>, ConnInfoError> {
    let mut found = false;
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            if found {
                break;
            }
            // As libpq: the name, then ']' (anything after it is ignored).
            found = name
                .strip_prefix(service)
                .is_some_and(|r| r.starts_with(']'));
            continue;
        }
        if !found {
            continue;
        }
        let Some(eq) = line.find('=') else {
            return err(format!(
                "syntax error in service file \"{file}\", line {}",
                i + 1
            ));
        };
        // No trimming around '=': libpq takes `host = x` as the unknown key "host ".
        let key = &line[..eq];
        let val = &line[eq + 1..];
        if key == "service" {
            return err(format!(
                "nested \"service\" specifications not supported in service file \"{file}\", line {}",
                i + 1
            ));
        }
        if key == "servicefile" {
            return err(format!(
                "nested \"servicefile\" specifications not supported in service file \"{file}\", line {}",
                i + 1
            ));
        }
        if !known(key) {
            return err(format!(
                "syntax error in service file \"{file}\", line {}: invalid option \"{key}\"",
                i + 1
            ));
        }
        out.push((key.to_string(), val.to_string()));
    }
    Ok(if found { Some(out) } else { None })
}

/// The password of the first `hostname:port:database:username:password` line that
/// matches (a field of just `*` matches anything; `\\` escapes `:` and `\\`), as libpq's
/// `passwordFromFile`: no lookup without a database and user name; the password ends
/// at the next unescaped `:`.
pub fn pgpass_lookup(text: &str, host: &str, port: &str, db: &str, user: &str) -> Option<String> {
    if db.is_empty() || user.is_empty() {
        return None;
    }
    for line in text.lines() {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let mut rest = line;
        let mut matched = true;
        for want in [host, port, db, user] {
            match match_field(rest, want) {
                Some(r) => rest = r,
                None => {
                    matched = false;
                    break;
                }
            }
        }
        if matched {
            let mut pw = String::new();
            let mut chars = rest.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    ':' => break,
                    '\\' => pw.push(chars.next().unwrap_or('\\')),
                    c => pw.push(c),
                }
            }
            return Some(pw);
        }
    }
    None
}

/// libpq's `pwdfMatchesString`: the rest of the line after a field that is `*` or
/// equals `want` (with `\\` escapes), or `None`.
fn match_field<'a>(line: &'a str, want: &str) -> Option<&'a str> {
    if let Some(rest) = line.strip_prefix("*:") {
        return Some(rest);
    }
    let mut want = want.chars();
    let mut it = line.char_indices();
    while let Some((i, c)) = it.next() {
        let c = match c {
            ':' => {
                return if want.next().is_none() {
                    Some(&line[i + 1..])
                } else {
                    None
                }
            }
            '\\' => it.next()?.1,
            c => c,
        };
        if want.next() != Some(c) {
            return None;
        }
    }
    None
}

/// Everything the resolution reads from outside, injected.
pub struct Inputs<'a> {
    /// An environment variable (empty values count as unset).
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// A service file's text; `None` when it does not exist.
    pub read_service_file: &'a dyn Fn(&str) -> Option<String>,
    /// The password file's text; `None` when it does not exist or may not be used
    /// (the I/O layer checks its permissions, as libpq does).
    pub read_passfile: &'a dyn Fn(&str) -> Option<String>,
    /// `$HOME`, for `~/.pg_service.conf`, `~/.pgpass` and `~/.postgresql/`.
    pub home: Option<String>,
    pub os_user: String,
    /// The default unix-socket directory.
    pub default_socket_dir: String,
    /// The system configuration directory when `PGSYSCONFDIR` is unset.
    pub default_sysconfdir: String,
}

impl Inputs<'_> {
    fn var(&self, k: &str) -> Option<String> {
        (self.env)(k).filter(|v| !v.is_empty())
    }
}

/// One host to try, in order. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// A host name, an IP address or a unix-socket directory (starts with `/`).
    /// Empty when only `hostaddr` was given.
    pub host: String,
    pub hostaddr: Option<String>,
    pub port: u16,
    pub password: Option<String>,
    /// Where the password came from: `passfile` when from the password file.
    pub password_from_file: bool,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("host", &self.host)
            .field("hostaddr", &self.hostaddr)
            .field("port", &self.port)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("password_from_file", &self.password_from_file)
            .finish()
    }
}

impl Endpoint {
    pub fn is_socket(&self) -> bool {
        self.hostaddr.is_none() && (self.host.starts_with('/') || self.host.starts_with('@'))
    }
    /// `host:port`, `[v6]:port`, or the socket directory and port.
    pub fn display(&self) -> String {
        let h = if self.host.is_empty() {
            self.hostaddr.clone().unwrap_or_default()
        } else {
            self.host.clone()
        };
        if h.contains(':') {
            format!("[{h}]:{}", self.port)
        } else {
            format!("{h}:{}", self.port)
        }
    }
}

/// The resolved parameters: every keyword that has a value, where it came from, and
/// the hosts to try. `Debug` never shows `password` or `sslpassword`.
#[derive(Clone)]
pub struct Resolved {
    pub values: BTreeMap<String, (String, Origin)>,
    pub endpoints: Vec<Endpoint>,
    /// `~/.postgresql`, where libpq looks for root.crt, root.crl, postgresql.crt/.key.
    pub ssl_dir: Option<String>,
    /// The password file that was read (`passfile`, `PGPASSFILE` or `~/.pgpass`).
    pub passfile: Option<String>,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let values: BTreeMap<&str, (&str, Origin)> = self
            .values
            .iter()
            .map(|(k, (v, o))| {
                let v = if k == "password" || k == "sslpassword" {
                    "***"
                } else {
                    v.as_str()
                };
                (k.as_str(), (v, *o))
            })
            .collect();
        f.debug_struct("Resolved")
            .field("values", &values)
            .field("endpoints", &self.endpoints)
            .field("ssl_dir", &self.ssl_dir)
            .field("passfile", &self.passfile)
            .finish()
    }
}

impl Resolved {
    pub fn get(&self, k: &str) -> Option<&str> {
        self.values
            .get(k)
            .map(|(v, _)| v.as_str())
            .filter(|v| !v.is_empty())
    }
    pub fn origin(&self, k: &str) -> Option<Origin> {
        self.values.get(k).map(|(_, o)| *o)
    }
    pub fn user(&self) -> &str {
        self.get("user").unwrap_or("")
    }
    pub fn dbname(&self) -> &str {
        self.get("dbname").unwrap_or("")
    }
    pub fn sslmode(&self) -> SslMode {
        self.get("sslmode")
            .and_then(SslMode::parse)
            .unwrap_or(SslMode::Prefer)
    }
    /// A file parameter with libpq's default under `~/.postgresql/`: `(path, explicit)`.
    pub fn ssl_file(&self, key: &str) -> Option<(String, bool)> {
        if let Some(v) = self.get(key) {
            return Some((v.to_string(), true));
        }
        let name = match key {
            "sslrootcert" => "root.crt",
            "sslcrl" => "root.crl",
            "sslcert" => "postgresql.crt",
            "sslkey" => "postgresql.key",
            _ => return None,
        };
        self.ssl_dir
            .as_ref()
            .map(|d| (format!("{d}/{name}"), false))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

fn check_enum(
    r: &BTreeMap<String, (String, Origin)>,
    key: &str,
    allowed: &[&str],
) -> Result<(), ConnInfoError> {
    if let Some((v, _)) = r.get(key) {
        if !v.is_empty() && !allowed.contains(&v.as_str()) {
            return err(format!("invalid {key} value: \"{v}\""));
        }
    }
    Ok(())
}

/// Resolves `explicit` (or nothing) against the service files, the environment and
/// the defaults, as libpq does.
pub fn resolve(explicit: Option<&str>, inp: &Inputs<'_>) -> Result<Resolved, ConnInfoError> {
    let mut values: BTreeMap<String, (String, Origin)> = BTreeMap::new();
    if let Some(s) = explicit {
        for (k, v) in parse(s)? {
            values.insert(k, (v, Origin::Explicit));
        }
    }
    // 2. the service.
    let service = values
        .get("service")
        .map(|(v, _)| v.clone())
        .or_else(|| inp.var("PGSERVICE"));
    if let Some(service) = service {
        let user_file = values
            .get("servicefile")
            .map(|(v, _)| v.clone())
            .or_else(|| inp.var("PGSERVICEFILE"))
            .or_else(|| inp.home.as_ref().map(|h| format!("{h}/.pg_service.conf")));
        let sysconf = inp
            .var("PGSYSCONFDIR")
            .unwrap_or_else(|| inp.default_sysconfdir.clone());
        let system_file = format!("{sysconf}/pg_service.conf");
        let mut group = None;
        let mut looked = Vec::new();
        for file in user_file.into_iter().chain(std::iter::once(system_file)) {
            if let Some(text) = (inp.read_service_file)(&file) {
                looked.push(file.clone());
                if let Some(g) = parse_service_file(&text, &file, &service)? {
                    group = Some(g);
                    break;
                }
            }
        }
        let Some(group) = group else {
            return err(if looked.is_empty() {
                format!("definition of service \"{service}\" not found (no service file exists: set PGSERVICEFILE or create ~/.pg_service.conf)")
            } else {
                format!(
                    "definition of service \"{service}\" not found (looked in {})",
                    looked.join(", ")
                )
            });
        };
        values
            .entry("service".into())
            .or_insert((service.clone(), Origin::Env));
        for (k, v) in group {
            values.entry(k).or_insert((v, Origin::Service));
        }
    }
    // 3. the environment.
    for (k, var) in KEYWORDS {
        if values.contains_key(*k) {
            continue;
        }
        if let Some(v) = var.and_then(|var| inp.var(var)) {
            values.insert(k.to_string(), (v, Origin::Env));
        }
    }
    // 4. defaults.
    let mut default = |k: &str, v: String| {
        let e = values
            .entry(k.to_string())
            .or_insert((String::new(), Origin::Default));
        if e.0.is_empty() {
            *e = (v, Origin::Default);
        }
    };
    default("user", inp.os_user.clone());
    default("sslmode", "prefer".into());
    let user = values
        .get("user")
        .map(|(v, _)| v.clone())
        .unwrap_or_default();
    let mut default = |k: &str, v: String| {
        let e = values
            .entry(k.to_string())
            .or_insert((String::new(), Origin::Default));
        if e.0.is_empty() {
            *e = (v, Origin::Default);
        }
    };
    default("dbname", user);

    check_enum(
        &values,
        "sslmode",
        &[
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ],
    )?;
    check_enum(
        &values,
        "target_session_attrs",
        &[
            "any",
            "read-write",
            "read-only",
            "primary",
            "standby",
            "prefer-standby",
        ],
    )?;
    check_enum(&values, "load_balance_hosts", &["disable", "random"])?;
    check_enum(
        &values,
        "channel_binding",
        &["disable", "prefer", "require"],
    )?;
    check_enum(&values, "sslnegotiation", &["postgres", "direct"])?;
    check_enum(&values, "gssencmode", &["disable", "prefer", "require"])?;
    check_enum(&values, "sslcertmode", &["disable", "allow", "require"])?;
    check_enum(&values, "sslsni", &["0", "1"])?;
    for k in ["ssl_min_protocol_version", "ssl_max_protocol_version"] {
        check_enum(&values, k, &["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"])?;
    }
    for k in [
        "connect_timeout",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
    ] {
        if let Some((v, _)) = values.get(k) {
            if !v.is_empty() && v.trim().parse::<i64>().is_err() {
                return err(format!(
                    "invalid integer value \"{v}\" for connection option \"{k}\""
                ));
            }
        }
    }
    let get = |k: &str| {
        values
            .get(k)
            .map(|(v, _)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    // libpq 16+: with sslrootcert=system the default sslmode is verify-full.
    if get("sslrootcert") == Some("system")
        && values.get("sslmode").map(|(_, o)| *o) == Some(Origin::Default)
    {
        values.insert("sslmode".into(), ("verify-full".into(), Origin::Default));
    }
    let get = |k: &str| {
        values
            .get(k)
            .map(|(v, _)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let mode = get("sslmode").unwrap_or("prefer");
    if get("sslrootcert") == Some("system") && mode != "verify-full" {
        return err(format!(
            "weak sslmode \"{mode}\" may not be used with sslrootcert=system (use \"verify-full\")"
        ));
    }
    if get("sslnegotiation") == Some("direct")
        && !matches!(mode, "require" | "verify-ca" | "verify-full")
    {
        return err(format!(
            "weak sslmode \"{mode}\" may not be used with sslnegotiation=direct (use \"require\", \"verify-ca\", or \"verify-full\")"
        ));
    }
    if get("channel_binding") == Some("require") && mode == "disable" {
        return err("channel_binding=require needs TLS, and sslmode=disable turns it off");
    }

    // 5. hosts, ports and passwords.
    let split = |k: &str| -> Vec<String> {
        match get(k) {
            Some(v) => v.split(',').map(|s| s.trim().to_string()).collect(),
            None => Vec::new(),
        }
    };
    let hosts = split("host");
    let addrs = split("hostaddr");
    let n = hosts.len().max(addrs.len()).max(1);
    if !hosts.is_empty() && !addrs.is_empty() && hosts.len() != addrs.len() {
        return err(format!(
            "could not match {} host names to {} hostaddr values",
            hosts.len(),
            addrs.len()
        ));
    }
    let ports = split("port");
    if ports.len() > 1 && ports.len() != n {
        return err(format!(
            "could not match {} port numbers to {} hosts",
            ports.len(),
            n
        ));
    }
    let password = get("password").map(str::to_string);
    let passfile = get("passfile")
        .map(str::to_string)
        .or_else(|| inp.home.as_ref().map(|h| format!("{h}/.pgpass")));
    let passtext = if password.is_none() {
        passfile.as_deref().and_then(|p| (inp.read_passfile)(p))
    } else {
        None
    };
    let user = get("user").unwrap_or("").to_string();
    let dbname = get("dbname").unwrap_or("").to_string();
    let mut endpoints = Vec::new();
    for i in 0..n {
        let mut host = hosts.get(i).cloned().unwrap_or_default();
        let hostaddr = addrs.get(i).cloned().filter(|a| !a.is_empty());
        if host.is_empty() && hostaddr.is_none() {
            host = inp.default_socket_dir.clone();
        }
        let port_s = match ports.len() {
            0 => String::new(),
            1 => ports[0].clone(),
            _ => ports[i].clone(),
        };
        let port = if port_s.is_empty() {
            DEFAULT_PORT
        } else {
            match port_s.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => return err(format!("invalid port number: \"{port_s}\"")),
            }
        };
        let (pw, from_file) = match (&password, &passtext) {
            (Some(p), _) => (Some(p.clone()), false),
            (None, Some(text)) => {
                let pwhost = if host.is_empty() {
                    hostaddr.clone().unwrap_or_default()
                } else {
                    host.clone()
                };
                let pwhost = if pwhost.is_empty() || pwhost == inp.default_socket_dir {
                    "localhost".to_string()
                } else {
                    pwhost
                };
                let found = pgpass_lookup(text, &pwhost, &port.to_string(), &dbname, &user);
                let from = found.is_some();
                (found, from)
            }
            _ => (None, false),
        };
        endpoints.push(Endpoint {
            host,
            hostaddr,
            port,
            password: pw,
            password_from_file: from_file,
        });
    }
    Ok(Resolved {
        values,
        endpoints,
        ssl_dir: inp.home.as_ref().map(|h| format!("{h}/.postgresql")),
        passfile: passtext.as_ref().and(passfile),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct World {
        env: HashMap<String, String>,
        files: HashMap<String, String>,
    }

    impl World {
        fn new() -> World {
            World {
                env: HashMap::new(),
                files: HashMap::new(),
            }
        }
        fn env(mut self, k: &str, v: &str) -> World {
            self.env.insert(k.into(), v.into());
            self
        }
        fn file(mut self, p: &str, t: &str) -> World {
            self.files.insert(p.into(), t.into());
            self
        }
        fn resolve(&self, s: Option<&str>) -> Result<Resolved, ConnInfoError> {
            let env = |k: &str| self.env.get(k).cloned();
            let read = |p: &str| self.files.get(p).cloned();
            let inputs = Inputs {
                env: &env,
                read_service_file: &read,
                read_passfile: &read,
                home: Some("/home/me".into()),
                os_user: "me".into(),
                default_socket_dir: "/var/run/postgresql".into(),
                default_sysconfdir: "/etc/postgresql-common".into(),
            };
            resolve(s, &inputs)
        }
    }

    fn eps(r: &Resolved) -> Vec<String> {
        r.endpoints.iter().map(Endpoint::display).collect()
    }

    #[test]
    fn key_value_quoting_and_escapes() {
        let p = parse("host=h  dbname = 'my db' password='it\\'s' user=a\\ b").unwrap();
        assert_eq!(
            p,
            vec![
                ("host".into(), "h".into()),
                ("dbname".into(), "my db".into()),
                ("password".into(), "it's".into()),
                ("user".into(), "a b".into()),
            ]
        );
        assert_eq!(
            parse("host").unwrap_err().0,
            "missing \"=\" after \"host\" in connection info string"
        );
        assert_eq!(
            parse("dbname='x").unwrap_err().0,
            "unterminated quoted string in connection info string"
        );
        assert_eq!(
            parse("hots=x").unwrap_err().0,
            "invalid connection option \"hots\""
        );
    }

    #[test]
    fn url_forms() {
        let r = World::new()
            .resolve(Some("postgresql://us%40er:p%3Aw@db.example.com:5433/my%20db?sslmode=verify-full&application_name=x"))
            .unwrap();
        assert_eq!(r.user(), "us@er");
        assert_eq!(r.endpoints[0].password.as_deref(), Some("p:w"));
        assert_eq!(r.dbname(), "my db");
        assert_eq!(eps(&r), vec!["db.example.com:5433"]);
        assert_eq!(r.sslmode(), SslMode::VerifyFull);
        // IPv6 literal, multiple hosts, one without a port.
        let r = World::new()
            .resolve(Some("postgres://u@[::1]:5433,host2:6000,host3/db"))
            .unwrap();
        assert_eq!(eps(&r), vec!["[::1]:5433", "host2:6000", "host3:5432"]);
        // The query overrides the authority: host=/socket/dir wins, the port stays.
        let r = World::new()
            .resolve(Some("postgresql://u@HOST:7777/db?host=%2Fsocket%2Fdir"))
            .unwrap();
        assert_eq!(r.endpoints.len(), 1);
        assert!(r.endpoints[0].is_socket());
        assert_eq!(r.endpoints[0].host, "/socket/dir");
        assert_eq!(r.endpoints[0].port, 7777);
        let r = World::new()
            .resolve(Some("postgresql://u@h:1/db?port=2&dbname=other&user=v"))
            .unwrap();
        assert_eq!(
            (r.endpoints[0].port, r.dbname(), r.user()),
            (2, "other", "v")
        );
        // A percent-encoded socket directory in the authority (Cluster::url's form).
        let r = World::new()
            .resolve(Some("postgresql://postgres@%2Ftmp%2Fstepgate-pg-1:5999/db"))
            .unwrap();
        assert!(r.endpoints[0].is_socket());
        assert_eq!(eps(&r), vec!["/tmp/stepgate-pg-1:5999"]);
        // An empty authority takes the defaults; ssl=true is sslmode=require.
        let r = World::new()
            .resolve(Some("postgresql:///?ssl=true"))
            .unwrap();
        assert_eq!(eps(&r), vec!["/var/run/postgresql:5432"]);
        assert_eq!(r.sslmode(), SslMode::Require);
        assert_eq!(r.dbname(), "me");
    }

    #[test]
    fn url_user_info_and_port_lists_as_libpq() {
        // A '?' inside the password does not end the user info; the first '@' does.
        let r = World::new()
            .resolve(Some("postgresql://u:pa?ss@h/db"))
            .unwrap();
        assert_eq!(r.endpoints[0].password.as_deref(), Some("pa?ss"));
        assert_eq!((r.user(), r.dbname()), ("u", "db"));
        assert_eq!(eps(&r), vec!["h:5432"]);
        // A host list without ports stores port "," : PGPORT is not read.
        let w = World::new().env("PGPORT", "9999");
        assert_eq!(
            eps(&w.resolve(Some("postgresql://h1,h2/db")).unwrap()),
            vec!["h1:5432", "h2:5432"]
        );
        assert_eq!(
            eps(&w.resolve(Some("postgresql://h1/db")).unwrap()),
            vec!["h1:9999"]
        );
        assert!(w
            .resolve(Some("postgresql://h/db?sslmode=require&&port=5"))
            .unwrap_err()
            .0
            .contains("missing key/value separator"));
        assert!(w
            .resolve(Some("postgresql://h/db?sslmode=require&"))
            .is_ok());
    }

    #[test]
    fn url_errors() {
        let w = World::new();
        assert!(w
            .resolve(Some("postgresql://h/db?bogus=1"))
            .unwrap_err()
            .0
            .contains("invalid URI query parameter: \"bogus\""));
        assert!(w
            .resolve(Some("postgresql://[::1/db"))
            .unwrap_err()
            .0
            .contains("matching \"]\""));
        assert!(w
            .resolve(Some("postgresql://h/d%zzb"))
            .unwrap_err()
            .0
            .contains("invalid percent-encoded token"));
        assert!(w
            .resolve(Some("postgresql://h/d%00b"))
            .unwrap_err()
            .0
            .contains("forbidden value %00"));
        assert!(w
            .resolve(Some("postgresql://h:notaport/db"))
            .unwrap_err()
            .0
            .contains("invalid port number: \"notaport\""));
        assert!(w
            .resolve(Some("host=a,b,c port=1,2"))
            .unwrap_err()
            .0
            .contains("could not match 2 port numbers to 3 hosts"));
        assert!(w
            .resolve(Some("sslmode=verify"))
            .unwrap_err()
            .0
            .contains("invalid sslmode value: \"verify\""));
        assert!(w
            .resolve(Some("sslmode=require sslrootcert=system"))
            .unwrap_err()
            .0
            .contains("weak sslmode \"require\""));
        assert!(w
            .resolve(Some("target_session_attrs=master"))
            .unwrap_err()
            .0
            .contains("invalid target_session_attrs value"));
        assert!(w
            .resolve(Some("connect_timeout=ten"))
            .unwrap_err()
            .0
            .contains("invalid integer value \"ten\""));
    }

    #[test]
    fn debug_never_shows_a_password() {
        let r = World::new()
            .resolve(Some("postgresql://u:sekrit@h/db?sslpassword=keypass"))
            .unwrap();
        let d = format!("{r:?}");
        assert!(!d.contains("sekrit") && !d.contains("keypass"), "{d}");
        assert!(d.contains("***"), "{d}");
    }

    #[test]
    fn hosts_and_ports_lists() {
        let r = World::new()
            .resolve(Some("host=a,b port=1,2 target_session_attrs=read-write"))
            .unwrap();
        assert_eq!(eps(&r), vec!["a:1", "b:2"]);
        assert_eq!(r.get("target_session_attrs"), Some("read-write"));
        let r = World::new().resolve(Some("host=a,,/tmp port=9")).unwrap();
        assert_eq!(eps(&r), vec!["a:9", "/var/run/postgresql:9", "/tmp:9"]);
        let r = World::new().resolve(Some("hostaddr=127.0.0.1")).unwrap();
        assert_eq!(r.endpoints[0].hostaddr.as_deref(), Some("127.0.0.1"));
        assert!(!r.endpoints[0].is_socket());
    }

    const SERVICES: &str = "# comment\n[other]\nhost=wrong\n\n[prod] # the production one\n  host=db.prod  \nport=6543\ndbname=appdb\nsslmode=verify-full\n[after]\nhost=wrong2\n";

    #[test]
    fn precedence_explicit_service_env_default() {
        let w = World::new()
            .env("PGSERVICEFILE", "/tmp/svc.conf")
            .file("/tmp/svc.conf", SERVICES)
            .env("PGPORT", "1111")
            .env("PGUSER", "envuser")
            .env("PGSSLMODE", "disable")
            .env("PGAPPNAME", "fromenv");
        // explicit > service > env > default
        let r = w.resolve(Some("service=prod port=7000")).unwrap();
        assert_eq!(eps(&r), vec!["db.prod:7000"]);
        assert_eq!(r.origin("port"), Some(Origin::Explicit));
        assert_eq!(r.origin("host"), Some(Origin::Service));
        assert_eq!(r.sslmode(), SslMode::VerifyFull, "service beats PGSSLMODE");
        assert_eq!(r.user(), "envuser");
        assert_eq!(r.origin("user"), Some(Origin::Env));
        assert_eq!(r.get("application_name"), Some("fromenv"));
        assert_eq!(r.dbname(), "appdb");
        // PGSERVICE works like service=.
        let r = w.clone_with("PGSERVICE", "prod").resolve(None).unwrap();
        assert_eq!(eps(&r), vec!["db.prod:6543"]);
        // Without a service: env, then defaults.
        let r = World::new().env("PGHOST", "envhost").resolve(None).unwrap();
        assert_eq!(eps(&r), vec!["envhost:5432"]);
        assert_eq!((r.user(), r.dbname()), ("me", "me"));
        assert_eq!(r.origin("user"), Some(Origin::Default));
        assert_eq!(r.sslmode(), SslMode::Prefer);
        // Empty environment values count as unset.
        let r = World::new().env("PGHOST", "").resolve(None).unwrap();
        assert_eq!(eps(&r), vec!["/var/run/postgresql:5432"]);
    }

    impl World {
        fn clone_with(&self, k: &str, v: &str) -> World {
            let mut w = World {
                env: self.env.clone(),
                files: self.files.clone(),
            };
            w.env.insert(k.into(), v.into());
            w
        }
    }

    #[test]
    fn service_files_user_then_system() {
        // The user file lacks the group: the system file (PGSYSCONFDIR) has it.
        let w = World::new()
            .file("/home/me/.pg_service.conf", "[x]\nhost=x\n")
            .env("PGSYSCONFDIR", "/etc/pg")
            .file("/etc/pg/pg_service.conf", "[sys]\nhost=syshost\n");
        let r = w.resolve(Some("service=sys")).unwrap();
        assert_eq!(eps(&r), vec!["syshost:5432"]);
        // The default system directory.
        let w = World::new().file("/etc/postgresql-common/pg_service.conf", "[d]\nport=9\n");
        assert_eq!(
            eps(&w.resolve(Some("service=d")).unwrap()),
            vec!["/var/run/postgresql:9"]
        );
        // servicefile= beats PGSERVICEFILE.
        let w = World::new()
            .env("PGSERVICEFILE", "/a")
            .file("/a", "[s]\nhost=a\n")
            .file("/b", "[s]\nhost=b\n");
        assert_eq!(
            eps(&w.resolve(Some("servicefile=/b service=s")).unwrap()),
            vec!["b:5432"]
        );
        // Not found anywhere; a bad line; a nested service.
        let e = w.resolve(Some("service=nope")).unwrap_err().0;
        assert!(
            e.contains("definition of service \"nope\" not found"),
            "{e}"
        );
        let w = World::new().file("/home/me/.pg_service.conf", "[s]\nhost\n");
        assert!(w
            .resolve(Some("service=s"))
            .unwrap_err()
            .0
            .contains("syntax error in service file \"/home/me/.pg_service.conf\", line 2"));
        let w = World::new().file("/home/me/.pg_service.conf", "[s]\nservice=t\n");
        assert!(w
            .resolve(Some("service=s"))
            .unwrap_err()
            .0
            .contains("nested \"service\""));
        let w = World::new().file("/home/me/.pg_service.conf", "[s]\nhost = x\n");
        assert!(w
            .resolve(Some("service=s"))
            .unwrap_err()
            .0
            .contains("invalid option \"host \""));
        let w = World::new().file("/home/me/.pg_service.conf", "[s]\nbogus=1\n");
        assert!(w
            .resolve(Some("service=s"))
            .unwrap_err()
            .0
            .contains("invalid option \"bogus\""));
    }

    #[test]
    fn pgpass_fields_as_libpq() {
        assert_eq!(
            pgpass_lookup(r"h:5432:db:u:pa\:ss:x", "h", "5432", "db", "u").as_deref(),
            Some("pa:ss")
        );
        // An escaped star is a literal star, not a wildcard.
        assert_eq!(pgpass_lookup(r"\*:*:*:*:pw", "h", "1", "d", "u"), None);
        assert_eq!(
            pgpass_lookup(r"\*:*:*:*:pw", "*", "1", "d", "u").as_deref(),
            Some("pw")
        );
        // Four fields only: no password, no match. No user: no lookup.
        assert_eq!(pgpass_lookup("h:1:d:u", "h", "1", "d", "u"), None);
        assert_eq!(pgpass_lookup("*:*:*:*:pw", "h", "1", "d", ""), None);
        assert_eq!(
            pgpass_lookup("*:*:*:*:pw\r\n", "h", "1", "d", "u").as_deref(),
            Some("pw")
        );
    }

    #[test]
    fn passwords_from_the_password_file() {
        let pgpass = "# c\nother:*:*:*:no\n*:5432:appdb:alice:pa\\:ss\\\\word:ignored\nlocalhost:*:*:*:sock\n/tmp:*:*:*:tmpsock\n";
        let w = World::new().file("/home/me/.pgpass", pgpass);
        let r = w
            .resolve(Some("host=db port=5432 dbname=appdb user=alice"))
            .unwrap();
        assert_eq!(r.endpoints[0].password.as_deref(), Some("pa:ss\\word"));
        assert!(r.endpoints[0].password_from_file);
        // The default socket directory matches `localhost`; another socket dir matches itself.
        let r = w.resolve(Some("dbname=x")).unwrap();
        assert_eq!(r.endpoints[0].password.as_deref(), Some("sock"));
        let r = w.resolve(Some("host=/tmp dbname=x")).unwrap();
        assert_eq!(r.endpoints[0].password.as_deref(), Some("tmpsock"));
        // Per host: each host its own line.
        let r = w
            .resolve(Some(
                "host=db,localhost dbname=appdb user=alice port=5432,5",
            ))
            .unwrap();
        assert_eq!(r.endpoints[0].password.as_deref(), Some("pa:ss\\word"));
        assert_eq!(r.endpoints[1].password.as_deref(), Some("sock"));
        // An explicit password wins; passfile= and PGPASSFILE point elsewhere.
        let r = w.resolve(Some("host=db password=given")).unwrap();
        assert_eq!(r.endpoints[0].password.as_deref(), Some("given"));
        assert!(!r.endpoints[0].password_from_file);
        let w2 = World::new()
            .file("/p", "*:*:*:*:fromp\n")
            .file("/q", "*:*:*:*:fromq\n")
            .env("PGPASSFILE", "/q");
        assert_eq!(
            w2.resolve(Some("passfile=/p")).unwrap().endpoints[0]
                .password
                .as_deref(),
            Some("fromp")
        );
        assert_eq!(
            w2.resolve(None).unwrap().endpoints[0].password.as_deref(),
            Some("fromq")
        );
    }

    #[test]
    fn sslrootcert_system_defaults_to_verify_full() {
        let r = World::new().resolve(Some("sslrootcert=system")).unwrap();
        assert_eq!(r.sslmode(), SslMode::VerifyFull);
        let e = World::new()
            .env("PGSSLMODE", "verify-ca")
            .resolve(Some("sslrootcert=system"))
            .unwrap_err();
        assert!(e.0.contains("weak sslmode \"verify-ca\""), "{e}");
    }

    #[test]
    fn ssl_files_default_under_home() {
        let r = World::new().resolve(Some("sslmode=verify-ca")).unwrap();
        assert_eq!(
            r.ssl_file("sslrootcert"),
            Some(("/home/me/.postgresql/root.crt".into(), false))
        );
        let r = World::new()
            .env("PGSSLROOTCERT", "/ca.pem")
            .resolve(None)
            .unwrap();
        assert_eq!(r.ssl_file("sslrootcert"), Some(("/ca.pem".into(), true)));
        assert_eq!(
            r.ssl_file("sslkey"),
            Some(("/home/me/.postgresql/postgresql.key".into(), false))
        );
    }
}
