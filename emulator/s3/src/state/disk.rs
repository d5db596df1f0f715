//! The S3 part of a `--data-dir` (layout version 1, see `emulator_storage::layout`):
//! `s3/buckets/<hex of name>.json` per bucket, `s3/objects/<id>.body` + `<id>.json` per object,
//! `s3/parts/` for multipart parts in progress.
//!
//! An object is written body first (fsynced by the body writer), then its metadata file
//! (temp, fsync, rename, directory fsync): the metadata file is the commit, so a crash leaves
//! either the old object or the new one. The object's `<id>` is random and names both files;
//! the key is data inside the JSON, never a path, so no key can reach outside the directory.
//! At start, a body without metadata (a crash before the commit) is removed; two metadata
//! files for one key (a crash between committing a replacement and retiring the old one)
//! resolve to the newer.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use emulator_storage::files;
use serde::{Deserialize, Serialize};

use super::body::{Bodies, Body, BodyFile};
use super::{ObjectHeaders, StoredChecksum, StoredObject};
use crate::notifications::QueueNotification;

/// A bucket as stored on disk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketRecord {
    pub name: String,
    pub created_ms: u64,
    pub notifications: Vec<QueueNotification>,
}

/// An object's metadata file.
#[derive(Debug, Serialize, Deserialize)]
struct ObjectRecord {
    bucket: String,
    key: String,
    size: u64,
    etag: String,
    /// Nanoseconds since the epoch; also decides between two records of one key.
    last_modified_ns: u64,
    headers: ObjectHeaders,
    metadata: HashMap<String, String>,
    checksum: Option<StoredChecksum>,
    parts_count: Option<usize>,
}

/// What the data dir held at start: buckets with their objects.
pub struct Loaded {
    pub bucket: BucketRecord,
    pub objects: BTreeMap<String, Arc<StoredObject>>,
}

/// The S3 directory of a data dir.
#[derive(Debug)]
pub struct Disk {
    buckets: PathBuf,
    objects: PathBuf,
    parts: PathBuf,
}

pub(crate) fn to_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

fn to_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}

impl Disk {
    /// Opens (creating) `dir`'s sub-directories; parts of uploads from a previous run are gone.
    pub fn open(dir: &Path) -> io::Result<Disk> {
        let disk = Disk {
            buckets: dir.join("buckets"),
            objects: dir.join("objects"),
            parts: dir.join("parts"),
        };
        for sub in [&disk.buckets, &disk.objects] {
            fs::create_dir_all(sub)?;
        }
        if disk.parts.exists() {
            fs::remove_dir_all(&disk.parts)?;
        }
        fs::create_dir_all(&disk.parts)?;
        Ok(disk)
    }

    pub fn bodies(&self) -> Bodies {
        Bodies::Disk {
            objects: self.objects.clone(),
            parts: self.parts.clone(),
        }
    }

    fn bucket_path(&self, name: &str) -> PathBuf {
        self.buckets.join(format!("{}.json", hex::encode(name)))
    }

    pub fn save_bucket(&self, record: &BucketRecord) -> io::Result<()> {
        let bytes = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
        files::write_atomic(&self.bucket_path(&record.name), &bytes)
    }

    pub fn remove_bucket(&self, name: &str) -> io::Result<()> {
        files::remove_durably(&self.bucket_path(name))
    }

    /// Commits `object` under `bucket`/`key`: its body file is kept from now on.
    pub fn save_object(&self, bucket: &str, key: &str, object: &StoredObject) -> io::Result<()> {
        let Body::File(file) = &object.body else {
            return Err(io::Error::other(
                "an object body in data-dir mode must be a file",
            ));
        };
        let record = ObjectRecord {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: object.size(),
            etag: object.etag.clone(),
            last_modified_ns: to_ns(object.last_modified),
            headers: object.headers.clone(),
            metadata: object.metadata.clone(),
            checksum: object.checksum.clone(),
            parts_count: object.parts_count,
        };
        let bytes = serde_json::to_vec(&record).map_err(io::Error::other)?;
        files::write_atomic(&meta_path(file), &bytes)?;
        file.keep();
        Ok(())
    }

    /// Retires a stored object: its metadata goes now, its body with the last reader.
    pub fn remove_object(&self, object: &StoredObject) -> io::Result<()> {
        if let Body::File(file) = &object.body {
            files::remove_durably(&meta_path(file))?;
            file.discard();
        }
        Ok(())
    }

    /// Reads every bucket and object; cleans up what a crash left half-written.
    pub fn load(&self) -> io::Result<Vec<Loaded>> {
        let mut loaded: BTreeMap<String, Loaded> = BTreeMap::new();
        for entry in fs::read_dir(&self.buckets)? {
            let path = entry?.path();
            if !is_json(&path) {
                let _ = fs::remove_file(&path);
                continue;
            }
            let bucket: BucketRecord = read_json(&path)?;
            loaded.insert(
                bucket.name.clone(),
                Loaded {
                    bucket,
                    objects: BTreeMap::new(),
                },
            );
        }
        let mut records = Vec::new();
        for entry in fs::read_dir(&self.objects)? {
            let path = entry?.path();
            if is_json(&path) {
                records.push((read_json::<ObjectRecord>(&path)?, path));
            } else if !path.with_extension("json").exists() {
                // A body whose metadata was never committed, or a temp file.
                let _ = fs::remove_file(&path);
            }
        }
        // Oldest first, so the newest record of a key is inserted last and wins.
        records.sort_by_key(|(r, _)| r.last_modified_ns);
        for (record, meta) in records {
            let body_path = meta.with_extension("body");
            let size = fs::metadata(&body_path).map(|m| m.len()).ok();
            let Some(bucket) = loaded.get_mut(&record.bucket) else {
                files::remove_durably(&meta)?;
                let _ = fs::remove_file(&body_path);
                continue;
            };
            if size != Some(record.size) {
                return Err(io::Error::other(format!(
                    "{}: the object s3://{}/{} records {} bytes but its body file {} has {:?}; \
                     the data dir is damaged (nothing was changed)",
                    meta.display(),
                    record.bucket,
                    record.key,
                    record.size,
                    body_path.display(),
                    size
                )));
            }
            let object = Arc::new(StoredObject {
                body: Body::File(BodyFile::existing(body_path, record.size)),
                etag: record.etag,
                last_modified: UNIX_EPOCH + Duration::from_nanos(record.last_modified_ns),
                headers: record.headers,
                metadata: record.metadata,
                checksum: record.checksum,
                parts_count: record.parts_count,
            });
            if let Some(older) = bucket.objects.insert(record.key, object) {
                self.remove_object(&older)?;
            }
        }
        Ok(loaded.into_values().collect())
    }
}

fn meta_path(file: &BodyFile) -> PathBuf {
    file.path().with_extension("json")
}

fn is_json(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "json")
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> io::Result<T> {
    let bytes = fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        io::Error::other(format!(
            "{} is not a valid record of this layout ({e}); the data dir is damaged \
             (nothing was changed)",
            path.display()
        ))
    })
}
