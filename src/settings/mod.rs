//! User settings and their sealed provider API keys: defaults until the first write, a JSON
//! merge patch (RFC 7396) for preferences, and keys that only their owner reads back. Each write
//! is one transaction on the user's one `user_settings` row, made by the first write.

pub mod seal;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use entity::user_settings;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend,
    DatabaseConnection, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::{Actor, ensure_user};
use crate::canvas::Patch;
use crate::db::begin_write;
use crate::error::{Error, Result};
use crate::time::now;

pub use seal::{Keyring, SealError, Sealed};

/// The theme before the user picks one.
pub const DEFAULT_THEME: &str = "dark";
/// Longest theme name, in characters.
pub const MAX_THEME_CHARS: usize = 64;
/// Longest default model name, in characters.
pub const MAX_MODEL_CHARS: usize = 128;
/// Largest preferences object, as JSON, after a merge.
pub const MAX_PREFERENCES_BYTES: usize = 64 * 1024;
/// Longest provider name, in characters.
pub const MAX_PROVIDER_CHARS: usize = 64;
/// Longest API key, in characters.
pub const MAX_KEY_CHARS: usize = 4096;

/// A user's settings, with defaults for what they never set.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub theme: String,
    pub default_model: Option<String>,
    /// Always a JSON object.
    pub preferences: Value,
    /// By provider name.
    pub api_keys: Vec<ApiKeyInfo>,
    /// The last write; `None` before the first.
    pub updated_at: Option<DateTime<Utc>>,
}

/// What may be shown of a stored API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyInfo {
    pub provider: String,
    /// The end of the key, to tell keys apart: see [`last4`].
    pub last4: String,
    pub updated_at: DateTime<Utc>,
}

/// Changes to settings; what is left out stays.
#[derive(Debug, Clone, Default)]
pub struct SettingsUpdate {
    pub theme: Option<String>,
    pub default_model: Patch<String>,
    /// A JSON merge patch (RFC 7396) for the stored preferences; must be an object.
    pub preferences: Option<Value>,
}

/// One provider's key as the `api_keys_encrypted` column holds it: sealed, with the part that
/// may be shown beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredKey {
    #[serde(flatten)]
    sealed: Sealed,
    last4: String,
    updated_at: DateTime<Utc>,
}

type StoredKeys = BTreeMap<String, StoredKey>;

/// A provider name: 1 to 64 characters of `a-z`, `0-9`, `_`, `.` and `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider(String);

impl Provider {
    /// Checks a provider name; a `BAD_USER_INPUT` about `field` when it is not one.
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        if text.is_empty() || text.chars().count() > MAX_PROVIDER_CHARS {
            return Err(Error::bad_input(
                field,
                format!("must be 1 to {MAX_PROVIDER_CHARS} characters"),
            ));
        }
        if !text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'))
        {
            return Err(Error::bad_input(
                field,
                "may hold only a-z, 0-9, '_', '.' and '-' (for example \"openai\" or \"fal\")",
            ));
        }
        Ok(Provider(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The end of a key that may be shown: its last four characters, but never more than a quarter
/// of it, so a short key is not given away.
pub fn last4(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let shown = 4.min(chars.len() / 4);
    chars[chars.len() - shown..].iter().collect()
}

fn check_key(key: &str) -> Result<()> {
    let chars = key.chars().count();
    if chars == 0 || chars > MAX_KEY_CHARS {
        return Err(Error::bad_input(
            "key",
            format!("must be 1 to {MAX_KEY_CHARS} characters"),
        ));
    }
    if key.trim() != key {
        return Err(Error::bad_input(
            "key",
            "must not begin or end with white space (was it pasted with a line break?)",
        ));
    }
    Ok(())
}

fn check_update(update: &SettingsUpdate) -> Result<()> {
    if let Some(theme) = &update.theme {
        if theme.trim().is_empty() {
            return Err(Error::bad_input("input.theme", "must not be blank"));
        }
        if theme.chars().count() > MAX_THEME_CHARS {
            return Err(Error::bad_input(
                "input.theme",
                format!("must be at most {MAX_THEME_CHARS} characters"),
            ));
        }
    }
    if let Patch::Set(model) = &update.default_model {
        if model.is_empty() {
            return Err(Error::bad_input(
                "input.defaultModel",
                "must not be empty (send null to clear it)",
            ));
        }
        if model.chars().count() > MAX_MODEL_CHARS {
            return Err(Error::bad_input(
                "input.defaultModel",
                format!("must be at most {MAX_MODEL_CHARS} characters"),
            ));
        }
    }
    if let Some(patch) = &update.preferences
        && !patch.is_object()
    {
        return Err(Error::bad_input(
            "input.preferences",
            "must be a JSON object (a merge patch: keys set to null are removed)",
        ));
    }
    Ok(())
}

/// The actor's settings; defaults before their first write.
pub async fn settings(db: &impl ConnectionTrait, actor: &Actor) -> Result<Settings> {
    let user_id = actor.user_id()?;
    let row = user_settings::Entity::find_by_id(user_id.to_owned())
        .one(db)
        .await?;
    match row {
        Some(row) => from_row(&row),
        None => Ok(Settings {
            theme: DEFAULT_THEME.to_owned(),
            default_model: None,
            preferences: Value::Object(Default::default()),
            api_keys: Vec::new(),
            updated_at: None,
        }),
    }
}

/// Changes the actor's theme, default model and preferences (merged, RFC 7396).
pub async fn update_settings(
    db: &DatabaseConnection,
    actor: &Actor,
    update: SettingsUpdate,
) -> Result<Settings> {
    let user_id = actor.user_id()?;
    check_update(&update)?;
    let txn = begin_write(db).await?;
    let row = lock_or_create(&txn, user_id).await?;
    let mut preferences = row
        .preferences
        .clone()
        .filter(Value::is_object)
        .unwrap_or_else(|| Value::Object(Default::default()));
    if let Some(patch) = &update.preferences {
        json_patch::merge(&mut preferences, patch);
        let size = serde_json::to_vec(&preferences)
            .map_err(Error::internal)?
            .len();
        if size > MAX_PREFERENCES_BYTES {
            return Err(Error::PayloadTooLarge {
                what: format!("input.preferences (merged with the stored ones: {size} bytes)"),
                limit: MAX_PREFERENCES_BYTES,
            });
        }
    }
    let mut active = row.clone().into_active_model();
    if let Some(theme) = update.theme {
        active.theme = Set(theme);
    }
    active.default_model = Set(update.default_model.apply(row.default_model.clone()));
    active.preferences = Set(Some(preferences));
    active.updated_at = Set(now());
    let row = active.update(&txn).await?;
    txn.commit().await?;
    from_row(&row)
}

/// Seals and stores the actor's key for `provider`, replacing any earlier one.
pub async fn set_api_key(
    db: &DatabaseConnection,
    keyring: &Keyring,
    actor: &Actor,
    provider: &str,
    key: &str,
) -> Result<ApiKeyInfo> {
    let user_id = actor.user_id()?;
    let provider = Provider::parse("provider", provider)?;
    check_key(key)?;
    let sealed = keyring
        .seal(user_id, provider.as_str(), key)
        .map_err(Error::internal)?;
    let now = now();
    let stored = StoredKey {
        sealed,
        last4: last4(key),
        updated_at: now,
    };
    let info = ApiKeyInfo {
        provider: provider.as_str().to_owned(),
        last4: stored.last4.clone(),
        updated_at: now,
    };

    let txn = begin_write(db).await?;
    let row = lock_or_create(&txn, user_id).await?;
    let mut keys = stored_keys(&row)?;
    keys.insert(provider.0, stored);
    write_keys(&txn, row, &keys, Some(now)).await?;
    txn.commit().await?;
    Ok(info)
}

/// Removes the actor's key for `provider`; false when there was none.
pub async fn delete_api_key(
    db: &DatabaseConnection,
    actor: &Actor,
    provider: &str,
) -> Result<bool> {
    let user_id = actor.user_id()?;
    let provider = Provider::parse("provider", provider)?;
    let txn = begin_write(db).await?;
    let Some(row) = lock(&txn, user_id).await? else {
        return Ok(false);
    };
    let mut keys = stored_keys(&row)?;
    if keys.remove(provider.as_str()).is_none() {
        return Ok(false);
    }
    write_keys(&txn, row, &keys, Some(now())).await?;
    txn.commit().await?;
    Ok(true)
}

/// The actor's own key for `provider`, in plaintext; `None` when they stored none. A stored
/// value that does not open is an internal error: logged (without the key), never shown.
pub async fn api_key(
    db: &impl ConnectionTrait,
    keyring: &Keyring,
    actor: &Actor,
    provider: &str,
) -> Result<Option<String>> {
    let user_id = actor.user_id()?;
    let provider = Provider::parse("provider", provider)?;
    let Some(row) = user_settings::Entity::find_by_id(user_id.to_owned())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let keys = stored_keys(&row)?;
    let Some(stored) = keys.get(provider.as_str()) else {
        return Ok(None);
    };
    keyring
        .open(user_id, provider.as_str(), &stored.sealed)
        .map(Some)
        .map_err(Error::internal)
}

/// What re-sealing every stored key found and did.
#[derive(Debug, Default)]
pub struct ResealReport {
    /// Users with at least one stored key.
    pub users: usize,
    /// Keys moved to the current key, by the key id they had.
    pub resealed: BTreeMap<String, usize>,
    /// Keys already under the current key.
    pub current: usize,
    /// Keys that did not open, left as they were: why (never the key).
    pub failed: Vec<SealError>,
}

/// Re-seals every stored API key that an older key sealed under the keyring's current key, one
/// transaction per user. A key that does not open is reported and left as it was.
pub async fn reseal_all(db: &DatabaseConnection, keyring: &Keyring) -> Result<ResealReport> {
    let user_ids: Vec<String> = user_settings::Entity::find()
        .select_only()
        .column(user_settings::Column::UserId)
        .filter(user_settings::Column::ApiKeysEncrypted.is_not_null())
        .order_by_asc(user_settings::Column::UserId)
        .into_tuple()
        .all(db)
        .await?;
    let current = keyring.current_key_id();
    let mut report = ResealReport::default();
    for user_id in user_ids {
        let txn = begin_write(db).await?;
        let Some(row) = lock(&txn, &user_id).await? else {
            txn.commit().await?;
            continue;
        };
        let mut keys = stored_keys(&row)?;
        if !keys.is_empty() {
            report.users += 1;
        }
        let mut changed = false;
        for (provider, stored) in keys.iter_mut() {
            if stored.sealed.key_id == current {
                report.current += 1;
                continue;
            }
            let resealed = keyring
                .open(&user_id, provider, &stored.sealed)
                .and_then(|plaintext| keyring.seal(&user_id, provider, &plaintext));
            match resealed {
                Ok(sealed) => {
                    *report
                        .resealed
                        .entry(stored.sealed.key_id.clone())
                        .or_default() += 1;
                    stored.sealed = sealed;
                    changed = true;
                }
                Err(err) => report.failed.push(err),
            }
        }
        if changed {
            // Re-sealing is not a change the user made: `updatedAt` stays.
            write_keys(&txn, row, &keys, None).await?;
        }
        txn.commit().await?;
    }
    Ok(report)
}

/// The user's settings row, locked for this transaction (PostgreSQL; a SQLite write
/// transaction holds the database's write lock already).
async fn lock(txn: &DatabaseTransaction, user_id: &str) -> Result<Option<user_settings::Model>> {
    let mut query = user_settings::Entity::find_by_id(user_id.to_owned());
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    Ok(query.one(txn).await?)
}

/// Like [`lock`], making the user and a row of defaults first when missing; two first writes at
/// once both find the one row.
async fn lock_or_create(txn: &DatabaseTransaction, user_id: &str) -> Result<user_settings::Model> {
    ensure_user(txn, user_id).await?;
    let defaults = user_settings::ActiveModel {
        user_id: Set(user_id.to_owned()),
        theme: Set(DEFAULT_THEME.to_owned()),
        default_model: Set(None),
        api_keys_encrypted: Set(None),
        preferences: Set(None),
        updated_at: Set(now()),
    };
    user_settings::Entity::insert(defaults)
        .on_conflict(
            OnConflict::column(user_settings::Column::UserId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    lock(txn, user_id)
        .await?
        .ok_or_else(|| Error::not_found("settings", user_id))
}

async fn write_keys(
    txn: &DatabaseTransaction,
    row: user_settings::Model,
    keys: &StoredKeys,
    updated_at: Option<DateTime<Utc>>,
) -> Result<()> {
    let mut active = row.into_active_model();
    active.api_keys_encrypted = Set(if keys.is_empty() {
        None
    } else {
        Some(serde_json::to_value(keys).map_err(Error::internal)?)
    });
    if let Some(updated_at) = updated_at {
        active.updated_at = Set(updated_at);
    }
    active.update(txn).await?;
    Ok(())
}

fn stored_keys(row: &user_settings::Model) -> Result<StoredKeys> {
    match &row.api_keys_encrypted {
        None | Some(Value::Null) => Ok(StoredKeys::new()),
        Some(value) => serde_json::from_value(value.clone()).map_err(|err| {
            Error::internal(std::io::Error::other(format!(
                "the api_keys_encrypted column of user '{}' is not a map of sealed keys: {err}",
                row.user_id
            )))
        }),
    }
}

fn from_row(row: &user_settings::Model) -> Result<Settings> {
    let api_keys = stored_keys(row)?
        .into_iter()
        .map(|(provider, stored)| ApiKeyInfo {
            provider,
            last4: stored.last4,
            updated_at: stored.updated_at,
        })
        .collect();
    Ok(Settings {
        theme: row.theme.clone(),
        default_model: row.default_model.clone(),
        preferences: row
            .preferences
            .clone()
            .filter(Value::is_object)
            .unwrap_or_else(|| Value::Object(Default::default())),
        api_keys,
        updated_at: Some(row.updated_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_are_short_lowercase_words() {
        for ok in ["openai", "fal", "replicate", "google.vertex", "x_1-2"] {
            assert!(Provider::parse("provider", ok).is_ok(), "{ok}");
        }
        for bad in ["", "OpenAI", "open ai", "a/b", "ключ", &"a".repeat(65)] {
            let err = Provider::parse("provider", bad).unwrap_err();
            assert_eq!(err.code(), "BAD_USER_INPUT", "{bad}");
            assert!(matches!(err, Error::BadInput { ref field, .. } if field == "provider"));
        }
    }

    #[test]
    fn only_the_end_of_a_long_enough_key_is_shown() {
        assert_eq!(last4("sk-proj-abcdefghijklmnop"), "mnop");
        assert_eq!(last4("0123456789abcdef"), "cdef");
        assert_eq!(last4("01234567"), "67");
        assert_eq!(last4("abc"), "");
        assert_eq!(last4("ключ-ключ-ключ-ключ"), "ключ");
    }

    #[test]
    fn keys_must_be_present_short_enough_and_without_surrounding_space() {
        assert!(check_key("sk-1").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("sk-1\n").is_err());
        assert!(check_key(&"k".repeat(MAX_KEY_CHARS)).is_ok());
        assert!(check_key(&"k".repeat(MAX_KEY_CHARS + 1)).is_err());
    }

    #[test]
    fn bad_updates_name_their_field() {
        let field = |update: SettingsUpdate| match check_update(&update).unwrap_err() {
            Error::BadInput { field, .. } => field,
            other => panic!("{other:?}"),
        };
        let theme = |t: &str| SettingsUpdate {
            theme: Some(t.to_owned()),
            ..Default::default()
        };
        assert_eq!(field(theme(" ")), "input.theme");
        assert_eq!(field(theme(&"t".repeat(65))), "input.theme");
        assert!(check_update(&theme(&"t".repeat(64))).is_ok());
        let model = SettingsUpdate {
            default_model: Patch::Set("m".repeat(129)),
            ..Default::default()
        };
        assert_eq!(field(model), "input.defaultModel");
        let prefs = SettingsUpdate {
            preferences: Some(serde_json::json!([1])),
            ..Default::default()
        };
        assert_eq!(field(prefs), "input.preferences");
    }

    #[test]
    fn stored_keys_hold_the_sealed_value_the_end_and_the_time() {
        let stored = StoredKey {
            sealed: Sealed {
                key_id: "0a1b2c3d".into(),
                nonce: "bm9uY2U=".into(),
                ciphertext: "Y2lwaGVy".into(),
            },
            last4: "wxyz".into(),
            updated_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        };
        assert_eq!(
            serde_json::to_value(&stored).unwrap(),
            serde_json::json!({
                "keyId": "0a1b2c3d",
                "nonce": "bm9uY2U=",
                "ciphertext": "Y2lwaGVy",
                "last4": "wxyz",
                "updatedAt": "2023-11-14T22:13:20Z",
            })
        );
    }
}
