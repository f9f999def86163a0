//! Verifying the JWTs of hosted mode. The accepted algorithms are fixed by the configured key,
//! never by the token's header: an HMAC secret takes HS256/384/512, an RSA key RS*/PS*, an EC
//! key ES256/384, an Ed25519 key EdDSA, and a JWKS each key's own.

use std::path::Path;

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// Where the verifying key comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// An HMAC secret (`EASEL_JWT_SECRET`).
    Secret(String),
    /// A PEM public key file: RSA, EC or Ed25519 (`EASEL_JWT_PUBLIC_KEY_FILE`).
    PublicKeyFile(std::path::PathBuf),
    /// A JWKS document; the token's `kid` picks the key (`EASEL_JWT_JWKS_FILE`).
    JwksFile(std::path::PathBuf),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Secret(_) => f.write_str("Secret(..)"),
            KeySource::PublicKeyFile(path) => f.debug_tuple("PublicKeyFile").field(path).finish(),
            KeySource::JwksFile(path) => f.debug_tuple("JwksFile").field(path).finish(),
        }
    }
}

/// How tokens are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    pub key: KeySource,
    /// Required `iss`, when set.
    pub issuer: Option<String>,
    /// Required `aud`, when set.
    pub audience: Option<String>,
    /// Seconds of clock difference forgiven on `exp` and `nbf`.
    pub leeway_secs: u64,
}

/// What Easel reads from a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// A verifying key and the algorithms it accepts.
struct Key {
    kid: Option<String>,
    key: DecodingKey,
    algorithms: Vec<Algorithm>,
}

/// Verifies tokens against the configured key or keys.
pub struct Verifier {
    keys: Vec<Key>,
    /// Keys come from a JWKS: a token must name one by `kid`.
    by_kid: bool,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: u64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &self.keys.len())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

/// Why a token was refused; the client sees only that it is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejected {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token names no key this server knows")]
    UnknownKey,
    #[error("the token's algorithm is not the key's")]
    WrongAlgorithm,
    #[error("the token does not verify: {0}")]
    Invalid(String),
}

fn invalid(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        message: message.into(),
    }
}

fn read(setting: &'static str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path)
        .map_err(|e| invalid(setting, format!("cannot read {}: {e}", path.display())))
}

/// A PEM public key and the family its type allows.
fn pem_key(pem: &[u8]) -> Result<(DecodingKey, AlgorithmFamily), ConfigError> {
    let setting = "EASEL_JWT_PUBLIC_KEY_FILE";
    let text = String::from_utf8_lossy(pem);
    if text.contains("PRIVATE KEY") {
        return Err(invalid(
            setting,
            "holds a private key; give the public key only",
        ));
    }
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        return Ok((key, AlgorithmFamily::Rsa));
    }
    if let Ok(key) = DecodingKey::from_ec_pem(pem) {
        return Ok((key, AlgorithmFamily::Ec));
    }
    if let Ok(key) = DecodingKey::from_ed_pem(pem) {
        return Ok((key, AlgorithmFamily::Ed));
    }
    Err(invalid(
        setting,
        "is not an RSA, EC or Ed25519 public key in PEM",
    ))
}

/// The algorithms a JWK accepts: the one it names, or its key type's family.
fn jwk_algorithms(jwk: &jsonwebtoken::jwk::Jwk) -> Vec<Algorithm> {
    let named = jwk.common.key_algorithm.and_then(|alg| match alg {
        KeyAlgorithm::HS256 => Some(Algorithm::HS256),
        KeyAlgorithm::HS384 => Some(Algorithm::HS384),
        KeyAlgorithm::HS512 => Some(Algorithm::HS512),
        KeyAlgorithm::ES256 => Some(Algorithm::ES256),
        KeyAlgorithm::ES384 => Some(Algorithm::ES384),
        KeyAlgorithm::RS256 => Some(Algorithm::RS256),
        KeyAlgorithm::RS384 => Some(Algorithm::RS384),
        KeyAlgorithm::RS512 => Some(Algorithm::RS512),
        KeyAlgorithm::PS256 => Some(Algorithm::PS256),
        KeyAlgorithm::PS384 => Some(Algorithm::PS384),
        KeyAlgorithm::PS512 => Some(Algorithm::PS512),
        KeyAlgorithm::EdDSA => Some(Algorithm::EdDSA),
        _ => None,
    });
    if let Some(alg) = named {
        return vec![alg];
    }
    let family = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa,
        AlgorithmParameters::EllipticCurve(_) => AlgorithmFamily::Ec,
        AlgorithmParameters::OctetKeyPair(_) => AlgorithmFamily::Ed,
        AlgorithmParameters::OctetKey(_) => AlgorithmFamily::Hmac,
        _ => return Vec::new(),
    };
    family.algorithms().to_vec()
}

impl Verifier {
    /// Loads the key or keys; a key that cannot be used stops the start, naming its setting.
    pub fn new(config: &JwtConfig) -> Result<Self, ConfigError> {
        let (keys, by_kid) = match &config.key {
            KeySource::Secret(secret) => {
                if secret.len() < 32 {
                    return Err(invalid(
                        "EASEL_JWT_SECRET",
                        "must be at least 32 bytes (HS256 needs a 256-bit secret)",
                    ));
                }
                let key = Key {
                    kid: None,
                    key: DecodingKey::from_secret(secret.as_bytes()),
                    algorithms: AlgorithmFamily::Hmac.algorithms().to_vec(),
                };
                (vec![key], false)
            }
            KeySource::PublicKeyFile(path) => {
                let (key, family) = pem_key(&read("EASEL_JWT_PUBLIC_KEY_FILE", path)?)?;
                let key = Key {
                    kid: None,
                    key,
                    algorithms: family.algorithms().to_vec(),
                };
                (vec![key], false)
            }
            KeySource::JwksFile(path) => {
                let setting = "EASEL_JWT_JWKS_FILE";
                let set: JwkSet = serde_json::from_slice(&read(setting, path)?)
                    .map_err(|e| invalid(setting, format!("is not a JWKS document: {e}")))?;
                let mut keys = Vec::new();
                for jwk in &set.keys {
                    let Some(kid) = jwk.common.key_id.clone() else {
                        return Err(invalid(setting, "every key needs a \"kid\""));
                    };
                    let key = DecodingKey::from_jwk(jwk)
                        .map_err(|e| invalid(setting, format!("key '{kid}': {e}")))?;
                    keys.push(Key {
                        kid: Some(kid),
                        key,
                        algorithms: jwk_algorithms(jwk),
                    });
                }
                if keys.is_empty() {
                    return Err(invalid(setting, "holds no keys"));
                }
                (keys, true)
            }
        };
        Ok(Verifier {
            keys,
            by_kid,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway: config.leeway_secs,
        })
    }

    /// The claims of a valid token: signature by a configured key with that key's algorithm,
    /// `exp` in the future and `nbf` in the past (within the leeway), `sub` present, and `iss`
    /// and `aud` as configured.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenRejected> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRejected::Malformed)?;
        let key = if self.by_kid {
            let kid = header.kid.as_deref().ok_or(TokenRejected::UnknownKey)?;
            self.keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .ok_or(TokenRejected::UnknownKey)?
        } else {
            &self.keys[0]
        };
        if !key.algorithms.contains(&header.alg) {
            return Err(TokenRejected::WrongAlgorithm);
        }
        let mut validation = Validation::new(header.alg);
        validation.algorithms = key.algorithms.clone();
        validation.leeway = self.leeway;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match &self.issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => validation.iss = None,
        }
        match &self.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &key.key, &validation)
            .map_err(|e| TokenRejected::Invalid(e.to_string()))?;
        let claims: Claims = serde_json::from_value(data.claims)
            .map_err(|e| TokenRejected::Invalid(format!("claims: {e}")))?;
        if claims.sub.trim().is_empty() {
            return Err(TokenRejected::Invalid("empty sub".into()));
        }
        Ok(claims)
    }
}

/// Mints an HS256 token with `secret`, for development (`easel token`).
pub fn mint_hs256(secret: &str, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn claims(exp_in: i64) -> Claims {
        Claims {
            sub: "user-1".into(),
            email: Some("a@example.com".into()),
            name: None,
            picture: None,
            exp: (jsonwebtoken::get_current_timestamp() as i64 + exp_in) as u64,
            nbf: None,
            iss: None,
            aud: None,
        }
    }

    fn verifier() -> Verifier {
        Verifier::new(&JwtConfig {
            key: KeySource::Secret(SECRET.into()),
            issuer: None,
            audience: None,
            leeway_secs: 0,
        })
        .unwrap()
    }

    #[test]
    fn a_minted_token_verifies_and_an_expired_one_does_not() {
        let token = mint_hs256(SECRET, &claims(60)).unwrap();
        assert_eq!(verifier().verify(&token).unwrap().sub, "user-1");
        let old = mint_hs256(SECRET, &claims(-60)).unwrap();
        assert!(matches!(
            verifier().verify(&old),
            Err(TokenRejected::Invalid(_))
        ));
    }

    #[test]
    fn short_secrets_are_refused_at_start() {
        let err = Verifier::new(&JwtConfig {
            key: KeySource::Secret("short".into()),
            issuer: None,
            audience: None,
            leeway_secs: 0,
        })
        .unwrap_err();
        assert_eq!(err.setting, "EASEL_JWT_SECRET");
    }
}
