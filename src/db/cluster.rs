//! Throwaway local PostgreSQL clusters: initdb + pg_ctl in a temporary directory,
//! listening only on a unix socket (and, with [`Cluster::start_tls`], on TCP with TLS).
//!
//! Product code, not just test code: the test harness, `stepgate demo` and
//! `stepgate scratch` all use this one module. A cluster is stopped and removed
//! when its handle drops, on Ctrl-C, and — through a small watcher process that
//! outlives nothing but its owner — even when the owning process is killed with
//! SIGKILL, so no run leaves a postmaster behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("PostgreSQL server programs not found: no `initdb`/`pg_ctl` on PATH or under /usr/lib/postgresql/*/bin (install the `postgresql` package)")]
    NotFound,
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("cluster I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("the system user `postgres` is needed to run initdb as root, and it does not exist")]
    NoPostgresUser,
}

/// Where the server binaries live.
pub fn find_bindir() -> Result<PathBuf, ClusterError> {
    if let Ok(dir) = std::env::var("STEPGATE_PG_BINDIR") {
        let p = PathBuf::from(dir);
        if p.join("pg_ctl").exists() {
            return Ok(p);
        }
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(dirs) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(u32, PathBuf)> = dirs
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let v: u32 = e.file_name().to_string_lossy().parse().ok()?;
                Some((v, e.path().join("bin")))
            })
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.0));
        candidates.extend(versions.into_iter().map(|(_, p)| p));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("pg_ctl").exists() && dir.join("initdb").exists() {
                // Resolve symlinks (Debian's /usr/bin wrappers point at the versioned dir).
                let real = std::fs::canonicalize(dir.join("pg_ctl"))
                    .ok()
                    .and_then(|p| p.parent().map(Path::to_path_buf))
                    .unwrap_or(dir);
                candidates.insert(0, real);
            }
        }
    }
    candidates
        .into_iter()
        .find(|d| {
            d.join("pg_ctl").exists() && d.join("initdb").exists() && d.join("postgres").exists()
        })
        .ok_or(ClusterError::NotFound)
}

/// Options for a new cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Extra `postgresql.conf` settings, e.g. `("log_statement", "all")`.
    pub settings: Vec<(String, String)>,
    /// Keep the directory and the server when the handle drops (`--keep`).
    pub keep: bool,
}

/// TLS for a throwaway cluster (tests of TLS connections): the server also listens on
/// TCP with `ssl = on`. The files are copied into the data directory (owned by the
/// server's user, the key 0600), so they may live anywhere.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The server's certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// CA certificates that client certificates must chain to (`ssl_ca_file`).
    pub client_ca: Option<PathBuf>,
    /// `listen_addresses`, e.g. `127.0.0.1`.
    pub listen_addresses: String,
    /// The whole `pg_hba.conf`. Keep a `local … trust` line: the cluster's own helpers
    /// ([`Cluster::connect`], [`Cluster::create_database`]) use the unix socket.
    pub hba: String,
}

/// A running throwaway cluster.
pub struct Cluster {
    pub dir: PathBuf,
    pub socket_dir: PathBuf,
    pub port: u16,
    pub bindir: PathBuf,
    pub user: String,
    keep: bool,
    watcher: Option<std::process::Child>,
}

fn registry() -> &'static Mutex<Vec<(PathBuf, PathBuf)>> {
    static REG: OnceLock<Mutex<Vec<(PathBuf, PathBuf)>>> = OnceLock::new();
    REG.get_or_init(|| Mutex::new(Vec::new()))
}

/// Installs a Ctrl-C handler (once per process) that stops every live cluster and exits 130.
fn install_interrupt_handler() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = ctrlc::set_handler(|| {
            if let Ok(list) = registry().lock() {
                for (bindir, dir) in list.iter() {
                    let _ = stop_cmd(bindir, &dir.join("data"), "immediate").status();
                    let _ = std::fs::remove_dir_all(dir);
                }
            }
            eprintln!("\ninterrupted: throwaway clusters stopped and removed");
            std::process::exit(130);
        });
    });
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn postgres_ids() -> Result<(u32, u32), ClusterError> {
    let user = nix::unistd::User::from_name("postgres")
        .ok()
        .flatten()
        .ok_or(ClusterError::NoPostgresUser)?;
    Ok((user.uid.as_raw(), user.gid.as_raw()))
}

/// A command for a server program, run as `postgres` when we are root (initdb refuses root).
fn server_cmd(bindir: &Path, prog: &str) -> Command {
    use std::os::unix::process::CommandExt;
    let mut c = Command::new(bindir.join(prog));
    if is_root() {
        if let Ok((uid, gid)) = postgres_ids() {
            c.uid(uid).gid(gid);
            c.env("HOME", "/tmp");
        }
    }
    c.env_remove("PGDATA");
    c
}

fn stop_cmd(bindir: &Path, data: &Path, mode: &str) -> Command {
    let mut c = server_cmd(bindir, "pg_ctl");
    c.arg("-D")
        .arg(data)
        .args(["-m", mode, "-w", "stop"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn run(mut c: Command, what: &str) -> Result<(), ClusterError> {
    let out = c.output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ClusterError::Command {
            what: what.to_string(),
            detail: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stderr).trim(),
                String::from_utf8_lossy(&out.stdout).trim()
            ),
        })
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(54329)
}

impl Cluster {
    /// initdb + start. Takes about a second.
    pub fn start(opts: ClusterOptions) -> Result<Cluster, ClusterError> {
        Self::start_with(opts, None)
    }

    /// [`Cluster::start`], also listening on TCP with TLS as `tls` says.
    pub fn start_tls(opts: ClusterOptions, tls: &ServerTls) -> Result<Cluster, ClusterError> {
        Self::start_with(opts, Some(tls))
    }

    fn start_with(opts: ClusterOptions, tls: Option<&ServerTls>) -> Result<Cluster, ClusterError> {
        let bindir = find_bindir()?;
        install_interrupt_handler();
        let tmp = tempfile::Builder::new().prefix("stepgate-pg-").tempdir()?;
        let dir = tmp.keep();
        let result = Self::start_in(&bindir, &dir, &opts, tls);
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        result
    }

    fn start_in(
        bindir: &Path,
        dir: &Path,
        opts: &ClusterOptions,
        tls: Option<&ServerTls>,
    ) -> Result<Cluster, ClusterError> {
        let data = dir.join("data");
        if is_root() {
            let (uid, gid) = postgres_ids()?;
            nix::unistd::chown(
                dir,
                Some(nix::unistd::Uid::from_raw(uid)),
                Some(nix::unistd::Gid::from_raw(gid)),
            )
            .map_err(|e| ClusterError::Io(std::io::Error::other(e)))?;
        }
        let mut init = server_cmd(bindir, "initdb");
        init.arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ])
            .arg("--locale=C");
        run(init, "initdb")?;
        let port = free_port();
        let mut conf = format!(
            "\n# stepgate throwaway cluster\nlisten_addresses = ''\nunix_socket_directories = '{}'\nport = {}\nfsync = off\nfull_page_writes = off\nsynchronous_commit = off\nmax_connections = 200\nshared_buffers = 64MB\nlog_min_messages = warning\n",
            dir.display(),
            port
        );
        if let Some(tls) = tls {
            install_tls_files(&data, tls)?;
            conf.push_str(&format!(
                "listen_addresses = '{}'\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
                tls.listen_addresses.replace('\'', "''")
            ));
            if tls.client_ca.is_some() {
                conf.push_str("ssl_ca_file = 'client_ca.crt'\n");
            }
        }
        for (k, v) in &opts.settings {
            conf.push_str(&format!("{k} = '{}'\n", v.replace('\'', "''")));
        }
        let conf_path = data.join("postgresql.conf");
        let mut existing = std::fs::read_to_string(&conf_path)?;
        existing.push_str(&conf);
        std::fs::write(&conf_path, existing)?;
        let mut start = server_cmd(bindir, "pg_ctl");
        start
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.join("server.log"))
            .args(["-w", "-t", "60", "start"])
            .stdout(Stdio::null());
        run(start, "pg_ctl start")?;
        if let Ok(mut reg) = registry().lock() {
            reg.push((bindir.to_path_buf(), dir.to_path_buf()));
        }
        let watcher = if opts.keep {
            None
        } else {
            spawn_watcher(bindir, dir)
        };
        Ok(Cluster {
            dir: dir.to_path_buf(),
            socket_dir: dir.to_path_buf(),
            port,
            bindir: bindir.to_path_buf(),
            user: "postgres".into(),
            keep: opts.keep,
            watcher,
        })
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// A libpq key/value connection string for database `db`.
    pub fn conninfo(&self, db: &str) -> String {
        format!(
            "host={} port={} user={} dbname={}",
            self.socket_dir.display(),
            self.port,
            self.user,
            db
        )
    }

    /// A `postgresql://` URL for database `db` (socket directory percent-encoded in `host=`).
    pub fn url(&self, db: &str) -> String {
        let host: String = self
            .socket_dir
            .display()
            .to_string()
            .bytes()
            .map(|b| match b {
                b'/' => "%2F".to_string(),
                b if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) => (b as char).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect();
        format!("postgresql://{}@{}:{}/{}", self.user, host, self.port, db)
    }

    /// A client connection as the superuser.
    pub fn connect(&self, db: &str) -> Result<postgres::Client, postgres::Error> {
        postgres::Client::connect(&self.conninfo(db), postgres::NoTls)
    }

    /// `CREATE DATABASE name [TEMPLATE template]`.
    pub fn create_database(
        &self,
        name: &str,
        template: Option<&str>,
    ) -> Result<(), postgres::Error> {
        let mut c = self.connect("postgres")?;
        let q = match template {
            Some(t) => format!(
                "CREATE DATABASE {} TEMPLATE {}",
                crate::db::quote_ident(name),
                crate::db::quote_ident(t)
            ),
            None => format!("CREATE DATABASE {}", crate::db::quote_ident(name)),
        };
        c.batch_execute(&q)
    }

    /// Runs a SQL file with psql (ON_ERROR_STOP), as a DBA would load a fixture.
    pub fn psql_file(&self, db: &str, file: &Path) -> Result<(), ClusterError> {
        let mut c = Command::new(psql_path(&self.bindir));
        c.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.conninfo(db))
            .arg("-f")
            .arg(file)
            .env("PGOPTIONS", "-c client_min_messages=error")
            .stdout(Stdio::null());
        run(c, &format!("psql -f {}", file.display()))
    }

    /// Stops the server the hard way (`-m immediate`), as a crash would.
    pub fn stop_immediate(&self) -> Result<(), ClusterError> {
        run(
            stop_cmd(&self.bindir, &self.data_dir(), "immediate"),
            "pg_ctl stop",
        )
    }

    /// Starts a stopped server again (after `stop_immediate`).
    pub fn restart(&self) -> Result<(), ClusterError> {
        let mut start = server_cmd(&self.bindir, "pg_ctl");
        start
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_path())
            .args(["-w", "-t", "60", "start"])
            .stdout(Stdio::null());
        run(start, "pg_ctl start")
    }

    /// Leave the cluster running after this handle drops.
    pub fn keep(&mut self) {
        self.keep = true;
        if let Some(mut w) = self.watcher.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

/// Copies the TLS files and pg_hba.conf into the data directory, owned by the server's user.
fn install_tls_files(data: &Path, tls: &ServerTls) -> Result<(), ClusterError> {
    use std::os::unix::fs::PermissionsExt;
    let mut files = vec![
        (tls.cert.clone(), "server.crt", 0o644),
        (tls.key.clone(), "server.key", 0o600),
    ];
    if let Some(ca) = &tls.client_ca {
        files.push((ca.clone(), "client_ca.crt", 0o644));
    }
    let hba = data.join("pg_hba.conf");
    std::fs::write(&hba, &tls.hba)?;
    let mut written = vec![hba];
    for (from, name, mode) in files {
        let to = data.join(name);
        std::fs::copy(&from, &to).map_err(|e| {
            ClusterError::Io(std::io::Error::new(
                e.kind(),
                format!("{}: {e}", from.display()),
            ))
        })?;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode))?;
        written.push(to);
    }
    if is_root() {
        let (uid, gid) = postgres_ids()?;
        for p in written {
            nix::unistd::chown(
                &p,
                Some(nix::unistd::Uid::from_raw(uid)),
                Some(nix::unistd::Gid::from_raw(gid)),
            )
            .map_err(|e| ClusterError::Io(std::io::Error::other(e)))?;
        }
    }
    Ok(())
}

/// Client programs (psql, pg_dump, pg_restore) from the same installation as the server.
pub fn client_program(bindir: &Path, prog: &str) -> PathBuf {
    let p = bindir.join(prog);
    if p.exists() {
        p
    } else {
        PathBuf::from(prog)
    }
}

fn psql_path(bindir: &Path) -> PathBuf {
    client_program(bindir, "psql")
}

/// A shell process that waits for this process to die, then stops and removes the cluster.
/// It makes SIGKILL of the owner (a test, the demo) leave nothing behind.
fn spawn_watcher(bindir: &Path, dir: &Path) -> Option<std::process::Child> {
    let pg_ctl = bindir.join("pg_ctl");
    let data = dir.join("data");
    let as_pg = if is_root() {
        "runuser -u postgres -- "
    } else {
        ""
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {as_pg}'{pg_ctl}' -D '{data}' -m immediate -w stop >/dev/null 2>&1; rm -rf '{dir}'",
        pid = std::process::id(),
        pg_ctl = pg_ctl.display(),
        data = data.display(),
        dir = dir.display(),
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Ok(mut reg) = registry().lock() {
            reg.retain(|(_, d)| d != &self.dir);
        }
        if self.keep {
            return;
        }
        let _ = stop_cmd(&self.bindir, &self.data_dir(), "immediate").status();
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(mut w) = self.watcher.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}
