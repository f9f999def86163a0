//! `easel assets migrate --to STORE_URL`: every object under the asset prefix copied to another
//! store at the same key, streaming and several at a time. An object already there with the same
//! size is skipped, so a re-run after an interruption picks up where it stopped (a copy that was
//! cut off leaves nothing at its key: multipart writes appear only when finished).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};

use crate::assets::AssetStore;
use crate::assets::upload::write_exact;
use crate::config::{AssetConfig, StoreArgs, store_options_from_env};
use crate::progress::{Meter, throughput};

/// `easel assets migrate`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct MigrateArgs {
    /// The store to copy into: file://PATH, s3://BUCKET, gs://BUCKET, az://CONTAINER. Keys stay
    /// the same, so keep EASEL_ASSET_PREFIX as it is.
    #[arg(long)]
    pub to: String,
    /// A store option for the target only, `name=value` as object_store names it (e.g.
    /// `aws_endpoint=http://...`), over the AWS_*/GOOGLE_*/AZURE_* variables both stores read.
    #[arg(long = "to-option", value_parser = parse_option)]
    pub to_options: Vec<(String, String)>,
    /// Copies in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// After every object is copied, re-read each copy, compare its SHA-256 with the source's,
    /// and only when all match delete the source objects.
    #[arg(long)]
    pub delete_source: bool,
}

fn parse_option(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected name=value, got '{text}'"))?;
    Ok((key.trim().to_ascii_lowercase(), value.to_owned()))
}

/// Runs `easel assets migrate`.
pub async fn run(args: MigrateArgs, store: StoreArgs) -> anyhow::Result<()> {
    if args.concurrency == 0 {
        anyhow::bail!("--concurrency must be at least 1");
    }
    let prefix = store.asset_prefix.clone();
    let source = AssetStore::open(&store.into_asset_config())?;
    let mut options = store_options_from_env();
    options.extend(args.to_options.iter().cloned());
    let target = AssetStore::open(&AssetConfig {
        store_url: args.to.clone(),
        store_options: options,
        prefix,
        ..AssetConfig::default()
    })?;
    if source.url == target.url && source.kind() != crate::assets::StoreKind::Memory {
        anyhow::bail!(
            "--to is the store the assets are already in ({})",
            source.url
        );
    }

    let meter = Meter::new();
    let objects: Vec<ObjectMeta> = source
        .inner()
        .list(Some(source.prefix()))
        .try_filter(|meta| {
            // Bytes of an upload still in progress are not an asset yet.
            std::future::ready(!meta.location.as_ref().ends_with(".upload"))
        })
        .try_collect()
        .await
        .map_err(|e| anyhow::anyhow!("cannot list {}: {e}", source.url))?;
    let total_bytes: u64 = objects.iter().map(|o| o.size).sum();
    meter.phase("objects", objects.len() as u64);

    let copied = AtomicU64::new(0);
    let skipped = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let total = objects.len();
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(&objects)
        .map(|meta| async {
            let outcome = copy_one(source.inner(), target.inner(), meta).await;
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            match &outcome {
                Ok(Outcome::Copied) => {
                    copied.fetch_add(1, Ordering::Relaxed);
                    bytes.fetch_add(meta.size, Ordering::Relaxed);
                    meter.step(1, || {
                        format!("copied {n}/{total} {} ({} bytes)", meta.location, meta.size)
                    });
                }
                Ok(Outcome::AlreadyThere) => {
                    skipped.fetch_add(1, Ordering::Relaxed);
                    meter.step(1, || format!("already there {n}/{total} {}", meta.location));
                }
                Err(err) => meter.say(format!("failed {}: {err:#}", meta.location)),
            }
            outcome.map(|_| ())
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    meter.finish();
    let failed = results.iter().filter(|r| r.is_err()).count();
    let elapsed = meter.elapsed();
    let copied_bytes = bytes.load(Ordering::Relaxed);
    println!(
        "{} objects ({total_bytes} bytes): {} copied ({copied_bytes} bytes, {}), {} already \
         there, {failed} failed, in {:.1}s",
        objects.len(),
        copied.load(Ordering::Relaxed),
        throughput(copied_bytes, elapsed),
        skipped.load(Ordering::Relaxed),
        elapsed.as_secs_f64(),
    );
    if failed > 0 {
        anyhow::bail!("{failed} objects were not copied; run the same command again to resume");
    }

    if args.delete_source {
        let meter = Meter::new();
        meter.phase("verifying copies", objects.len() as u64);
        for meta in &objects {
            let (a, b) = futures::try_join!(
                sha256(source.inner(), &meta.location),
                sha256(target.inner(), &meta.location)
            )?;
            if a != b {
                meter.finish();
                anyhow::bail!(
                    "{}: the copy differs from the source; nothing was deleted",
                    meta.location
                );
            }
            meter.step(1, || format!("verified {}", meta.location));
        }
        meter.phase("deleting source objects", objects.len() as u64);
        for meta in &objects {
            source.delete(&meta.location).await?;
            meter.step(1, || format!("deleted {}", meta.location));
        }
        meter.finish();
        println!("every copy matched its source by SHA-256; {total} source objects deleted");
    }
    println!("now set EASEL_ASSET_STORE={}", target.url);
    Ok(())
}

enum Outcome {
    Copied,
    AlreadyThere,
}

/// Copies one object unless the target has one of the same size at its key; checks the size
/// of the copy.
async fn copy_one(
    source: &Arc<dyn ObjectStore>,
    target: &Arc<dyn ObjectStore>,
    meta: &ObjectMeta,
) -> anyhow::Result<Outcome> {
    match target.head(&meta.location).await {
        Ok(there) if there.size == meta.size => return Ok(Outcome::AlreadyThere),
        Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
        Err(err) => return Err(err.into()),
    }
    let body = source.get(&meta.location).await?.into_stream();
    write_exact(target.as_ref(), &meta.location, body, meta.size).await?;
    let copy = target.head(&meta.location).await?;
    if copy.size != meta.size {
        anyhow::bail!("the copy has {} bytes, the source {}", copy.size, meta.size);
    }
    Ok(Outcome::Copied)
}

async fn sha256(store: &Arc<dyn ObjectStore>, key: &Path) -> anyhow::Result<Vec<u8>> {
    let mut stream = store.get(key).await?.into_stream();
    let mut hash = Sha256::new();
    while let Some(chunk) = stream.next().await {
        hash.update(chunk?);
    }
    Ok(hash.finalize().to_vec())
}
