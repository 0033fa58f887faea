//! Where evidence (table dumps, measurement captures) is kept: outside the pack by
//! default, so production data never sits in a folder that goes to git.
//!
//! The root is, first found: `--evidence-dir` (which sets `STEPGATE_EVIDENCE_DIR`),
//! `[pack] evidence_dir` (relative to the pack folder), `$XDG_STATE_HOME/stepgate/evidence`,
//! `$HOME/.local/state/stepgate/evidence`. Under it, one folder per target (database
//! name and cluster system identifier) and pack: `<root>/<target>/<pack id>/`. Every
//! folder stepgate creates there is 0700 and every file it writes 0600.

use crate::core::manifest::Pack;
use crate::engine::{Error, Result};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The environment variable `--evidence-dir` sets.
pub const ENV: &str = "STEPGATE_EVIDENCE_DIR";

/// A path component from free text: `[A-Za-z0-9._-]`, anything else becomes `_`.
fn component(s: &str) -> String {
    let c: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let c = c.trim_matches('.').to_string();
    if c.is_empty() {
        "_".into()
    } else {
        c
    }
}

/// The target key of a database: `<database>@<system identifier>`, as a path component.
pub fn target_key(database: &str, system_identifier: &str) -> String {
    component(&format!("{database}@{system_identifier}"))
}

fn non_empty_env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.trim().is_empty())
}

/// The evidence root before the per-target and per-pack folders.
pub fn root(pack: &Pack) -> PathBuf {
    if let Some(d) = non_empty_env(ENV) {
        return PathBuf::from(d);
    }
    if let Some(d) = &pack.manifest.pack.evidence_dir {
        let p = Path::new(d.get_ref());
        return if p.is_absolute() {
            p.to_path_buf()
        } else {
            pack.dir.join(p)
        };
    }
    if let Some(x) = non_empty_env("XDG_STATE_HOME").filter(|x| Path::new(x).is_absolute()) {
        return Path::new(&x).join("stepgate").join("evidence");
    }
    if let Some(h) = non_empty_env("HOME") {
        return Path::new(&h)
            .join(".local")
            .join("state")
            .join("stepgate")
            .join("evidence");
    }
    pack.dir.join(".stepgate").join("evidence")
}

/// The evidence folder of `pack` against `target` (see [`target_key`]); not created.
pub fn evidence_dir(pack: &Pack, target: &str) -> PathBuf {
    root(pack)
        .join(component(target))
        .join(component(pack.id()))
}

/// The evidence folder of the session's pack against the database it is connected to.
pub fn session_dir(session: &crate::engine::session::Session) -> PathBuf {
    evidence_dir(
        session.pack(),
        &target_key(
            &session.identity.database,
            &session.identity.system_identifier,
        ),
    )
}

/// Creates `dir` and any missing parents with mode 0700, and makes `dir` itself 0700.
pub fn private_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::Failed(format!("cannot create {}: {e}", dir.display())))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::Failed(format!("cannot make {} private: {e}", dir.display())))
}

/// Makes every regular file directly in `dir` mode 0600.
pub fn private_files(dir: &Path) -> Result<()> {
    let rd =
        std::fs::read_dir(dir).map_err(|e| Error::Failed(format!("{}: {e}", dir.display())))?;
    for e in rd.flatten() {
        if e.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(0o600)).map_err(
                |err| Error::Failed(format!("cannot make {} private: {err}", e.path().display())),
            )?;
        }
    }
    Ok(())
}

/// Writes `text` to `path` with mode 0600 (created so, never readable by others).
pub fn write_private(path: &Path, text: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::Failed(format!("{}: {e}", path.display())))?;
    f.write_all(text)
        .map_err(|e| Error::Failed(format!("{}: {e}", path.display())))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::Failed(format!("{}: {e}", path.display())))
}

/// A new, empty, private folder `<evidence>/<step>/<UTC stamp>[-n]` for one backup or
/// capture, under `evidence` (from [`evidence_dir`] or [`session_dir`]).
pub fn new_step_dir(evidence: &Path, step_id: &str, stamp: &str) -> Result<PathBuf> {
    let base = evidence.join(component(step_id));
    private_dir(&base)?;
    let base = std::fs::canonicalize(&base).unwrap_or(base);
    for n in 1..1000 {
        let dir = if n == 1 {
            base.join(stamp)
        } else {
            base.join(format!("{stamp}-{n}"))
        };
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| Error::Failed(format!("{}: {e}", dir.display())))?;
                return Ok(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Error::Failed(format!(
                    "cannot create {}: {e}",
                    dir.display()
                )))
            }
        }
    }
    Err(Error::Failed(format!(
        "cannot create an evidence folder under {}",
        base.display()
    )))
}

/// Tables at or above this size get a warning, with the size, before they are dumped.
pub const LARGE_TABLE_BYTES: i64 = 1 << 30;

/// Human size: `1.5 GiB`, `320 MiB`, `12 kB`.
pub fn human_bytes(n: i64) -> String {
    let n = n.max(0) as f64;
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("kiB", 1 << 10)] {
        if n >= size as f64 {
            return format!("{:.1} {unit}", n / size as f64);
        }
    }
    format!("{n} bytes")
}

/// The warnings for tables of `sizes` (`schema.table`, bytes) at or above `threshold`.
pub fn large_table_warnings(sizes: &[(String, i64)], threshold: i64) -> Vec<String> {
    sizes
        .iter()
        .filter(|(_, b)| *b >= threshold)
        .map(|(t, b)| {
            format!(
                "{t} is {} on disk: dumping it takes time and space, and the dump holds its data",
                human_bytes(*b)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(extra: &str) -> Pack {
        let src = format!(
            "[pack]\nid = \"p1\"\ntitle = \"t\"\n{extra}\n[pack.target]\ndatabase = \"db\"\n"
        );
        crate::core::manifest::parse("stepgate.toml", &src, Path::new("/packs/p1")).unwrap()
    }

    #[test]
    fn keyed_by_target_and_pack_and_outside_the_pack() {
        // Only the manifest form is tested here: the environment is shared by the test threads.
        let p = pack("evidence_dir = \"/srv/evidence\"");
        assert_eq!(
            evidence_dir(&p, &target_key("app db", "7301")),
            PathBuf::from("/srv/evidence/app_db@7301/p1")
        );
        let p = pack("evidence_dir = \"../evidence\"");
        assert_eq!(
            evidence_dir(&p, "t"),
            PathBuf::from("/packs/p1/../evidence/t/p1")
        );
        assert_eq!(component("../.."), "_");
    }

    #[test]
    fn private_dirs_and_files() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("a/b/c");
        private_dir(&d).unwrap();
        for p in [t.path().join("a"), t.path().join("a/b"), d.clone()] {
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", p.display());
        }
        write_private(&d.join("x"), b"secret").unwrap();
        std::fs::write(d.join("y"), b"open").unwrap();
        private_files(&d).unwrap();
        for f in ["x", "y"] {
            let mode = std::fs::metadata(d.join(f)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{f}");
        }
    }

    #[test]
    fn large_tables_are_named_with_their_size() {
        let w = large_table_warnings(
            &[("public.small".into(), 10), ("public.big".into(), 3 << 29)],
            LARGE_TABLE_BYTES,
        );
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with("public.big is 1.5 GiB"), "{w:?}");
    }
}
