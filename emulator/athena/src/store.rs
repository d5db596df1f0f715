//! The emulator's S3 as an `object_store::ObjectStore`, so DataFusion reads objects straight
//! from the in-memory state (no HTTP loop). One store serves every bucket: paths are
//! `<bucket>/<key>`, registered under [`STORE_URL`]. Each query gets its own instance, whose
//! counter of bytes handed out is the query's DataScannedInBytes.

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use emulator_s3::S3Emulator;
use futures::stream::{self, BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// The URL DataFusion resolves every table path against.
pub const STORE_URL: &str = "s3emulator://s3/";

const STORE: &str = "EmulatorS3";

/// Read access to the emulator's buckets, counting the bytes a query reads.
#[derive(Clone)]
pub struct S3Store {
    s3: S3Emulator,
    bytes_read: Arc<AtomicU64>,
}

impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("S3Store")
    }
}

impl fmt::Display for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("emulator S3")
    }
}

/// `s3://bucket/prefix` -> `(bucket, prefix)`; `None` when it is not an `s3://` URL.
pub fn split_s3_url(url: &str) -> Option<(&str, &str)> {
    let rest = url
        .strip_prefix("s3://")
        .or_else(|| url.strip_prefix("s3a://"))
        .or_else(|| url.strip_prefix("s3n://"))?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then_some((bucket, key))
}

/// The object_store path of `bucket/key`.
pub fn object_path(bucket: &str, key: &str) -> Path {
    Path::from_iter(std::iter::once(bucket).chain(key.split('/')))
}

/// `(bucket, key)` of an object_store path made by [`object_path`].
fn bucket_and_key(location: &Path) -> (String, String) {
    let mut parts = location.parts().map(|p| percent_decode(p.as_ref()));
    let bucket = parts.next().unwrap_or_default();
    let key = parts.collect::<Vec<_>>().join("/");
    (bucket, key)
}

/// One part of an object_store path, decoded back to the S3 key segment.
pub fn decode_part(text: &str) -> String {
    percent_decode(text)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn not_found(location: &Path, what: String) -> object_store::Error {
    object_store::Error::NotFound {
        path: location.to_string(),
        source: what.into(),
    }
}

/// Reads `range` of an object's body (memory, or its file in data-dir mode / when spilled).
fn read_range(
    location: &Path,
    object: &emulator_s3::state::StoredObject,
    range: Range<u64>,
) -> object_store::Result<Bytes> {
    object
        .body
        .read_range(range)
        .map_err(|e| object_store::Error::Generic {
            store: STORE,
            source: format!("reading {location}: {e}").into(),
        })
}

fn read_only(operation: &str) -> object_store::Error {
    object_store::Error::NotSupported {
        source: format!(
            "{operation}: the query engine reads S3 through this store, it does not write"
        )
        .into(),
    }
}

impl S3Store {
    pub fn new(s3: S3Emulator) -> Self {
        S3Store {
            s3,
            bytes_read: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Bytes handed to the engine so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    fn object(
        &self,
        location: &Path,
    ) -> object_store::Result<Arc<emulator_s3::state::StoredObject>> {
        let (bucket, key) = bucket_and_key(location);
        match self.s3.object(&bucket, &key) {
            Ok(Some(object)) => Ok(object),
            Ok(None) => Err(not_found(
                location,
                format!("s3://{bucket}/{key}: NoSuchKey"),
            )),
            Err(e) => Err(not_found(location, format!("s3://{bucket}/{key}: {e}"))),
        }
    }

    fn meta(location: Path, object: &emulator_s3::state::StoredObject) -> ObjectMeta {
        ObjectMeta {
            location,
            last_modified: chrono::DateTime::<chrono::Utc>::from(object.last_modified),
            size: object.size(),
            e_tag: Some(object.etag.clone()),
            version: None,
        }
    }

    /// Every object under `prefix` (a path made by [`object_path`] or a bucket alone).
    fn list_vec(&self, prefix: Option<&Path>) -> object_store::Result<Vec<ObjectMeta>> {
        let Some(prefix) = prefix else {
            return Err(read_only("listing every bucket"));
        };
        let (bucket, key_prefix) = bucket_and_key(prefix);
        let key_prefix = if key_prefix.is_empty() {
            String::new()
        } else {
            format!("{key_prefix}/")
        };
        let objects = self
            .s3
            .objects_with_prefix(&bucket, &key_prefix)
            .map_err(|e| not_found(prefix, e.to_string()))?;
        Ok(objects
            .into_iter()
            .map(|(key, object)| Self::meta(object_path(&bucket, &key), &object))
            .collect())
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put_opts(
        &self,
        _location: &Path,
        _payload: PutPayload,
        _opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        Err(read_only("put"))
    }

    async fn put_multipart_opts(
        &self,
        _location: &Path,
        _opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Err(read_only("multipart put"))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let object = self.object(location)?;
        let meta = Self::meta(location.clone(), &object);
        options.check_preconditions(&meta)?;
        let size = object.size();
        let range = match &options.range {
            Some(range) => range
                .as_range(size)
                .map_err(|e| object_store::Error::Generic {
                    store: STORE,
                    source: Box::new(e),
                })?,
            None => 0..size,
        };
        let data = if options.head {
            Bytes::new()
        } else {
            read_range(location, &object, range.clone())?
        };
        self.bytes_read
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(GetResult {
            payload: GetResultPayload::Stream(stream::once(async move { Ok(data) }).boxed()),
            meta,
            range,
            attributes: Default::default(),
        })
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        let object = self.object(location)?;
        let size = object.size();
        ranges
            .iter()
            .map(|r| {
                let end = r.end.min(size);
                let start = r.start.min(end);
                self.bytes_read.fetch_add(end - start, Ordering::Relaxed);
                read_range(location, &object, start..end)
            })
            .collect()
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        locations.map(|_| Err(read_only("delete"))).boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        match self.list_vec(prefix) {
            Ok(items) => stream::iter(items.into_iter().map(Ok)).boxed(),
            Err(e) => stream::once(async move { Err(e) }).boxed(),
        }
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let depth = prefix.map_or(0, |p| p.parts().count());
        let mut result = ListResult {
            common_prefixes: Vec::new(),
            objects: Vec::new(),
        };
        for meta in self.list_vec(prefix)? {
            let parts: Vec<_> = meta.location.parts().collect();
            if parts.len() == depth + 1 {
                result.objects.push(meta);
            } else if let Some(dir) = parts.get(..=depth) {
                let dir = Path::from_iter(dir.iter().cloned());
                if result.common_prefixes.last() != Some(&dir) {
                    result.common_prefixes.push(dir);
                }
            }
        }
        Ok(result)
    }

    async fn copy_opts(
        &self,
        _from: &Path,
        _to: &Path,
        _options: CopyOptions,
    ) -> object_store::Result<()> {
        Err(read_only("copy"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip_keys() {
        for key in ["t/year=2024/month=03/f.csv", "a b/c%41.csv", "x/y+z.csv"] {
            let path = object_path("bkt", key);
            assert_eq!(bucket_and_key(&path), ("bkt".to_owned(), key.to_owned()));
        }
        assert_eq!(split_s3_url("s3://b/p/q/"), Some(("b", "p/q/")));
        assert_eq!(split_s3_url("s3://b"), Some(("b", "")));
        assert_eq!(split_s3_url("file:///x"), None);
    }
}
