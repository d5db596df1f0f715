//! S3 state: buckets, objects, multipart uploads and notification configurations, in memory
//! (bodies spilling to a temporary directory when big) or in a `--data-dir` ([`disk`]).
//!
//! Kept apart from the wire layer: nothing here knows about s3s DTOs. Locks are std locks held
//! only for map look-ups and inserts, never across an `.await` or a notification delivery;
//! a poisoned lock is recovered (the data is plain maps that stay consistent).

pub mod body;
mod bucket;
pub mod disk;
mod object;
pub mod spill;

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use body::{Bodies, Body, Purpose};
pub use bucket::{Bucket, DeleteBucketError, WriteCondition, WriteRefused};
pub use object::{ObjectHeaders, Part, StoredChecksum, StoredObject, Upload, UploadSummary};

use disk::Disk;

/// Every bucket of the endpoint, by name, and where their bytes go.
pub struct Store {
    buckets: RwLock<BTreeMap<String, Arc<Bucket>>>,
    bodies: Bodies,
    disk: Option<Arc<Disk>>,
}

impl Store {
    /// State in memory; bodies over [`body::SPILL_THRESHOLD`] spill to a temporary directory.
    pub fn in_memory() -> io::Result<Store> {
        Ok(Store {
            buckets: RwLock::default(),
            bodies: Bodies::in_memory()?,
            disk: None,
        })
    }

    /// State in the data dir's S3 directory `dir`, loading what an earlier run stored there.
    pub fn open(dir: &Path) -> io::Result<Store> {
        let disk = Arc::new(Disk::open(dir)?);
        let mut buckets = BTreeMap::new();
        for loaded in disk.load()? {
            let created = UNIX_EPOCH + Duration::from_millis(loaded.bucket.created_ms);
            let bucket = Bucket::new(&loaded.bucket.name, created, Some(disk.clone()));
            bucket.restore(loaded.objects, loaded.uploads, loaded.bucket.notifications);
            buckets.insert(loaded.bucket.name, Arc::new(bucket));
        }
        Ok(Store {
            buckets: RwLock::new(buckets),
            bodies: disk.bodies(),
            disk: Some(disk),
        })
    }

    /// Where new object and part bodies are written.
    pub fn bodies(&self) -> &Bodies {
        &self.bodies
    }

    /// Creates the bucket; returns false when it already existed (nothing changes then).
    pub fn create_bucket(&self, name: &str) -> io::Result<bool> {
        let mut buckets = write(&self.buckets);
        if buckets.contains_key(name) {
            return Ok(false);
        }
        let bucket = Bucket::new(name, SystemTime::now(), self.disk.clone());
        bucket.persist()?;
        buckets.insert(name.to_owned(), Arc::new(bucket));
        Ok(true)
    }

    pub fn bucket(&self, name: &str) -> Option<Arc<Bucket>> {
        read(&self.buckets).get(name).cloned()
    }

    /// All buckets, sorted by name (ListBuckets order).
    pub fn buckets(&self) -> Vec<Arc<Bucket>> {
        read(&self.buckets).values().cloned().collect()
    }

    /// Deletes a bucket without objects. Uploads in progress do not keep a general purpose
    /// bucket (only directory buckets require them aborted first,
    /// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/directory-bucket-empty.html>);
    /// they end with it.
    pub fn delete_bucket(&self, name: &str) -> Result<(), DeleteBucketError> {
        let mut buckets = write(&self.buckets);
        let bucket = buckets.get(name).ok_or(DeleteBucketError::NoSuchBucket)?;
        bucket.mark_deleted_if_empty()?;
        if let Some(disk) = &self.disk {
            disk.remove_bucket(name)
                .map_err(|e| DeleteBucketError::Storage(e.to_string()))?;
        }
        if let Some(bucket) = buckets.remove(name) {
            bucket.end_uploads();
        }
        Ok(())
    }
}

pub(crate) fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

pub(crate) fn lock<T>(lock: &Mutex<T>) -> MutexGuard<'_, T> {
    lock.lock().unwrap_or_else(|p| p.into_inner())
}
