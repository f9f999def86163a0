//! Importing a canvas app's settings: theme and preferences through the settings module, and
//! plaintext API keys only when asked, sealed like every key.

use sea_orm::DatabaseConnection;
use serde_json::Value;

use super::parse::FoundSettings;
use super::{ImportOptions, ImportStatus, OnConflict, reason_of};
use crate::auth::Actor;
use crate::canvas::Patch;
use crate::settings::{self, Keyring, SettingsUpdate};

/// What became of the settings of the input.
#[derive(Debug, Clone)]
pub struct SettingsImport {
    /// Where they are in the input (`spaces-settings-storage`).
    pub source: String,
    /// Whether the theme and preferences were imported.
    pub status: ImportStatus,
    pub reason: Option<String>,
    /// The theme imported, if any.
    pub theme: Option<String>,
    /// The preference keys imported (merged into yours).
    pub preferences: Vec<String>,
    pub api_keys: Vec<ApiKeyImport>,
    /// Parts not imported, each with why.
    pub dropped: Vec<String>,
}

/// What became of one API key of the input; the key itself is never in a report.
#[derive(Debug, Clone)]
pub struct ApiKeyImport {
    /// Easel's name of the provider (`fal`, `openai`).
    pub provider: String,
    pub status: ImportStatus,
    pub reason: Option<String>,
}

/// Imports theme and preferences (when you have none yet, or with OVERWRITE) and, when asked,
/// the API keys (a key you already have for a provider is kept unless OVERWRITE).
pub async fn import(
    db: &DatabaseConnection,
    keyring: &Keyring,
    actor: &Actor,
    found: FoundSettings,
    options: ImportOptions,
) -> SettingsImport {
    let overwrite = options.on_conflict == OnConflict::Overwrite;
    let mut report = SettingsImport {
        source: found.source,
        status: ImportStatus::Skipped,
        reason: None,
        theme: None,
        preferences: Vec::new(),
        api_keys: Vec::new(),
        dropped: found.dropped,
    };
    let current = match settings::settings(db, actor).await {
        Ok(current) => current,
        Err(err) => {
            report.status = ImportStatus::Failed;
            report.reason = Some(reason_of(&err));
            return report;
        }
    };

    if found.theme.is_none() && found.preferences.is_empty() {
        report.reason = Some("no theme or preferences in the input".to_owned());
    } else if current.updated_at.is_some() && !overwrite {
        report.reason =
            Some("you already have settings (import with OVERWRITE to replace them)".to_owned());
    } else {
        let update = SettingsUpdate {
            theme: found.theme.clone(),
            default_model: Patch::Keep,
            preferences: (!found.preferences.is_empty())
                .then(|| Value::Object(found.preferences.clone())),
        };
        match settings::update_settings(db, actor, update).await {
            Ok(_) => {
                report.status = ImportStatus::Imported;
                report.theme = found.theme;
                report.preferences = found.preferences.keys().cloned().collect();
                report.preferences.sort();
            }
            Err(err) => {
                report.status = ImportStatus::Failed;
                report.reason = Some(reason_of(&err));
            }
        }
    }

    for (provider, key) in found.api_keys {
        let (status, reason) = if !options.import_api_keys {
            (
                ImportStatus::Skipped,
                Some(
                    "API keys are imported only when asked (importApiKeys: true, or \
                     --import-api-keys)"
                        .to_owned(),
                ),
            )
        } else if !overwrite && current.api_keys.iter().any(|k| k.provider == provider) {
            (
                ImportStatus::Skipped,
                Some(format!(
                    "you already have a key for '{provider}' (import with OVERWRITE to replace it)"
                )),
            )
        } else {
            match settings::set_api_key(db, keyring, actor, &provider, &key.0).await {
                Ok(_) => (ImportStatus::Imported, None),
                Err(err) => (ImportStatus::Failed, Some(reason_of(&err))),
            }
        };
        report.api_keys.push(ApiKeyImport {
            provider,
            status,
            reason,
        });
    }
    report
}
