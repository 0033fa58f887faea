//! Connecting the libpq way: `--db URL`, else `DATABASE_URL`, else the libpq
//! environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE) and
//! `~/.pgpass`. A password never appears in any output: [`Target::display`] is
//! what every message, log line and ledger row uses.

use postgres::config::Host;
use postgres::{Client, Config, NoTls};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid connection string: {0}")]
    Invalid(String),
    #[error("cannot connect to {target}: {detail}")]
    Unreachable { target: String, detail: String },
    #[error("sslmode={0} needs TLS, which this build of stepgate does not include; connect over a unix socket or an SSH tunnel, or use sslmode=disable/prefer")]
    TlsRequired(String),
}

/// Where we connect, with the password kept out of `Debug`/`Display`.
#[derive(Clone)]
pub struct Target {
    config: Config,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({})", self.display())
    }
}

impl Target {
    /// Resolves the connection from an explicit string (URL or key=value) or the environment.
    pub fn resolve(explicit: Option<&str>) -> Result<Target, ConnectError> {
        let from = explicit
            .map(str::to_string)
            .or_else(|| std::env::var("DATABASE_URL").ok().filter(|s| !s.is_empty()));
        let mut config = match from {
            Some(s) => s
                .parse::<Config>()
                .map_err(|e| ConnectError::Invalid(redact(&e.to_string())))?,
            None => Config::new(),
        };
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if config.get_hosts().is_empty() {
            let host = env("PGHOST").unwrap_or_else(default_socket_dir);
            for h in host.split(',') {
                config.host(h);
            }
        }
        if config.get_ports().is_empty() {
            if let Some(p) = env("PGPORT").and_then(|p| p.parse::<u16>().ok()) {
                config.port(p);
            }
        }
        if config.get_user().is_none() {
            let user = env("PGUSER").unwrap_or_else(whoami::username);
            config.user(&user);
        }
        if config.get_dbname().is_none() {
            if let Some(db) = env("PGDATABASE") {
                config.dbname(&db);
            } else if let Some(u) = config.get_user().map(str::to_string) {
                config.dbname(&u);
            }
        }
        if config.get_password().is_none() {
            if let Some(pw) = env("PGPASSWORD") {
                config.password(pw);
            } else if let Some(pw) = pgpass_lookup(&config) {
                config.password(pw);
            }
        }
        if let Some(mode) = env("PGSSLMODE") {
            match mode.as_str() {
                "require" | "verify-ca" | "verify-full" => {
                    return Err(ConnectError::TlsRequired(mode))
                }
                _ => {}
            }
        }
        if config.get_ssl_mode() == postgres::config::SslMode::Require {
            return Err(ConnectError::TlsRequired("require".into()));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("stepgate");
        }
        Ok(Target { config })
    }

    /// `user@host:port/db` — never the password.
    pub fn display(&self) -> String {
        let host = self
            .config
            .get_hosts()
            .iter()
            .map(|h| match h {
                Host::Tcp(s) => s.clone(),
                Host::Unix(p) => p.display().to_string(),
            })
            .collect::<Vec<_>>()
            .join(",");
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!(
            "{}@{}:{}/{}",
            self.config.get_user().unwrap_or("?"),
            host,
            port,
            self.config.get_dbname().unwrap_or("?")
        )
    }

    pub fn dbname(&self) -> &str {
        self.config.get_dbname().unwrap_or("")
    }

    /// Opens a session. `application_name` tags it in pg_stat_activity (e.g. `stepgate apply 3`).
    pub fn connect(&self, application_name: &str) -> Result<Client, ConnectError> {
        let mut c = self.config.clone();
        c.application_name(application_name);
        c.connect(NoTls).map_err(|e| ConnectError::Unreachable {
            target: self.display(),
            detail: redact(&crate::db::describe_pg_error(&e)),
        })
    }

    /// Opens a session whose NOTICE/WARNING messages are collected into `sink`, so the
    /// engine can show each one beside the file line of the statement that raised it.
    pub fn connect_with_notices(
        &self,
        application_name: &str,
        sink: NoticeSink,
    ) -> Result<Client, ConnectError> {
        let mut c = self.config.clone();
        c.application_name(application_name);
        c.notice_callback(move |n| {
            if let Ok(mut v) = sink.lock() {
                v.push(Notice {
                    severity: n.severity().to_string(),
                    code: n.code().code().to_string(),
                    message: n.message().to_string(),
                });
            }
        });
        c.connect(NoTls).map_err(|e| ConnectError::Unreachable {
            target: self.display(),
            detail: redact(&crate::db::describe_pg_error(&e)),
        })
    }

    /// libpq-style key=value string for client programs (pg_dump, pg_restore), with the
    /// password passed separately through PGPASSWORD so it never shows in `ps`.
    pub fn conninfo_for_tools(&self) -> (String, Option<String>) {
        let mut parts = Vec::new();
        if let Some(h) = self.config.get_hosts().first() {
            let h = match h {
                Host::Tcp(s) => s.clone(),
                Host::Unix(p) => p.display().to_string(),
            };
            parts.push(format!("host='{}'", h.replace('\'', "\\'")));
        }
        if let Some(p) = self.config.get_ports().first() {
            parts.push(format!("port={p}"));
        }
        if let Some(u) = self.config.get_user() {
            parts.push(format!("user='{}'", u.replace('\'', "\\'")));
        }
        parts.push(format!("dbname='{}'", self.dbname().replace('\'', "\\'")));
        let pw = self
            .config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).to_string());
        (parts.join(" "), pw)
    }
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

fn default_socket_dir() -> String {
    for d in ["/var/run/postgresql", "/tmp"] {
        if std::path::Path::new(d).exists() {
            return d.to_string();
        }
    }
    "localhost".into()
}

/// Removes anything that looks like a password from a message.
pub fn redact(msg: &str) -> String {
    let re = regex::Regex::new(r"(?i)(password\s*=\s*)('[^']*'|\S+)|(://[^:/@\s]+:)([^@\s]+)(@)");
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

/// `~/.pgpass` (or PGPASSFILE): `hostname:port:database:username:password`.
fn pgpass_lookup(config: &Config) -> Option<String> {
    let path = std::env::var("PGPASSFILE")
        .ok()
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var("HOME")
                .ok()
                .map(|h| std::path::Path::new(&h).join(".pgpass"))
        })?;
    let text = std::fs::read_to_string(path).ok()?;
    let host = match config.get_hosts().first()? {
        Host::Tcp(s) => s.clone(),
        Host::Unix(_) => "localhost".into(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let db = config.get_dbname().unwrap_or("");
    let user = config.get_user().unwrap_or("");
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(line);
        if fields.len() != 5 {
            continue;
        }
        let m = |pat: &str, v: &str| pat == "*" || pat == v;
        if m(&fields[0], &host) && m(&fields[1], &port) && m(&fields[2], db) && m(&fields[3], user)
        {
            return Some(fields[4].clone());
        }
    }
    None
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut esc = false;
    for c in line.chars() {
        if esc {
            if let Some(last) = out.last_mut() {
                last.push(c);
            }
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else if c == ':' && out.len() < 5 {
            out.push(String::new());
        } else if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("password=sekrit host=x"), "password=*** host=x");
        assert_eq!(redact("postgres://u:sekrit@h/db"), "postgres://u:***@h/db");
        let t = Target::resolve(Some("postgresql://u:sekrit@localhost:5433/db")).unwrap();
        assert_eq!(t.display(), "u@localhost:5433/db");
        assert!(!format!("{t:?}").contains("sekrit"));
    }
    #[test]
    fn pgpass_fields() {
        assert_eq!(
            split_pgpass(r"h:5432:db:u:pa\:ss"),
            vec!["h", "5432", "db", "u", "pa:ss"]
        );
    }
}
