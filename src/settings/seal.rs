//! Sealing users' provider API keys: XChaCha20-Poly1305 under a key derived from the server
//! secret, a fresh random 24-byte nonce per value, and the user id and provider bound as
//! associated data, so a sealed value copied to another user's row or another provider does not
//! open.
//!
//! Every sealed value names the id of the key that sealed it. The [`Keyring`] holds the key of
//! the current secret (which seals) and those of older secrets (which only open), so the secret
//! can be replaced and the stored values re-sealed (`easel keys rotate`) without losing any.

use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::secret::ServerSecrets;

/// What the sealing key is derived for; a new scheme gets a new purpose.
const KEY_PURPOSE: &str = "easel api keys v1";
/// The start of the associated data, naming the scheme.
const AAD_PREFIX: &[u8] = b"easel api key v1";
const NONCE_BYTES: usize = 24;

/// A sealed API key as stored: the key id, the nonce and the ciphertext (with its tag), both
/// base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sealed {
    pub key_id: String,
    pub nonce: String,
    pub ciphertext: String,
}

/// Why a value could not be sealed or opened. The messages name the user, the provider and the
/// key id, never a key; they are for the server log, not for clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error(
        "the API key of user '{user_id}' for provider '{provider}' is sealed under key id \
         {key_id}, which none of the configured secrets has (an old secret is missing from \
         EASEL_OLD_SECRET_KEYS or from the later lines of DATA_DIR/secret.key)"
    )]
    UnknownKey {
        user_id: String,
        provider: String,
        key_id: String,
    },
    #[error(
        "the API key of user '{user_id}' for provider '{provider}' does not open under key id \
         {key_id}: it was altered, or copied from another user or provider"
    )]
    Rejected {
        user_id: String,
        provider: String,
        key_id: String,
    },
    #[error("the sealed API key of user '{user_id}' for provider '{provider}' is malformed: {why}")]
    Malformed {
        user_id: String,
        provider: String,
        why: &'static str,
    },
    #[error("no randomness for a nonce")]
    NoRandomness,
    #[error("two server secrets have the same key id {0}; remove one of them")]
    DuplicateKeyId(String),
}

/// One sealing key and its id. `Debug` shows the id only.
struct SealingKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl SealingKey {
    fn derive(secret: &crate::secret::ServerSecret) -> Self {
        let key = secret.derive(KEY_PURPOSE);
        // A short fingerprint of the derived key: names it without revealing it.
        let digest = Sha256::digest(key);
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        SealingKey {
            id,
            cipher: XChaCha20Poly1305::new(&key.into()),
        }
    }
}

struct Keys {
    /// The current key first, then the older ones.
    keys: Vec<SealingKey>,
    secrets: ServerSecrets,
}

impl Keys {
    fn new(secrets: ServerSecrets) -> Result<Self, SealError> {
        let mut keys: Vec<SealingKey> = Vec::new();
        for key in secrets.all().map(SealingKey::derive) {
            if keys.iter().any(|k| k.id == key.id) {
                return Err(SealError::DuplicateKeyId(key.id));
            }
            keys.push(key);
        }
        Ok(Keys { keys, secrets })
    }

    fn find(&self, id: &str) -> Option<&SealingKey> {
        self.keys.iter().find(|k| k.id == id)
    }
}

/// The sealing keys of the current and the older server secrets. Cheap to clone (shared).
#[derive(Clone)]
pub struct Keyring(Arc<RwLock<Arc<Keys>>>);

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("key_ids", &self.key_ids())
            .finish()
    }
}

/// The associated data of one value: the scheme, then the user id and the provider, each
/// length-prefixed so that no two (user, provider) pairs give the same bytes.
fn associated_data(user_id: &str, provider: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_PREFIX.len() + 8 + user_id.len() + provider.len());
    aad.extend_from_slice(AAD_PREFIX);
    for part in [user_id, provider] {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

impl Keyring {
    /// The keys of `secrets`: the current secret's seals, the older ones' only open.
    pub fn new(secrets: ServerSecrets) -> Result<Self, SealError> {
        Ok(Keyring(Arc::new(RwLock::new(Arc::new(Keys::new(
            secrets,
        )?)))))
    }

    fn keys(&self) -> Arc<Keys> {
        match self.0.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The id of the key new values are sealed under.
    pub fn current_key_id(&self) -> String {
        self.keys().keys[0].id.clone()
    }

    /// The ids of every key, the current one first.
    pub fn key_ids(&self) -> Vec<String> {
        self.keys().keys.iter().map(|k| k.id.clone()).collect()
    }

    /// Seals `plaintext`, the key of `user_id` for `provider`, under the current key.
    pub fn seal(
        &self,
        user_id: &str,
        provider: &str,
        plaintext: &str,
    ) -> Result<Sealed, SealError> {
        let keys = self.keys();
        let key = &keys.keys[0];
        let mut nonce = [0_u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|_| SealError::NoRandomness)?;
        let aad = associated_data(user_id, provider);
        let ciphertext = key
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            // Only a message past 256 GiB fails to seal.
            .map_err(|_| SealError::Malformed {
                user_id: user_id.to_owned(),
                provider: provider.to_owned(),
                why: "too long to seal",
            })?;
        Ok(Sealed {
            key_id: key.id.clone(),
            nonce: STANDARD.encode(nonce),
            ciphertext: STANDARD.encode(ciphertext),
        })
    }

    /// Opens a value sealed for `user_id` and `provider`, under whichever key it names. A key id
    /// this keyring does not know makes it re-read the secret file once, in case
    /// `easel keys rotate` added a secret since the start.
    pub fn open(
        &self,
        user_id: &str,
        provider: &str,
        sealed: &Sealed,
    ) -> Result<String, SealError> {
        let mut keys = self.keys();
        if keys.find(&sealed.key_id).is_none()
            && let Some(reread) = self.reload(&keys)
        {
            keys = reread;
        }
        let Some(key) = keys.find(&sealed.key_id) else {
            return Err(SealError::UnknownKey {
                user_id: user_id.to_owned(),
                provider: provider.to_owned(),
                key_id: sealed.key_id.clone(),
            });
        };
        let malformed = |why| SealError::Malformed {
            user_id: user_id.to_owned(),
            provider: provider.to_owned(),
            why,
        };
        let nonce: [u8; NONCE_BYTES] = STANDARD
            .decode(&sealed.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| malformed("the nonce is not 24 bytes of base64"))?;
        let ciphertext = STANDARD
            .decode(&sealed.ciphertext)
            .map_err(|_| malformed("the ciphertext is not base64"))?;
        let aad = associated_data(user_id, provider);
        let plaintext = key
            .cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Rejected {
                user_id: user_id.to_owned(),
                provider: provider.to_owned(),
                key_id: sealed.key_id.clone(),
            })?;
        String::from_utf8(plaintext).map_err(|_| malformed("the key is not UTF-8"))
    }

    /// The keys as the secret file holds them now, when it holds others than `seen`.
    fn reload(&self, seen: &Arc<Keys>) -> Option<Arc<Keys>> {
        let secrets = match seen.secrets.reread() {
            Ok(Some(secrets)) => secrets,
            Ok(None) => return None,
            Err(err) => {
                tracing::warn!(error = %err, "cannot re-read the server secrets");
                return None;
            }
        };
        let keys = match Keys::new(secrets) {
            Ok(keys) => Arc::new(keys),
            Err(err) => {
                tracing::warn!(error = %err, "cannot use the re-read server secrets");
                return None;
            }
        };
        if keys
            .keys
            .iter()
            .map(|k| &k.id)
            .eq(seen.keys.iter().map(|k| &k.id))
        {
            return None;
        }
        tracing::info!(
            key_ids = ?keys.keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
            "the server secret file changed; using its secrets to open API keys"
        );
        let mut slot = match self.0.write() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = keys.clone();
        Some(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ServerSecrets;

    fn encoded(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    fn keyring(current: u8, old: &[u8]) -> Keyring {
        let dir = tempfile::tempdir().unwrap();
        let old: Vec<String> = old.iter().map(|b| encoded(*b)).collect();
        Keyring::new(ServerSecrets::load(Some(&encoded(current)), &old, dir.path()).unwrap())
            .unwrap()
    }

    #[test]
    fn a_sealed_key_opens_for_its_user_and_provider_only() {
        let ring = keyring(1, &[]);
        let sealed = ring.seal("ann", "openai", "sk-secret-value").unwrap();
        assert_eq!(
            ring.open("ann", "openai", &sealed).unwrap(),
            "sk-secret-value"
        );
        assert!(matches!(
            ring.open("bob", "openai", &sealed),
            Err(SealError::Rejected { .. })
        ));
        assert!(matches!(
            ring.open("ann", "fal", &sealed),
            Err(SealError::Rejected { .. })
        ));
        // The length prefixes keep ("an", "nopenai") apart from ("ann", "openai").
        assert!(ring.open("an", "nopenai", &sealed).is_err());
    }

    #[test]
    fn each_seal_takes_a_fresh_nonce_and_hides_the_key() {
        let ring = keyring(1, &[]);
        let a = ring.seal("ann", "openai", "sk-secret-value").unwrap();
        let b = ring.seal("ann", "openai", "sk-secret-value").unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        let stored = serde_json::to_string(&a).unwrap();
        assert!(!stored.contains("sk-secret-value"), "{stored}");
        let bytes = STANDARD.decode(&a.ciphertext).unwrap();
        assert!(!bytes.windows(6).any(|w| w == b"secret"));
    }

    #[test]
    fn a_tampered_ciphertext_or_nonce_does_not_open() {
        let ring = keyring(1, &[]);
        let sealed = ring.seal("ann", "openai", "sk-secret-value").unwrap();
        let mut bytes = STANDARD.decode(&sealed.ciphertext).unwrap();
        bytes[0] ^= 1;
        let tampered = Sealed {
            ciphertext: STANDARD.encode(&bytes),
            ..sealed.clone()
        };
        assert!(matches!(
            ring.open("ann", "openai", &tampered),
            Err(SealError::Rejected { .. })
        ));
        let mut nonce = STANDARD.decode(&sealed.nonce).unwrap();
        nonce[23] ^= 1;
        let tampered = Sealed {
            nonce: STANDARD.encode(&nonce),
            ..sealed.clone()
        };
        assert!(ring.open("ann", "openai", &tampered).is_err());
        let short = Sealed {
            nonce: STANDARD.encode([0_u8; 12]),
            ..sealed
        };
        assert!(matches!(
            ring.open("ann", "openai", &short),
            Err(SealError::Malformed { .. })
        ));
    }

    #[test]
    fn an_unknown_key_id_fails_with_a_clear_error_that_names_no_key() {
        let old = keyring(1, &[]);
        let sealed = old.seal("ann", "openai", "sk-secret-value").unwrap();
        let new = keyring(2, &[]);
        let err = new.open("ann", "openai", &sealed).unwrap_err();
        assert_eq!(
            err,
            SealError::UnknownKey {
                user_id: "ann".into(),
                provider: "openai".into(),
                key_id: sealed.key_id.clone(),
            }
        );
        let message = err.to_string();
        assert!(message.contains(&sealed.key_id), "{message}");
        assert!(message.contains("EASEL_OLD_SECRET_KEYS"), "{message}");
        assert!(!message.contains("sk-secret"), "{message}");
    }

    #[test]
    fn older_keys_open_what_they_sealed_and_new_values_use_the_current_key() {
        let old = keyring(1, &[]);
        let sealed = old.seal("ann", "openai", "sk-old").unwrap();
        let rotated = keyring(2, &[1]);
        assert_eq!(rotated.open("ann", "openai", &sealed).unwrap(), "sk-old");
        let resealed = rotated.seal("ann", "openai", "sk-old").unwrap();
        assert_eq!(resealed.key_id, rotated.current_key_id());
        assert_ne!(resealed.key_id, sealed.key_id);
        assert_eq!(rotated.key_ids(), vec![resealed.key_id, sealed.key_id]);
    }

    #[test]
    fn key_ids_are_short_hex_and_differ_per_secret() {
        let a = keyring(1, &[]).current_key_id();
        let b = keyring(2, &[]).current_key_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 8);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()), "{a}");
    }

    #[test]
    fn a_keyring_rereads_the_secret_file_when_it_meets_a_new_key_id() {
        let dir = tempfile::tempdir().unwrap();
        let before = ServerSecrets::load(None, &[], dir.path()).unwrap();
        let running = Keyring::new(before.clone()).unwrap();
        let rotated = Keyring::new(before.rotate_file().unwrap()).unwrap();
        let sealed = rotated.seal("ann", "openai", "sk-new").unwrap();
        assert_eq!(running.open("ann", "openai", &sealed).unwrap(), "sk-new");
        assert_eq!(running.key_ids(), rotated.key_ids());
    }

    #[test]
    fn debug_output_shows_key_ids_only() {
        let ring = keyring(3, &[]);
        let shown = format!("{ring:?}");
        assert!(shown.contains(&ring.current_key_id()), "{shown}");
        assert!(!shown.contains(&encoded(3)), "{shown}");
    }
}
