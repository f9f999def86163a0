//! Streaming bytes into the store with an exact size, never holding more than a few parts in
//! memory.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

/// Size of the parts sent to the store; S3 takes at least 5 MiB per part but the last.
const PART_BYTES: usize = 5 * 1024 * 1024;
/// Parts in flight at once; with [`PART_BYTES`] this bounds the memory of one upload.
const PARTS_IN_FLIGHT: usize = 2;

/// Why a stream did not become an object.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("the body is longer than the {expected} bytes granted")]
    TooLong { expected: u64 },
    #[error("the body has {got} bytes, but {expected} were granted")]
    TooShort { got: u64, expected: u64 },
    #[error("the body could not be read: {0}")]
    Body(String),
    #[error("the store refused the object")]
    Store(#[source] object_store::Error),
}

/// Streams `body` to `key`, which must be exactly `expected` bytes: a longer body is cut off
/// at the first byte too many, a shorter one refused at its end; either way nothing is stored.
pub async fn write_exact<S, E>(
    store: &dyn ObjectStore,
    key: &Path,
    body: S,
    expected: u64,
) -> Result<u64, StreamError>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let upload = store.put_multipart(key).await.map_err(StreamError::Store)?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
    let mut written: u64 = 0;
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(err) => {
                writer.abort().await.ok();
                return Err(StreamError::Body(err.to_string()));
            }
        };
        written += chunk.len() as u64;
        if written > expected {
            writer.abort().await.ok();
            return Err(StreamError::TooLong { expected });
        }
        if let Err(err) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
            return Err(StreamError::Store(err));
        }
        writer.put(chunk);
    }
    if written != expected {
        writer.abort().await.ok();
        return Err(StreamError::TooShort {
            got: written,
            expected,
        });
    }
    writer.finish().await.map_err(StreamError::Store)?;
    Ok(written)
}
