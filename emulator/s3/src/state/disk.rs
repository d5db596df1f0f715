//! The S3 part of a `--data-dir` (layout version 1, see `emulator_storage::layout`):
//! `s3/buckets/<hex of name>.json` per bucket, `s3/objects/<id>.body` + `<id>.json` per object,
//! `s3/uploads/<upload id>.json` per multipart upload in progress and `s3/parts/<id>.body` +
//! `<id>.json` per uploaded part.
//!
//! Multipart uploads survive a restart, as they do in S3 until they are completed or aborted:
//! CreateMultipartUpload commits the upload's record, UploadPart the part's body (fsynced) and
//! then its record. A part's record names its upload; at start, parts whose upload is gone
//! (completed, aborted, or its bucket deleted) and the older of two parts with one number are
//! removed. A part's files are kept across restarts and go, with the last reader, once its
//! upload ends or another part replaces it ([`Part::discard`]).
//!
//! An object is written body first (fsynced by the body writer), then its metadata file
//! (temp, fsync, rename, directory fsync): the metadata file is the commit, so a crash leaves
//! either the old object or the new one. The object's `<id>` is random and names both files;
//! the key is data inside the JSON, never a path, so no key can reach outside the directory.
//! At start, a body without metadata (a crash before the commit) is removed; two metadata
//! files for one key (a crash between committing a replacement and retiring the old one)
//! resolve to the newer; an upload whose completed object is committed (a crash before its
//! record was removed) ends, its record and parts removed.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use emulator_storage::files;
use serde::{Deserialize, Serialize};

use super::body::{Bodies, Body, BodyFile};
use super::{ObjectHeaders, Part, StoredChecksum, StoredObject, Upload};
use crate::checksum::ChecksumAlgo;
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
    /// The multipart upload the object completed; absent in records written before it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from_upload: Option<String>,
}

/// A multipart upload's record (its parts have their own).
#[derive(Debug, Serialize, Deserialize)]
struct UploadRecord {
    bucket: String,
    key: String,
    headers: ObjectHeaders,
    metadata: HashMap<String, String>,
    checksum_algorithm: Option<ChecksumAlgo>,
    checksum_full_object: bool,
    initiated_ns: u64,
}

/// An uploaded part's record, next to its body.
#[derive(Debug, Serialize, Deserialize)]
struct PartRecord {
    upload_id: String,
    part_number: i32,
    size: u64,
    md5_hex: String,
    checksum: Option<String>,
    /// Nanoseconds since the epoch; also decides between two parts of one number.
    last_modified_ns: u64,
}

/// What the data dir held at start: buckets with their objects and uploads in progress.
pub struct Loaded {
    pub bucket: BucketRecord,
    pub objects: BTreeMap<String, Arc<StoredObject>>,
    pub uploads: HashMap<String, Upload>,
}

/// The S3 directory of a data dir.
#[derive(Debug)]
pub struct Disk {
    buckets: PathBuf,
    objects: PathBuf,
    uploads: PathBuf,
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
    /// Opens (creating) `dir`'s sub-directories.
    pub fn open(dir: &Path) -> io::Result<Disk> {
        let disk = Disk {
            buckets: dir.join("buckets"),
            objects: dir.join("objects"),
            uploads: dir.join("uploads"),
            parts: dir.join("parts"),
        };
        for sub in [&disk.buckets, &disk.objects, &disk.uploads, &disk.parts] {
            fs::create_dir_all(sub)?;
        }
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
            from_upload: object.from_upload.clone(),
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

    fn upload_path(&self, upload_id: &str) -> PathBuf {
        self.uploads.join(format!("{upload_id}.json"))
    }

    /// Commits a new upload (its id is the emulator's own hex, safe as a file name).
    pub fn save_upload(&self, bucket: &str, upload_id: &str, upload: &Upload) -> io::Result<()> {
        let record = UploadRecord {
            bucket: bucket.to_owned(),
            key: upload.key.clone(),
            headers: upload.headers.clone(),
            metadata: upload.metadata.clone(),
            checksum_algorithm: upload.checksum_algorithm,
            checksum_full_object: upload.checksum_full_object,
            initiated_ns: to_ns(upload.initiated),
        };
        let bytes = serde_json::to_vec(&record).map_err(io::Error::other)?;
        files::write_atomic(&self.upload_path(upload_id), &bytes)
    }

    /// Ends an upload (completed or aborted); its parts' files go with their last reader.
    pub fn remove_upload(&self, upload_id: &str) -> io::Result<()> {
        files::remove_durably(&self.upload_path(upload_id))
    }

    /// Commits an uploaded part: its body (already fsynced) is kept from now on.
    pub fn save_part(&self, upload_id: &str, part_number: i32, part: &Part) -> io::Result<()> {
        let Body::File(file) = &part.body else {
            return Err(io::Error::other(
                "a part body in data-dir mode must be a file",
            ));
        };
        let record = PartRecord {
            upload_id: upload_id.to_owned(),
            part_number,
            size: part.body.len(),
            md5_hex: hex::encode(part.md5),
            checksum: part.checksum.clone(),
            last_modified_ns: to_ns(part.last_modified),
        };
        let bytes = serde_json::to_vec(&record).map_err(io::Error::other)?;
        files::write_atomic(&meta_path(file), &bytes)?;
        // Kept until its upload ends ([`Part::discard`]), not when the emulator stops.
        file.keep();
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
                    uploads: HashMap::new(),
                },
            );
        }
        self.load_uploads(&mut loaded)?;
        let mut records = committed_records::<ObjectRecord>(&self.objects)?;
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
            // The object completed this upload, so a crash came before the upload's record was
            // removed: the upload ended, as S3's NoSuchUpload for it would say.
            if let Some(upload) = record
                .from_upload
                .as_ref()
                .and_then(|id| bucket.uploads.remove(id))
            {
                self.remove_upload(record.from_upload.as_deref().unwrap_or_default())?;
                upload.discard_parts();
            }
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
                from_upload: record.from_upload,
            });
            if let Some(older) = bucket.objects.insert(record.key, object) {
                self.remove_object(&older)?;
            }
        }
        Ok(loaded.into_values().collect())
    }
}

impl Disk {
    /// The uploads in progress with their parts, into their buckets; removes the records of
    /// uploads whose bucket is gone and the parts of no upload (or a replaced number).
    fn load_uploads(&self, loaded: &mut BTreeMap<String, Loaded>) -> io::Result<()> {
        let mut owner: HashMap<String, String> = HashMap::new();
        for entry in fs::read_dir(&self.uploads)? {
            let path = entry?.path();
            let upload_id = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned);
            let (Some(upload_id), true) = (upload_id, is_json(&path)) else {
                let _ = fs::remove_file(&path);
                continue;
            };
            let record: UploadRecord = read_json(&path)?;
            let Some(bucket) = loaded.get_mut(&record.bucket) else {
                files::remove_durably(&path)?;
                continue;
            };
            owner.insert(upload_id.clone(), record.bucket.clone());
            bucket.uploads.insert(
                upload_id,
                Upload {
                    key: record.key,
                    headers: record.headers,
                    metadata: record.metadata,
                    checksum_algorithm: record.checksum_algorithm,
                    checksum_full_object: record.checksum_full_object,
                    parts: BTreeMap::new(),
                    initiated: UNIX_EPOCH + Duration::from_nanos(record.initiated_ns),
                },
            );
        }
        let mut records = committed_records::<PartRecord>(&self.parts)?;
        // Oldest first, so the newest part of a number is inserted last and wins.
        records.sort_by_key(|(r, _)| r.last_modified_ns);
        for (record, meta) in records {
            let body_path = meta.with_extension("body");
            let size = fs::metadata(&body_path).map(|m| m.len()).ok();
            let upload = owner
                .get(&record.upload_id)
                .and_then(|bucket| loaded.get_mut(bucket))
                .and_then(|bucket| bucket.uploads.get_mut(&record.upload_id));
            let md5 = hex::decode(&record.md5_hex)
                .ok()
                .and_then(|md5| <[u8; 16]>::try_from(md5).ok());
            let (Some(upload), Some(md5), true) = (upload, md5, size == Some(record.size)) else {
                let _ = fs::remove_file(&body_path);
                files::remove_durably(&meta)?;
                continue;
            };
            let part = Part {
                body: Body::File(BodyFile::existing(body_path, record.size)),
                md5,
                last_modified: UNIX_EPOCH + Duration::from_nanos(record.last_modified_ns),
                checksum: record.checksum,
            };
            if let Some(older) = upload.parts.insert(record.part_number, part) {
                older.discard();
            }
        }
        Ok(())
    }
}

/// The records (`<id>.json`) in `dir` with their paths. A body whose record was never committed
/// (a crash between the two) and temp files are removed.
fn committed_records<T: serde::de::DeserializeOwned>(dir: &Path) -> io::Result<Vec<(T, PathBuf)>> {
    let mut records = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if is_json(&path) {
            records.push((read_json::<T>(&path)?, path));
        } else if !path.with_extension("json").exists() {
            let _ = fs::remove_file(&path);
        }
    }
    Ok(records)
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
