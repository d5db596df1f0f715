//! In-memory S3 state: buckets, objects, multipart uploads and notification configurations.
//!
//! Kept apart from the wire layer: nothing here knows about s3s DTOs. Locks are std locks held
//! only for map look-ups and inserts, never across an `.await` or a notification delivery;
//! a poisoned lock is recovered (the data is plain maps that stay consistent).

mod bucket;
mod object;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

pub use bucket::{Bucket, DeleteBucketError, WriteCondition, WriteRefused};
pub use object::{ObjectHeaders, Part, StoredChecksum, StoredObject, Upload, UploadSummary};

/// Every bucket of the endpoint, by name.
#[derive(Default)]
pub struct Store {
    buckets: RwLock<BTreeMap<String, Arc<Bucket>>>,
}

impl Store {
    /// Creates the bucket; returns false when it already existed (nothing changes then).
    pub fn create_bucket(&self, name: &str) -> bool {
        let mut buckets = write(&self.buckets);
        if buckets.contains_key(name) {
            return false;
        }
        buckets.insert(
            name.to_owned(),
            Arc::new(Bucket::new(name, SystemTime::now())),
        );
        true
    }

    pub fn bucket(&self, name: &str) -> Option<Arc<Bucket>> {
        read(&self.buckets).get(name).cloned()
    }

    /// All buckets, sorted by name (ListBuckets order).
    pub fn buckets(&self) -> Vec<Arc<Bucket>> {
        read(&self.buckets).values().cloned().collect()
    }

    /// Deletes an empty bucket.
    pub fn delete_bucket(&self, name: &str) -> Result<(), DeleteBucketError> {
        let mut buckets = write(&self.buckets);
        let bucket = buckets.get(name).ok_or(DeleteBucketError::NoSuchBucket)?;
        bucket.mark_deleted_if_empty()?;
        buckets.remove(name);
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
