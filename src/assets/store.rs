//! The object store behind assets, chosen by URL with `object_store`'s own scheme parsing and
//! builders, and the keys of the objects in it.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::{Path, PathPart};
use object_store::signer::{SignedUrlOptions, Signer};
use object_store::{ObjectStore, ObjectStoreExt, ObjectStoreScheme};
use url::Url;

use crate::config::{AssetConfig, ConfigError};

/// Which kind of object store holds the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// A local folder.
    File,
    /// Memory of this process (gone at exit).
    Memory,
    /// S3 or an S3-compatible service (MinIO, R2, ...).
    S3,
    /// Google Cloud Storage.
    Gcs,
    /// Azure Blob Storage.
    Azure,
}

/// Where asset bytes live.
#[derive(Clone, Debug)]
pub struct AssetStore {
    store: Arc<dyn ObjectStore>,
    kind: StoreKind,
    /// The bucket (or Azure container) of a cloud store.
    bucket: Option<String>,
    /// Present for stores that presign URLs (S3, GCS, Azure); the others go through Easel.
    signer: Option<Arc<dyn Signer>>,
    prefix: Path,
    /// The configured URL, without credentials; for logs.
    pub url: String,
}

fn invalid(message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting: "EASEL_ASSET_STORE",
        message: message.into(),
    }
}

impl AssetStore {
    /// Opens the store `config` names. A local folder is created when missing.
    pub fn open(config: &AssetConfig) -> Result<Self, ConfigError> {
        let url_text = config.store_url.trim();
        let mut bucket = None;
        let mut kind = StoreKind::File;
        let (store, signer, url_path): (Arc<dyn ObjectStore>, Option<Arc<dyn Signer>>, Path) =
            if let Some(folder) = url_text.strip_prefix("file://") {
                // object_store takes absolute file URLs only; `file://./data/assets` is relative to
                // the working directory.
                let folder = std::path::Path::new(folder);
                std::fs::create_dir_all(folder).map_err(|e| {
                    invalid(format!(
                        "cannot create the folder {}: {e}",
                        folder.display()
                    ))
                })?;
                let store = LocalFileSystem::new_with_prefix(folder)
                    .map_err(|e| invalid(e.to_string()))?
                    .with_automatic_cleanup(true);
                (Arc::new(store), None, Path::default())
            } else {
                let url =
                    Url::parse(url_text).map_err(|e| invalid(format!("'{url_text}': {e}")))?;
                let (scheme, path) =
                    ObjectStoreScheme::parse(&url).map_err(|e| invalid(e.to_string()))?;
                let options = &config.store_options;
                match scheme {
                    ObjectStoreScheme::Memory => {
                        kind = StoreKind::Memory;
                        (Arc::new(InMemory::new()), None, path)
                    }
                    ObjectStoreScheme::AmazonS3 => {
                        let mut builder = AmazonS3Builder::new().with_url(url.as_str());
                        for (key, value) in options {
                            if let Ok(key) = AmazonS3ConfigKey::from_str(key) {
                                builder = builder.with_config(key, value);
                            }
                        }
                        kind = StoreKind::S3;
                        let s3 = Arc::new(builder.build().map_err(|e| invalid(e.to_string()))?);
                        bucket = bucket_of(&s3.to_string());
                        (s3.clone(), Some(s3), path)
                    }
                    ObjectStoreScheme::GoogleCloudStorage => {
                        let mut builder = GoogleCloudStorageBuilder::new().with_url(url.as_str());
                        for (key, value) in options {
                            if let Ok(key) = GoogleConfigKey::from_str(key) {
                                builder = builder.with_config(key, value);
                            }
                        }
                        kind = StoreKind::Gcs;
                        let gcs = Arc::new(builder.build().map_err(|e| invalid(e.to_string()))?);
                        bucket = bucket_of(&gcs.to_string());
                        (gcs.clone(), Some(gcs), path)
                    }
                    ObjectStoreScheme::MicrosoftAzure => {
                        let mut builder = MicrosoftAzureBuilder::new().with_url(url.as_str());
                        for (key, value) in options {
                            if let Ok(key) = AzureConfigKey::from_str(key) {
                                builder = builder.with_config(key, value);
                            }
                        }
                        kind = StoreKind::Azure;
                        let azure = Arc::new(builder.build().map_err(|e| invalid(e.to_string()))?);
                        bucket = bucket_of(&azure.to_string());
                        (azure.clone(), Some(azure), path)
                    }
                    other => {
                        return Err(invalid(format!(
                            "{other:?} stores are not supported; use file://, memory://, s3://, gs:// or az://"
                        )));
                    }
                }
            };
        let mut prefix: Vec<PathPart<'static>> = url_path
            .parts()
            .map(|p| PathPart::from(p.as_ref().to_owned()))
            .collect();
        if let Some(extra) = config.prefix.as_deref() {
            prefix.extend(
                extra
                    .split('/')
                    .filter(|p| !p.is_empty())
                    .map(|p| PathPart::from(p.to_owned())),
            );
        }
        Ok(AssetStore {
            store,
            kind,
            bucket,
            signer,
            prefix: Path::from_iter(prefix),
            url: redact_store_url(url_text),
        })
    }

    /// The object store itself.
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Which kind of store this is.
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// The bucket (or Azure container) of a cloud store; `None` for a folder or memory.
    pub fn bucket(&self) -> Option<&str> {
        self.bucket.as_deref()
    }

    /// Whether this store presigns URLs; otherwise uploads and downloads go through Easel.
    pub fn presigns(&self) -> bool {
        self.signer.is_some()
    }

    /// The folder every key lives under (empty without a prefix).
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// `{prefix}/{owner}/{canvas or _}/{asset id}`. Each part is escaped by `object_store`, so a
    /// `/` in an id cannot make another folder.
    pub fn key(&self, owner: &str, canvas: Option<&str>, asset_id: &str) -> Path {
        let parts = self.prefix.parts().chain([
            PathPart::from(owner.to_owned()),
            PathPart::from(canvas.unwrap_or("_").to_owned()),
            PathPart::from(asset_id.to_owned()),
        ]);
        Path::from_iter(parts)
    }

    /// Where the bytes of an upload wait until completion checks them; only then do they move
    /// to `key`, so that no one can replace a checked object with an old upload URL.
    pub fn staging_key(key: &str) -> Path {
        Path::from(format!("{key}.upload"))
    }

    /// A presigned URL, or `None` for stores that cannot presign. `content_type`, when given,
    /// is bound into the signature where the store supports it.
    pub async fn presign(
        &self,
        method: http::Method,
        key: &Path,
        expires_in: Duration,
        content_type: Option<&str>,
    ) -> Option<object_store::Result<Url>> {
        let signer = self.signer.as_ref()?;
        let Some(content_type) = content_type else {
            return Some(signer.signed_url(method, key, expires_in).await);
        };
        let Ok(value) = http::HeaderValue::from_str(content_type) else {
            return Some(signer.signed_url(method, key, expires_in).await);
        };
        let options =
            SignedUrlOptions::default().with_signed_header(http::header::CONTENT_TYPE, value);
        Some(
            match signer
                .signed_url_opts(method.clone(), key, expires_in, &options)
                .await
            {
                Err(object_store::Error::NotSupported { .. }) => {
                    signer.signed_url(method, key, expires_in).await
                }
                other => other,
            },
        )
    }

    /// Answers when the store answers; for `/readyz`.
    pub async fn check(&self) -> object_store::Result<()> {
        let probe = Path::from_iter(self.prefix.parts().chain([PathPart::from(".readyz")]));
        match self.store.head(&probe).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Deletes an object; one already gone counts as deleted.
    pub async fn delete(&self, key: &Path) -> object_store::Result<()> {
        match self.store.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }
}

/// The bucket (or container) a built cloud store names in its `Display`: `AmazonS3(bucket)`,
/// `GoogleCloudStorage(bucket)`, `MicrosoftAzure { account: .., container: name }`. The builders
/// read it from the URL only when they build, so the built store is where it is known.
fn bucket_of(display: &str) -> Option<String> {
    let name = if let Some((_, container)) = display.split_once("container: ") {
        container.trim_end_matches('}').trim()
    } else {
        let (_, inner) = display.split_once('(')?;
        inner.strip_suffix(')')?
    };
    (!name.is_empty()).then(|| name.to_owned())
}

/// A store URL without a password or query, for logs.
fn redact_store_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() || parsed.query().is_some() => {
            parsed.set_password(None).ok();
            parsed.set_query(None);
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory(prefix: Option<&str>) -> AssetStore {
        AssetStore::open(&AssetConfig {
            store_url: "memory://".into(),
            prefix: prefix.map(str::to_owned),
            ..AssetConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn keys_are_owner_canvas_and_asset_under_the_prefix() {
        assert_eq!(
            memory(None).key("u1", Some("c1"), "a1").as_ref(),
            "u1/c1/a1"
        );
        assert_eq!(
            memory(Some("easel/")).key("u1", None, "a1").as_ref(),
            "easel/u1/_/a1"
        );
    }

    #[test]
    fn user_text_cannot_make_folders_in_keys() {
        let key = memory(None).key("auth0|x/../y", Some("c/d"), "a1");
        assert_eq!(key.parts().count(), 3, "{key}");
    }

    #[test]
    fn cloud_stores_tell_their_kind_and_bucket() {
        let s3 = AssetStore::open(&AssetConfig {
            store_url: "s3://my-bucket".into(),
            store_options: vec![("aws_region".into(), "us-east-1".into())],
            ..AssetConfig::default()
        })
        .unwrap();
        assert_eq!((s3.kind(), s3.bucket()), (StoreKind::S3, Some("my-bucket")));
        let gcs = AssetStore::open(&AssetConfig {
            store_url: "gs://gcs-bucket/some/prefix".into(),
            ..AssetConfig::default()
        })
        .unwrap();
        assert_eq!(
            (gcs.kind(), gcs.bucket()),
            (StoreKind::Gcs, Some("gcs-bucket"))
        );
        let azure = AssetStore::open(&AssetConfig {
            store_url: "az://my-container".into(),
            store_options: vec![("azure_storage_account_name".into(), "acct".into())],
            ..AssetConfig::default()
        })
        .unwrap();
        assert_eq!(
            (azure.kind(), azure.bucket()),
            (StoreKind::Azure, Some("my-container"))
        );
        let memory = memory(None);
        assert_eq!((memory.kind(), memory.bucket()), (StoreKind::Memory, None));
    }

    #[test]
    fn unsupported_schemes_name_the_setting() {
        let err = AssetStore::open(&AssetConfig {
            store_url: "ftp://example.com/x".into(),
            ..AssetConfig::default()
        })
        .unwrap_err();
        assert_eq!(err.setting, "EASEL_ASSET_STORE");
    }
}
