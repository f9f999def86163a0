//! Signed grants for the stores that cannot presign (local folder, memory): a token names one
//! object key, one content type, one size and an expiry, and is signed with HMAC-SHA256 under a
//! key derived from the server secret. Whoever holds it may do exactly that, until it expires.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::secret::ServerSecret;

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    #[serde(rename = "up")]
    Upload,
    #[serde(rename = "down")]
    Download,
}

/// The content of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    #[serde(rename = "a")]
    pub action: Action,
    /// The asset the grant is for.
    #[serde(rename = "i")]
    pub asset_id: String,
    /// The asset's owner.
    #[serde(rename = "o")]
    pub owner_id: String,
    /// The object key, as stored in the asset row.
    #[serde(rename = "k")]
    pub key: String,
    #[serde(rename = "t")]
    pub content_type: String,
    /// Exact size for an upload; the object's size for a download.
    #[serde(rename = "n")]
    pub size: u64,
    /// Shown to the browser in `Content-Disposition` on download.
    #[serde(rename = "f", default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Expiry, in seconds since the Unix epoch.
    #[serde(rename = "e")]
    pub expires_at: i64,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not for this action")]
    WrongAction,
}

/// Signs and verifies grants.
#[derive(Clone)]
pub struct TokenSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(..)")
    }
}

impl TokenSigner {
    pub fn new(secret: &ServerSecret) -> Self {
        TokenSigner {
            key: secret.derive("easel asset grant v1"),
        }
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(payload.as_bytes());
        mac
    }

    /// `payload.signature`, both base64url.
    pub fn sign(&self, grant: &Grant) -> String {
        let json = serde_json::to_vec(grant).expect("a grant serializes");
        let payload = URL_SAFE_NO_PAD.encode(json);
        let signature = URL_SAFE_NO_PAD.encode(self.mac(&payload).finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// The grant a token carries, if its signature verifies, it is for `action` and it has not
    /// expired at `now` (seconds since the epoch).
    pub fn verify(&self, token: &str, action: Action, now: i64) -> Result<Grant, TokenError> {
        let (payload, signature) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        self.mac(payload)
            .verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let grant: Grant = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        if grant.action != action {
            return Err(TokenError::WrongAction);
        }
        if now >= grant.expires_at {
            return Err(TokenError::Expired);
        }
        Ok(grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(byte: u8) -> TokenSigner {
        use base64::engine::general_purpose::STANDARD;
        TokenSigner::new(&ServerSecret::decode(&STANDARD.encode([byte; 32])).unwrap())
    }

    fn grant() -> Grant {
        Grant {
            action: Action::Upload,
            asset_id: "a1".into(),
            owner_id: "local".into(),
            key: "local/c/a1".into(),
            content_type: "image/png".into(),
            size: 42,
            filename: Some("cat.png".into()),
            expires_at: 1_000,
        }
    }

    #[test]
    fn a_signed_grant_verifies_until_it_expires() {
        let token = signer(1).sign(&grant());
        assert_eq!(signer(1).verify(&token, Action::Upload, 999), Ok(grant()));
        assert_eq!(
            signer(1).verify(&token, Action::Upload, 1_000),
            Err(TokenError::Expired)
        );
        assert_eq!(
            signer(1).verify(&token, Action::Download, 10),
            Err(TokenError::WrongAction)
        );
    }

    #[test]
    fn tampered_or_foreign_tokens_are_refused() {
        let token = signer(1).sign(&grant());
        assert_eq!(
            signer(2).verify(&token, Action::Upload, 0),
            Err(TokenError::BadSignature)
        );
        let mut bigger = grant();
        bigger.size = 1 << 40;
        let forged_payload = signer(2).sign(&bigger);
        let (payload, _) = forged_payload.split_once('.').unwrap();
        let (_, signature) = token.split_once('.').unwrap();
        assert_eq!(
            signer(1).verify(&format!("{payload}.{signature}"), Action::Upload, 0),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            signer(1).verify("garbage", Action::Upload, 0),
            Err(TokenError::Malformed)
        );
    }
}
