//! The server secret: 32 random bytes that sign upload and download tokens (and, later, seal
//! user API keys). Given as `EASEL_SECRET_KEY`, or generated once into `DATA_DIR/secret.key`
//! (mode 0600) and read from there on later starts.

use std::io::Write as _;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The server's own secret. Never logged: its `Debug` shows nothing.
#[derive(Clone)]
pub struct ServerSecret([u8; 32]);

impl std::fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerSecret(..)")
    }
}

impl ServerSecret {
    /// The configured secret, or the one in `data_dir/secret.key`, made there when missing.
    pub fn load(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        if let Some(encoded) = configured {
            return Self::decode(encoded.trim())
                .map_err(|why| anyhow::anyhow!("invalid setting EASEL_SECRET_KEY: {why}"));
        }
        let path = data_dir.join("secret.key");
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::decode(text.trim())
                .map_err(|why| anyhow::anyhow!("{} is not a secret key: {why}", path.display())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Self::create(&path),
            Err(err) => Err(anyhow::anyhow!("cannot read {}: {err}", path.display())),
        }
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

    fn create(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let secret = Self::generate()?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut file) => {
                writeln!(file, "{}", STANDARD.encode(secret.0))?;
                file.sync_all()?;
                tracing::info!(path = %path.display(), "generated a new server secret");
                Ok(secret)
            }
            // Another process made it first: use theirs.
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::load(None, path.parent().unwrap_or(Path::new(".")))
            }
            Err(err) => Err(anyhow::anyhow!("cannot create {}: {err}", path.display())),
        }
    }

    /// A key for one purpose, derived from the secret, so that no two uses share a key.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
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
}
