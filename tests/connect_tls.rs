//! Connecting the way libpq does, against a real server: a throwaway cluster with
//! `ssl = on`, certificates made here with the `openssl` command (a private CA, a
//! server certificate for localhost/127.0.0.1/::1, a client certificate, and a second CA
//! that signed nothing of the server's), listening on loopback, its `pg_hba.conf`
//! allowing TCP only over TLS (`hostssl`), with `cert` authentication for one role.
//!
//! The service-file tests run the stepgate binary with the environment given to the
//! child process: this test process's environment is never changed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use stepgate::db::cluster::{Cluster, ClusterOptions, ServerTls};
use stepgate::db::connect::Target;

const PASSWORD: &str = "s3cret pw";

struct Tls {
    cluster: Cluster,
    _certs: tempfile::TempDir,
    dir: PathBuf,
    v6: bool,
}

impl Tls {
    fn ca(&self) -> String {
        self.dir.join("ca.crt").display().to_string()
    }
    fn wrong_ca(&self) -> String {
        self.dir.join("wrong_ca.crt").display().to_string()
    }
    fn port(&self) -> u16 {
        self.cluster.port
    }
    /// A fresh database on the TLS cluster.
    fn db(&self, prefix: &str) -> String {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "{prefix}_{}",
            N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        self.cluster
            .create_database(&name, None)
            .expect("create database");
        name
    }
    /// `postgresql://postgres:…@HOST:PORT/db?sslmode=verify-full&sslrootcert=CA…`
    fn url(&self, host: &str, db: &str, extra: &str) -> String {
        format!(
            "postgresql://postgres:{}@{host}:{}/{db}?sslmode=verify-full&sslrootcert={}{extra}",
            PASSWORD.replace(' ', "%20"),
            self.port(),
            self.ca()
        )
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and certificates it signs: `name.crt`/`name.key` for `cn` with `san`.
fn make_certs(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for ca in ["ca", "wrong_ca"] {
        let mut a = vec!["req", "-x509", "-days", "2", "-subj"];
        let subj = format!("/CN=stepgate test {ca}");
        let (k, c) = (format!("{ca}.key"), format!("{ca}.crt"));
        a.push(&subj);
        a.extend(ec);
        a.extend([
            "-keyout",
            &k,
            "-out",
            &c,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(dir, &a);
    }
    for (name, cn, san) in [
        (
            "server",
            "localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
        ),
        ("client", "certuser", "extendedKeyUsage=clientAuth"),
    ] {
        let subj = format!("/CN={cn}");
        let (k, csr, crt, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        let mut a = vec!["req", "-new", "-subj", &subj];
        a.extend(ec);
        a.extend(["-keyout", &k, "-out", &csr]);
        openssl(dir, &a);
        std::fs::write(dir.join(&ext), format!("{san}\n")).expect("write ext");
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &crt,
                "-extfile",
                &ext,
            ],
        );
    }
    // Two revocation lists from the CA: one empty, one revoking the server's certificate.
    std::fs::write(
        dir.join("ca.cnf"),
        "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 2\n",
    )
    .expect("ca.cnf");
    std::fs::write(dir.join("index.txt"), "").expect("index.txt");
    std::fs::write(dir.join("crlnumber"), "01\n").expect("crlnumber");
    let ca = ["-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.crt"];
    let mut a = vec!["ca"];
    a.extend(ca);
    a.extend(["-gencrl", "-out", "empty.crl"]);
    openssl(dir, &a);
    let mut a = vec!["ca"];
    a.extend(ca);
    a.extend(["-revoke", "server.crt"]);
    openssl(dir, &a);
    let mut a = vec!["ca"];
    a.extend(ca);
    a.extend(["-gencrl", "-out", "revoked.crl"]);
    openssl(dir, &a);
    use std::os::unix::fs::PermissionsExt;
    for k in ["client.key", "server.key"] {
        std::fs::set_permissions(dir.join(k), std::fs::Permissions::from_mode(0o600))
            .expect("chmod key");
    }
}

fn tls() -> &'static Tls {
    static T: OnceLock<Tls> = OnceLock::new();
    T.get_or_init(|| {
        let certs = tempfile::tempdir().expect("tempdir");
        let dir = certs.path().to_path_buf();
        make_certs(&dir);
        let v6 = std::net::TcpListener::bind("[::1]:0").is_ok();
        let listen = if v6 { "127.0.0.1,::1" } else { "127.0.0.1" };
        let hba = "local all all trust\n\
                   hostssl all certuser 127.0.0.1/32 cert\n\
                   hostssl all certuser ::1/128 cert\n\
                   hostssl all all 127.0.0.1/32 scram-sha-256\n\
                   hostssl all all ::1/128 scram-sha-256\n";
        let cluster = Cluster::start_tls(
            ClusterOptions::default(),
            &ServerTls {
                cert: dir.join("server.crt"),
                key: dir.join("server.key"),
                client_ca: Some(dir.join("ca.crt")),
                listen_addresses: listen.into(),
                hba: hba.into(),
            },
        )
        .expect("start a TLS cluster");
        let mut c = cluster
            .connect("postgres")
            .expect("connect over the socket");
        c.batch_execute(&format!(
            "ALTER ROLE postgres PASSWORD '{PASSWORD}'; CREATE ROLE certuser LOGIN"
        ))
        .expect("roles");
        Tls {
            cluster,
            _certs: certs,
            dir,
            v6,
        }
    })
}

/// Is this session encrypted, and which user is it?
fn session_facts(target: &Target) -> (bool, String) {
    let mut c = target.connect("stepgate test").expect("connect");
    let row = c
        .query_one(
            "SELECT s.ssl, current_user::text FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()",
            &[],
        )
        .expect("pg_stat_ssl");
    (row.get(0), row.get(1))
}

fn connect_error(conn: &str) -> String {
    let t = Target::resolve(Some(conn)).expect("resolves");
    match t.connect("stepgate test") {
        Ok(_) => panic!("connected, but should have been refused: {conn}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn verify_full_succeeds_by_name_and_by_ip() {
    let t = tls();
    let db = t.db("vf");
    for host in ["localhost", "127.0.0.1"] {
        let target = Target::resolve(Some(&t.url(host, &db, ""))).expect("resolve");
        assert_eq!(session_facts(&target), (true, "postgres".into()), "{host}");
    }
    // key=value form, with the password in quotes.
    let kv = format!(
        "host=localhost port={} dbname={db} user=postgres password='{PASSWORD}' sslmode=verify-full sslrootcert='{}'",
        t.port(),
        t.ca()
    );
    assert!(session_facts(&Target::resolve(Some(&kv)).expect("kv")).0);
    // The IPv6 literal form.
    if t.v6 {
        let target = Target::resolve(Some(&t.url("[::1]", &db, ""))).expect("resolve v6");
        assert!(session_facts(&target).0);
        assert_eq!(
            target.reached().as_deref(),
            Some(&*format!("[::1]:{}", t.port()))
        );
    } else {
        eprintln!("no ::1 on this machine: the [::1] form is covered by the unit tests only");
    }
}

#[test]
fn wrong_ca_is_refused_with_a_clear_message() {
    let t = tls();
    let db = t.db("wca");
    let url = t.url("localhost", &db, "").replace(&t.ca(), &t.wrong_ca());
    let e = connect_error(&url);
    assert!(e.contains("the server's certificate is not trusted"), "{e}");
    assert!(!e.contains(PASSWORD), "{e}");
    // verify-ca checks the chain too.
    let e = connect_error(&url.replace("verify-full", "verify-ca"));
    assert!(e.contains("not trusted"), "{e}");
    // The system's roots do not include this private CA.
    let e = connect_error(&t.url("localhost", &db, "").replace(&t.ca(), "system"));
    assert!(e.contains("not trusted"), "{e}");
    assert!(e.contains("sslrootcert=system"), "{e}");
    // A root file that does not exist is named.
    let e = connect_error(
        &t.url("localhost", &db, "")
            .replace(&t.ca(), "/nonexistent/ca.pem"),
    );
    assert!(
        e.contains("root certificate file \"/nonexistent/ca.pem\" does not exist"),
        "{e}"
    );
}

#[test]
fn host_name_mismatch_is_refused_but_verify_ca_accepts_the_chain() {
    let t = tls();
    let db = t.db("hn");
    // Connect to 127.0.0.1 while calling it wrong.example: the certificate does not list it.
    let base = format!(
        "host=wrong.example hostaddr=127.0.0.1 port={} dbname={db} user=postgres password='{PASSWORD}' sslrootcert='{}'",
        t.port(),
        t.ca()
    );
    let e = connect_error(&format!("{base} sslmode=verify-full"));
    assert!(
        e.contains("does not match the host name \"wrong.example\""),
        "{e}"
    );
    let target = Target::resolve(Some(&format!("{base} sslmode=verify-ca"))).expect("resolve");
    assert!(session_facts(&target).0);
}

#[test]
fn plaintext_is_refused_by_the_server_and_the_other_modes_negotiate_tls() {
    let t = tls();
    let db = t.db("plain");
    let base = format!(
        "host=127.0.0.1 port={} dbname={db} user=postgres password='{PASSWORD}'",
        t.port()
    );
    let e = connect_error(&format!("{base} sslmode=disable"));
    assert!(e.contains("no encryption"), "{e}");
    assert!(e.contains("accepts only TLS"), "{e}");
    // prefer (the default), allow (plain first, then TLS) and require (no certificate
    // check without a root file) all end up encrypted.
    for mode in ["", " sslmode=prefer", " sslmode=allow", " sslmode=require"] {
        let conn = format!("{base}{mode} sslrootcert=/nonexistent/root.crt");
        let target = Target::resolve(Some(&conn)).expect("resolve");
        assert!(session_facts(&target).0, "{mode}");
    }
}

#[test]
fn client_certificate_login() {
    let t = tls();
    let db = t.db("cert");
    let base = format!(
        "host=localhost port={} dbname={db} user=certuser sslmode=verify-full sslrootcert='{}'",
        t.port(),
        t.ca()
    );
    let with_cert = format!(
        "{base} sslcert='{}' sslkey='{}'",
        t.dir.join("client.crt").display(),
        t.dir.join("client.key").display()
    );
    let target = Target::resolve(Some(&with_cert)).expect("resolve");
    assert_eq!(session_facts(&target), (true, "certuser".into()));
    // pg_dump logs in with the same certificate (pg_hba.conf takes nothing else from
    // certuser), so a backup as certuser proves the child got sslcert/sslkey.
    seed(t, &db);
    t.cluster
        .connect(&db)
        .expect("connect")
        .batch_execute("GRANT SELECT ON public.accounts TO certuser")
        .expect("grant");
    let out = tempfile::tempdir().expect("tempdir");
    let backup =
        stepgate::db::backup::dump_tables(&target, &["public.accounts".into()], out.path(), false)
            .unwrap_or_else(|e| panic!("backup with a client certificate: {e}"));
    assert!(backup.files[0].rows_listed);
    // Without a certificate the server says no, and the message says what is missing.
    let e = connect_error(&format!("{base} sslcert=/nonexistent.crt"));
    assert!(e.contains("requires a valid client certificate"), "{e}");
    assert!(e.contains("give sslcert=FILE and sslkey=FILE"), "{e}");
    // A key readable by others is refused before anything is sent, as libpq does.
    let loose = t.dir.join("loose.key");
    std::fs::copy(t.dir.join("client.key"), &loose).expect("copy key");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let e = connect_error(&format!(
        "{base} sslcert='{}' sslkey='{}'",
        t.dir.join("client.crt").display(),
        loose.display()
    ));
    assert!(e.contains("has group or world access"), "{e}");
}

fn seed(t: &Tls, db: &str) {
    let mut c = t.cluster.connect(db).expect("connect");
    c.batch_execute(
        "CREATE TABLE public.accounts (id int PRIMARY KEY, owner text);
         INSERT INTO public.accounts SELECT g, 'o' || g FROM generate_series(1, 25) g;",
    )
    .expect("seed");
}

fn count(t: &Tls, db: &str) -> i64 {
    t.cluster
        .connect(db)
        .expect("connect")
        .query_one("SELECT count(*) FROM public.accounts", &[])
        .expect("count")
        .get(0)
}

#[test]
fn backup_and_restore_over_tls_reach_the_host_stepgate_reached() {
    use stepgate::db::backup::{dump_tables, restore_table};
    let t = tls();
    let db = t.db("bk");
    seed(t, &db);
    // The first host refuses (nothing listens on port 1); the second is the server.
    // pg_dump must get the second, with TLS and the password, or it fails: pg_hba.conf
    // has no plaintext TCP line, and it has no other way to learn the password.
    let url = format!(
        "postgresql://postgres:{}@127.0.0.1:1,localhost:{}/{db}?sslmode=verify-full&sslrootcert={}",
        PASSWORD.replace(' ', "%20"),
        t.port(),
        t.ca()
    );
    let target = Target::resolve(Some(&url)).expect("resolve");
    let out = tempfile::tempdir().expect("tempdir");
    let backup = dump_tables(&target, &["public.accounts".into()], out.path(), false)
        .unwrap_or_else(|e| panic!("backup over TLS: {e}"));
    assert_eq!(
        target.reached().as_deref(),
        Some(&*format!("localhost:{}", t.port()))
    );
    assert_eq!(backup.files.len(), 1);
    assert!(backup.files[0].rows_listed);
    let (ci, pw) = target.conninfo_for_tools();
    assert!(
        ci.starts_with(&format!("host='localhost' port='{}'", t.port())),
        "{ci}"
    );
    assert!(!ci.contains(PASSWORD), "{ci}");
    assert_eq!(pw.as_deref(), Some(PASSWORD));

    t.cluster
        .connect(&db)
        .expect("connect")
        .batch_execute("DELETE FROM public.accounts WHERE id > 5")
        .expect("delete");
    assert_eq!(count(t, &db), 5);
    let report = restore_table(
        &target,
        &backup.files[0].file,
        "public.accounts",
        &backup.files[0].sha256,
    )
    .unwrap_or_else(|e| panic!("restore over TLS: {e}"));
    assert_eq!((report.rows_before, report.rows_after), (5, 25));
    assert_eq!(count(t, &db), 25);
}

#[test]
fn url_host_parameter_beats_the_authority_for_sessions_and_pg_dump() {
    // The case: the URL's authority names a TCP host, `?host=` a socket
    // directory; libpq (and so stepgate, and pg_dump after it) use the socket.
    let t = tls();
    let db = t.db("sock");
    seed(t, &db);
    let dir: String = t
        .cluster
        .socket_dir
        .display()
        .to_string()
        .replace('/', "%2F");
    let url = format!(
        "postgresql://postgres@nowhere.invalid:{}/{db}?host={dir}",
        t.port()
    );
    let target = Target::resolve(Some(&url)).expect("resolve");
    assert_eq!(session_facts(&target), (false, "postgres".into()));
    let out = tempfile::tempdir().expect("tempdir");
    let backup =
        stepgate::db::backup::dump_tables(&target, &["public.accounts".into()], out.path(), false)
            .unwrap_or_else(|e| panic!("backup over the socket: {e}"));
    assert_eq!(backup.files.len(), 1);
}

/// The stepgate binary with a clean libpq environment plus `env`.
fn stepgate(args: &[&str], env: &[(&str, String)], home: &Path) -> (i32, String) {
    let mut c = Command::new(common::bin());
    c.args(args);
    for (_, var) in stepgate::core::conninfo::KEYWORDS {
        if let Some(var) = var {
            c.env_remove(var);
        }
    }
    c.env_remove("DATABASE_URL").env("HOME", home);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run stepgate");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn ledger_installed(t: &Tls, db: &str) -> bool {
    t.cluster
        .connect(db)
        .expect("connect")
        .query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'stepgate'",
            &[],
        )
        .expect("query")
        .get::<_, i64>(0)
        == 1
}

#[test]
fn service_file_with_passfile_over_tls_from_the_cli() {
    use std::os::unix::fs::PermissionsExt;
    let t = tls();
    let db = t.db("svc");
    let other = t.db("svc_other");
    let home = tempfile::tempdir().expect("home");
    let passfile = home.path().join("pgpass");
    std::fs::write(
        &passfile,
        format!(
            "localhost:{}:*:postgres:{}\n",
            t.port(),
            PASSWORD.replace(':', "\\:")
        ),
    )
    .expect("pgpass");
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let svc = home.path().join("services.conf");
    std::fs::write(
        &svc,
        format!(
            "[elsewhere]\nhost=nowhere.invalid\n\n[prod]\nhost=localhost\nport={}\ndbname={db}\nuser=postgres\nsslmode=verify-full\nsslrootcert={}\npassfile={}\n",
            t.port(),
            t.ca(),
            passfile.display()
        ),
    )
    .expect("service file");
    let env = vec![
        ("PGSERVICEFILE", svc.display().to_string()),
        ("PGSERVICE", "prod".to_string()),
        // The environment loses to the service: this would be the wrong database.
        ("PGDATABASE", other.clone()),
        ("PGSSLMODE", "disable".to_string()),
    ];
    let (code, out) = stepgate(
        &["ledger", "install", "--environment", "test"],
        &env,
        home.path(),
    );
    assert_eq!(code, 0, "{out}");
    assert!(ledger_installed(t, &db), "{out}");
    assert!(!ledger_installed(t, &other));
    assert!(!out.contains(PASSWORD), "{out}");

    // Explicit beats the service: --db "service=prod dbname=OTHER".
    let (code, out) = stepgate(
        &[
            "ledger",
            "install",
            "--environment",
            "test",
            "--db",
            &format!("service=prod dbname={other}"),
        ],
        &[env[0].clone()],
        home.path(),
    );
    assert_eq!(code, 0, "{out}");
    assert!(ledger_installed(t, &other));

    // A service nobody defined is bad input (exit 2), named.
    let (code, out) = stepgate(
        &["ledger", "log"],
        &[env[0].clone(), ("PGSERVICE", "nope".into())],
        home.path(),
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("definition of service \"nope\" not found"),
        "{out}"
    );

    // A certificate the CA did not sign: the database is unreachable (exit 5), and why.
    let (code, out) = stepgate(
        &["ledger", "log"],
        &[
            env[0].clone(),
            env[1].clone(),
            ("PGSSLROOTCERT", t.wrong_ca()),
        ],
        home.path(),
    );
    // The service's sslrootcert beats PGSSLROOTCERT: this still works.
    assert_eq!(code, 0, "{out}");
    let (code, out) = stepgate(
        &[
            "ledger",
            "log",
            "--db",
            &format!("service=prod sslrootcert={}", t.wrong_ca()),
        ],
        &[env[0].clone()],
        home.path(),
    );
    assert_eq!(code, 5, "{out}");
    assert!(out.contains("certificate is not trusted"), "{out}");
}

#[test]
fn a_server_without_tls_is_named_and_prefer_falls_back() {
    // A second cluster on TCP with `ssl = off` (the setting overrides the TLS one).
    let t = tls();
    let plain = Cluster::start_tls(
        ClusterOptions {
            settings: vec![("ssl".into(), "off".into())],
            keep: false,
        },
        &ServerTls {
            cert: t.dir.join("server.crt"),
            key: t.dir.join("server.key"),
            client_ca: None,
            listen_addresses: "127.0.0.1".into(),
            hba: "local all all trust\nhost all all 127.0.0.1/32 trust\n".into(),
        },
    )
    .expect("start a cluster without TLS");
    let base = format!(
        "host=localhost port={} dbname=postgres user=postgres sslrootcert='{}'",
        plain.port,
        t.ca()
    );
    for mode in ["require", "verify-ca", "verify-full"] {
        let e = connect_error(&format!("{base} sslmode={mode}"));
        assert!(
            e.contains(&format!(
                "the server does not offer TLS, and sslmode={mode} requires it"
            )),
            "{e}"
        );
    }
    let target = Target::resolve(Some(&format!("{base} sslmode=prefer"))).expect("resolve");
    assert_eq!(session_facts(&target), (false, "postgres".into()));
    // And a message for the CLI: exit 5, the database could not be reached.
    let home = tempfile::tempdir().expect("home");
    let (code, out) = stepgate(
        &[
            "ledger",
            "log",
            "--db",
            &format!("{base} sslmode=verify-full"),
        ],
        &[],
        home.path(),
    );
    assert_eq!(code, 5, "{out}");
    assert!(out.contains("does not offer TLS"), "{out}");
}

#[test]
fn a_revoked_server_certificate_is_refused_with_sslcrl() {
    let t = tls();
    let db = t.db("crl");
    let crl = |name: &str| t.dir.join(name).display().to_string();
    let ok = Target::resolve(Some(&t.url(
        "localhost",
        &db,
        &format!("&sslcrl={}", crl("empty.crl")),
    )))
    .expect("resolve");
    assert!(session_facts(&ok).0);
    let e = connect_error(&t.url("localhost", &db, &format!("&sslcrl={}", crl("revoked.crl"))));
    assert!(e.contains("not trusted: certificate revoked"), "{e}");
    // pg_dump is told the same list: a backup through this target would be refused too.
    let target = Target::resolve(Some(&t.url(
        "localhost",
        &db,
        &format!("&sslcrl={}", crl("revoked.crl")),
    )))
    .expect("resolve");
    let (ci, _) = target.conninfo_for_tools();
    assert!(
        ci.contains(&format!("sslcrl='{}'", crl("revoked.crl"))),
        "{ci}"
    );
}
