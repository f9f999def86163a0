//! The server secret: 32 random bytes that sign upload and download tokens and, through a key
//! derived from it, seal user API keys. Given as `EASEL_SECRET_KEY`, or generated once into
//! `DATA_DIR/secret.key` (mode 0600) and read from there on later starts.
//!
//! A secret can be replaced without losing what the old one sealed: [`ServerSecrets`] holds the
//! current secret and the older ones, from `EASEL_OLD_SECRET_KEYS` or from the later lines of
//! `secret.key` (its first line is the current secret). `easel keys rotate` adds a new first line.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The server's own secret. Never logged: its `Debug` shows nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerSecret([u8; 32]);

impl std::fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSecret(..)")
    }
}

/// The name of the generated secret file inside the data folder.
const SECRET_FILE: &str = "secret.key";

impl ServerSecret {
    /// The configured secret, or the current one in `data_dir/secret.key`, made there when
    /// missing.
    pub fn load(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        Ok(ServerSecrets::load(configured, &[], data_dir)?.current)
    }

    /// A secret from its base64 text.
    pub fn decode(encoded: &str) -> Result<Self, String> {
        let bytes = STANDARD.decode(encoded).map_err(|_| {
            "expected 32 bytes in base64 (make one with `openssl rand -base64 32`)".to_owned()
        })?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("expected 32 bytes, got {}", b.len()))?;
        Ok(ServerSecret(bytes))
    }

    /// A fresh random secret, not stored anywhere; for tests and one-off servers.
    pub fn generate() -> anyhow::Result<Self> {
        let mut bytes = [0_u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        Ok(ServerSecret(bytes))
    }

    /// The secret as base64 text, the form `EASEL_SECRET_KEY` and `secret.key` hold.
    fn encode(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// A key for one purpose, derived from the secret, so that no two uses share a key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// Where the secrets came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// `EASEL_SECRET_KEY` (and `EASEL_OLD_SECRET_KEYS`).
    Configured,
    /// The generated file; its first line is the current secret, later lines older ones.
    File(PathBuf),
}

/// The current secret and the older ones it replaced, newest first. `Debug` shows no secret.
#[derive(Debug, Clone)]
pub struct ServerSecrets {
    /// What new values are signed and sealed with.
    pub current: ServerSecret,
    /// Secrets that may still have sealed stored values; only ever used to open them.
    pub old: Vec<ServerSecret>,
    pub source: SecretSource,
    /// The older secrets given in `EASEL_OLD_SECRET_KEYS`, kept to re-read the file with.
    configured_old: Vec<ServerSecret>,
}

impl ServerSecrets {
    /// The configured secrets (`configured` current, `configured_old` older), or those of
    /// `data_dir/secret.key`, which is made with one fresh secret when missing. Older secrets
    /// given in `configured_old` are added to the file's in either case.
    pub fn load(
        configured: Option<&str>,
        configured_old: &[String],
        data_dir: &Path,
    ) -> anyhow::Result<Self> {
        let configured_old = configured_old
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .enumerate()
            .map(|(i, encoded)| {
                ServerSecret::decode(encoded).map_err(|why| {
                    anyhow::anyhow!(
                        "invalid setting EASEL_OLD_SECRET_KEYS: key {} of the list: {why}",
                        i + 1
                    )
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        if let Some(encoded) = configured {
            let current = ServerSecret::decode(encoded.trim())
                .map_err(|why| anyhow::anyhow!("invalid setting EASEL_SECRET_KEY: {why}"))?;
            return Ok(Self::assemble(
                current,
                Vec::new(),
                SecretSource::Configured,
                configured_old,
            ));
        }
        let path = data_dir.join(SECRET_FILE);
        let (current, old) = match read_secret_file(&path)? {
            Some(secrets) => secrets,
            None => (create_secret_file(&path)?, Vec::new()),
        };
        Ok(Self::assemble(
            current,
            old,
            SecretSource::File(path),
            configured_old,
        ))
    }

    fn assemble(
        current: ServerSecret,
        mut old: Vec<ServerSecret>,
        source: SecretSource,
        configured_old: Vec<ServerSecret>,
    ) -> Self {
        old.extend(configured_old.iter().cloned());
        let mut seen = vec![current.clone()];
        old.retain(|secret| {
            let new = !seen.contains(secret);
            if new {
                seen.push(secret.clone());
            }
            new
        });
        ServerSecrets {
            current,
            old,
            source,
            configured_old,
        }
    }

    /// The secrets as the file holds them now, for a server that meets a value sealed under a
    /// secret it does not know (`easel keys rotate` ran while it was up). `None` for configured
    /// secrets, which only a restart changes, and when the file is gone.
    pub fn reread(&self) -> anyhow::Result<Option<Self>> {
        let SecretSource::File(path) = &self.source else {
            return Ok(None);
        };
        Ok(read_secret_file(path)?.map(|(current, old)| {
            Self::assemble(
                current,
                old,
                self.source.clone(),
                self.configured_old.clone(),
            )
        }))
    }

    /// Every secret, the current one first.
    pub fn all(&self) -> impl Iterator<Item = &ServerSecret> {
        std::iter::once(&self.current).chain(&self.old)
    }

    /// Makes a fresh secret the current one of the file source, keeping every older one below
    /// it; the file is replaced atomically (a temporary file renamed over it, mode 0600). The
    /// configured source cannot be rotated here: the operator sets the new `EASEL_SECRET_KEY`.
    pub fn rotate_file(&self) -> anyhow::Result<Self> {
        let SecretSource::File(path) = &self.source else {
            anyhow::bail!(
                "the secret comes from EASEL_SECRET_KEY: put the new secret there and the old \
                 one in EASEL_OLD_SECRET_KEYS instead"
            );
        };
        let (current, mut old) =
            read_secret_file(path)?.ok_or_else(|| anyhow::anyhow!("{} is gone", path.display()))?;
        let fresh = ServerSecret::generate()?;
        old.insert(0, current);
        write_secret_file(path, &fresh, &old)?;
        Ok(Self::assemble(
            fresh,
            old,
            self.source.clone(),
            self.configured_old.clone(),
        ))
    }
}

/// The secrets in a `secret.key` file (first line current, later lines older; blank lines and
/// lines starting with `#` skipped), or `None` when there is no file.
fn read_secret_file(path: &Path) -> anyhow::Result<Option<(ServerSecret, Vec<ServerSecret>)>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => anyhow::bail!("cannot read {}: {err}", path.display()),
    };
    let mut secrets = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(i, line)| {
            ServerSecret::decode(line).map_err(|why| {
                anyhow::anyhow!(
                    "{} line {} is not a secret key: {why}",
                    path.display(),
                    i + 1
                )
            })
        });
    let current = secrets
        .next()
        .ok_or_else(|| anyhow::anyhow!("{} holds no secret key", path.display()))??;
    let old = secrets.collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Some((current, old)))
}

/// Makes `path` with one fresh secret; when another process made it first, uses theirs.
fn create_secret_file(path: &Path) -> anyhow::Result<ServerSecret> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let secret = ServerSecret::generate()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            writeln!(file, "{}", secret.encode())?;
            file.sync_all()?;
            tracing::info!(path = %path.display(), "generated a new server secret");
            Ok(secret)
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => read_secret_file(path)?
            .map(|(current, _)| current)
            .ok_or_else(|| anyhow::anyhow!("{} vanished while it was made", path.display())),
        Err(err) => Err(anyhow::anyhow!("cannot create {}: {err}", path.display())),
    }
}

/// Replaces `path` with `current` and `old`, one per line: written to a temporary file beside
/// it (mode 0600), synced, and renamed over it, so a reader sees the old file or the new one.
fn write_secret_file(
    path: &Path,
    current: &ServerSecret,
    old: &[ServerSecret],
) -> anyhow::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut suffix = [0_u8; 8];
    getrandom::fill(&mut suffix).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let temp = dir.join(format!(
        ".{SECRET_FILE}.{}.tmp",
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = (|| -> std::io::Result<()> {
        let mut file = options.open(&temp)?;
        for secret in std::iter::once(current).chain(old) {
            writeln!(file, "{}", secret.encode())?;
        }
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        // Make the rename itself durable.
        #[cfg(unix)]
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if let Err(err) = written {
        std::fs::remove_file(&temp).ok();
        anyhow::bail!("cannot replace {}: {err}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_is_stored_once_with_owner_only_access_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = ServerSecret::load(None, dir.path()).unwrap();
        let again = ServerSecret::load(None, dir.path()).unwrap();
        assert_eq!(first.derive("x"), again.derive("x"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_configured_secret_must_be_32_bytes_of_base64() {
        let dir = tempfile::tempdir().unwrap();
        assert!(ServerSecret::load(Some("c2hvcnQ="), dir.path()).is_err());
        assert!(ServerSecret::load(Some("not base64!"), dir.path()).is_err());
        let ok = STANDARD.encode([7_u8; 32]);
        assert!(ServerSecret::load(Some(&ok), dir.path()).is_ok());
        assert!(!dir.path().join("secret.key").exists());
    }

    #[test]
    fn derived_keys_differ_by_purpose() {
        let secret = ServerSecret::decode(&STANDARD.encode([1_u8; 32])).unwrap();
        assert_ne!(secret.derive("a"), secret.derive("b"));
    }

    #[test]
    fn later_lines_of_the_secret_file_are_older_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (STANDARD.encode([1_u8; 32]), STANDARD.encode([2_u8; 32]));
        std::fs::write(dir.path().join("secret.key"), format!("{a}\n\n{b}\n")).unwrap();
        let secrets = ServerSecrets::load(None, &[], dir.path()).unwrap();
        assert_eq!(secrets.current, ServerSecret([1; 32]));
        assert_eq!(secrets.old, vec![ServerSecret([2; 32])]);
        assert_eq!(
            ServerSecret::load(None, dir.path()).unwrap(),
            ServerSecret([1; 32])
        );
    }

    #[test]
    fn old_secrets_come_from_the_setting_without_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let current = STANDARD.encode([1_u8; 32]);
        let old = vec![
            STANDARD.encode([2_u8; 32]),
            current.clone(),
            STANDARD.encode([2_u8; 32]),
        ];
        let secrets = ServerSecrets::load(Some(&current), &old, dir.path()).unwrap();
        assert_eq!(secrets.source, SecretSource::Configured);
        assert_eq!(secrets.old, vec![ServerSecret([2; 32])]);
        let err = ServerSecrets::load(Some(&current), &["c2hvcnQ=".to_owned()], dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("EASEL_OLD_SECRET_KEYS"), "{err}");
    }

    #[test]
    fn rotating_the_file_puts_a_fresh_secret_first_and_keeps_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let first = ServerSecrets::load(None, &[], dir.path()).unwrap();
        let second = first.rotate_file().unwrap();
        assert_ne!(second.current, first.current);
        assert_eq!(second.old, vec![first.current.clone()]);
        let third = second.rotate_file().unwrap();
        assert_eq!(
            third.old,
            vec![second.current.clone(), first.current.clone()]
        );

        let reread = first.reread().unwrap().unwrap();
        assert_eq!(reread.current, third.current);
        assert_eq!(reread.old, third.old);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["secret.key"], "no temporary file is left");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn configured_secrets_are_not_rotated_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let secrets =
            ServerSecrets::load(Some(&STANDARD.encode([1_u8; 32])), &[], dir.path()).unwrap();
        assert!(secrets.rotate_file().is_err());
        assert!(secrets.reread().unwrap().is_none());
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let encoded = STANDARD.encode([9_u8; 32]);
        let secrets =
            ServerSecrets::load(Some(&encoded), std::slice::from_ref(&encoded), dir.path())
                .unwrap();
        let shown = format!("{secrets:?}");
        assert!(!shown.contains(&encoded), "{shown}");
        assert!(!shown.contains("9, 9"), "{shown}");
    }
}
