//! One bucket: its objects (sorted by key, for listing), multipart uploads and notification
//! configuration.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use super::{lock, read, write, StoredObject, Upload, UploadSummary};
use crate::notifications::QueueNotification;

#[derive(Debug, PartialEq, Eq)]
pub enum DeleteBucketError {
    NoSuchBucket,
    NotEmpty,
}

/// Objects plus a tombstone flag checked under the same lock, so a PUT racing a
/// DeleteBucket either lands before the emptiness check or fails with NoSuchBucket.
#[derive(Default)]
struct Objects {
    map: BTreeMap<String, Arc<StoredObject>>,
    deleted: bool,
}

pub struct Bucket {
    pub name: String,
    pub created: SystemTime,
    objects: RwLock<Objects>,
    uploads: Mutex<HashMap<String, Upload>>,
    notifications: RwLock<Vec<QueueNotification>>,
}

/// The bucket was deleted while the request was running.
#[derive(Debug)]
pub struct BucketGone;

impl Bucket {
    pub fn new(name: &str, created: SystemTime) -> Self {
        Self {
            name: name.to_owned(),
            created,
            objects: RwLock::default(),
            uploads: Mutex::default(),
            notifications: RwLock::default(),
        }
    }

    pub(super) fn mark_deleted_if_empty(&self) -> Result<(), DeleteBucketError> {
        let mut objects = write(&self.objects);
        if !objects.map.is_empty() {
            return Err(DeleteBucketError::NotEmpty);
        }
        objects.deleted = true;
        Ok(())
    }

    /// Stores `object` under `key`, replacing any previous version.
    pub fn put_object(&self, key: &str, object: Arc<StoredObject>) -> Result<(), BucketGone> {
        self.put_object_if(key, object, &WriteCondition::Always)
            .map_err(|_| BucketGone)
    }

    /// Stores `object` if `condition` holds for the current object, checked under the same
    /// write lock as the insert, so two conditional writers cannot both win.
    pub fn put_object_if(
        &self,
        key: &str,
        object: Arc<StoredObject>,
        condition: &WriteCondition,
    ) -> Result<(), WriteRefused> {
        let mut objects = write(&self.objects);
        if objects.deleted {
            return Err(WriteRefused::BucketGone);
        }
        condition.check(objects.map.get(key).map(|o| o.etag.as_str()))?;
        objects.map.insert(key.to_owned(), object);
        Ok(())
    }

    pub fn get_object(&self, key: &str) -> Option<Arc<StoredObject>> {
        read(&self.objects).map.get(key).cloned()
    }

    pub fn delete_object(&self, key: &str) -> Option<Arc<StoredObject>> {
        write(&self.objects).map.remove(key)
    }

    /// Runs `f` over the sorted key map under the read lock (no awaits inside `f`).
    pub fn with_objects<R>(&self, f: impl FnOnce(&BTreeMap<String, Arc<StoredObject>>) -> R) -> R {
        f(&read(&self.objects).map)
    }

    pub fn insert_upload(&self, upload_id: &str, upload: Upload) {
        lock(&self.uploads).insert(upload_id.to_owned(), upload);
    }

    /// Runs `f` on the upload, or returns None when there is no such upload.
    pub fn with_upload<R>(&self, upload_id: &str, f: impl FnOnce(&mut Upload) -> R) -> Option<R> {
        lock(&self.uploads).get_mut(upload_id).map(f)
    }

    pub fn remove_upload(&self, upload_id: &str) -> Option<Upload> {
        lock(&self.uploads).remove(upload_id)
    }

    /// Every upload in progress whose key starts with `prefix`, sorted by key, then upload id
    /// (ids sort in creation order, see `multipart::new_upload_id`). Parts are not copied.
    pub fn uploads_with_prefix(&self, prefix: &str) -> Vec<UploadSummary> {
        let mut uploads: Vec<UploadSummary> = lock(&self.uploads)
            .iter()
            .filter(|(_, upload)| upload.key.starts_with(prefix))
            .map(|(id, upload)| UploadSummary {
                upload_id: id.clone(),
                key: upload.key.clone(),
                initiated: upload.initiated,
                checksum_algorithm: upload.checksum_algorithm,
                checksum_full_object: upload.checksum_full_object,
            })
            .collect();
        uploads.sort_by(|a, b| (&a.key, &a.upload_id).cmp(&(&b.key, &b.upload_id)));
        uploads
    }

    pub fn notifications(&self) -> Vec<QueueNotification> {
        read(&self.notifications).clone()
    }

    pub fn set_notifications(&self, configs: Vec<QueueNotification>) {
        *write(&self.notifications) = configs;
    }
}

/// The precondition of an S3 conditional write (`If-None-Match: *` or `If-Match: <etag>` on
/// PutObject and CompleteMultipartUpload):
/// https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCondition {
    Always,
    /// `If-None-Match: *`: only if no object has the key.
    IfAbsent,
    /// `If-Match: *`: only if some object has the key.
    IfPresent,
    /// `If-Match: "<etag>"`: only if the current object has this (unquoted) ETag.
    IfEtag(String),
}

/// Why a conditional write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteRefused {
    BucketGone,
    /// The precondition did not hold (S3: 412 PreconditionFailed).
    PreconditionFailed,
    /// `If-Match` named a key that does not exist (S3: 404 NoSuchKey).
    NoSuchKey,
}

impl WriteCondition {
    /// Checks the condition against the current object's ETag (`None`: no object).
    pub fn check(&self, current_etag: Option<&str>) -> Result<(), WriteRefused> {
        match (self, current_etag) {
            (WriteCondition::Always, _) => Ok(()),
            (WriteCondition::IfAbsent, None) => Ok(()),
            (WriteCondition::IfAbsent, Some(_)) => Err(WriteRefused::PreconditionFailed),
            (WriteCondition::IfPresent | WriteCondition::IfEtag(_), None) => {
                Err(WriteRefused::NoSuchKey)
            }
            (WriteCondition::IfPresent, Some(_)) => Ok(()),
            (WriteCondition::IfEtag(wanted), Some(etag)) if wanted == etag => Ok(()),
            (WriteCondition::IfEtag(_), Some(_)) => Err(WriteRefused::PreconditionFailed),
        }
    }
}
