//! One bucket: its objects (sorted by key, for listing), multipart uploads and notification
//! configuration.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use super::disk::{to_ms, BucketRecord, Disk};
use super::{lock, read, write, Part, StoredObject, Upload, UploadSummary};
use crate::notifications::QueueNotification;

#[derive(Debug, PartialEq, Eq)]
pub enum DeleteBucketError {
    NoSuchBucket,
    NotEmpty,
    /// The data dir could not record the deletion.
    Storage(String),
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
    /// The data dir, in `--data-dir` mode: every change is written there before it is visible.
    disk: Option<Arc<Disk>>,
}

/// The bucket was deleted while the request was running.
#[derive(Debug)]
pub struct BucketGone;

impl Bucket {
    pub fn new(name: &str, created: SystemTime, disk: Option<Arc<Disk>>) -> Self {
        Self {
            name: name.to_owned(),
            created,
            objects: RwLock::default(),
            uploads: Mutex::default(),
            notifications: RwLock::default(),
            disk,
        }
    }

    /// Whether writes to this bucket go to the data dir (and so block on file I/O).
    pub fn on_disk(&self) -> bool {
        self.disk.is_some()
    }

    /// Puts back what the data dir held (start-up only; nothing is written).
    pub(super) fn restore(
        &self,
        objects: BTreeMap<String, Arc<StoredObject>>,
        uploads: HashMap<String, Upload>,
        notifications: Vec<QueueNotification>,
    ) {
        write(&self.objects).map = objects;
        *lock(&self.uploads) = uploads;
        *write(&self.notifications) = notifications;
    }

    /// Records a new multipart upload in the data dir, before its id is answered (blocking
    /// file I/O; nothing to do in memory).
    pub fn persist_upload(&self, upload_id: &str, upload: &Upload) -> std::io::Result<()> {
        match &self.disk {
            Some(disk) => disk.save_upload(&self.name, upload_id, upload),
            None => Ok(()),
        }
    }

    /// Records an uploaded part in the data dir, before its ETag is answered (blocking).
    pub fn persist_part(
        &self,
        upload_id: &str,
        part_number: i32,
        part: &Part,
    ) -> std::io::Result<()> {
        match &self.disk {
            Some(disk) => disk.save_part(upload_id, part_number, part),
            None => Ok(()),
        }
    }

    /// Removes a completed or aborted upload's record from the data dir (blocking).
    pub fn forget_upload(&self, upload_id: &str) -> std::io::Result<()> {
        match &self.disk {
            Some(disk) => disk.remove_upload(upload_id),
            None => Ok(()),
        }
    }

    /// Writes the bucket's record (name, creation time, notification configuration).
    pub(super) fn persist(&self) -> std::io::Result<()> {
        let Some(disk) = &self.disk else {
            return Ok(());
        };
        disk.save_bucket(&BucketRecord {
            name: self.name.clone(),
            created_ms: to_ms(self.created),
            notifications: self.notifications(),
        })
    }

    /// Retires a replaced or deleted object in the data dir (its body goes with its last reader).
    fn retire(&self, object: &StoredObject) {
        if let Some(disk) = &self.disk {
            if let Err(e) = disk.remove_object(object) {
                tracing::error!(bucket = %self.name, error = %e, "could not retire an object's files");
            }
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
    ///
    /// In `--data-dir` mode the object is committed to disk first (blocking: body already
    /// fsynced, metadata written and fsynced here), outside the lock so writers of other keys
    /// do not queue behind one fsync; a refused write then withdraws its files. When this
    /// returns `Ok`, the object survives a crash.
    pub fn put_object_if(
        &self,
        key: &str,
        object: Arc<StoredObject>,
        condition: &WriteCondition,
    ) -> Result<(), WriteRefused> {
        if let Some(disk) = &self.disk {
            disk.save_object(&self.name, key, &object).map_err(|e| {
                tracing::error!(bucket = %self.name, error = %e, "could not store an object");
                WriteRefused::Storage
            })?;
        }
        let outcome = {
            let mut objects = write(&self.objects);
            if objects.deleted {
                Err(WriteRefused::BucketGone)
            } else {
                condition
                    .check(objects.map.get(key).map(|o| o.etag.as_str()))
                    .map(|()| objects.map.insert(key.to_owned(), object.clone()))
            }
        };
        match outcome {
            Ok(replaced) => {
                if let Some(old) = replaced {
                    self.retire(&old);
                }
                Ok(())
            }
            Err(refused) => {
                self.retire(&object);
                Err(refused)
            }
        }
    }

    pub fn get_object(&self, key: &str) -> Option<Arc<StoredObject>> {
        read(&self.objects).map.get(key).cloned()
    }

    /// Removes the object (durably, in `--data-dir` mode, before this returns).
    pub fn delete_object(&self, key: &str) -> Option<Arc<StoredObject>> {
        let removed = write(&self.objects).map.remove(key);
        if let Some(object) = &removed {
            self.retire(object);
        }
        removed
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

    /// Ends every upload in progress (the bucket was deleted): their records leave the data
    /// dir now and their parts' files with their last reader, not at the next start.
    pub(super) fn end_uploads(&self) {
        let uploads = std::mem::take(&mut *lock(&self.uploads));
        for (upload_id, upload) in uploads {
            if let Err(e) = self.forget_upload(&upload_id) {
                // The next start removes the uploads of a bucket that is gone.
                tracing::warn!(bucket = %self.name, upload_id = %upload_id, error = %e, "could not remove a deleted bucket's upload record");
            }
            upload.discard_parts();
        }
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

    /// Replaces the notification configuration (recorded in the data dir first, if any, so a
    /// failed write leaves the old configuration in force).
    pub fn set_notifications(&self, configs: Vec<QueueNotification>) -> std::io::Result<()> {
        let mut current = write(&self.notifications);
        if let Some(disk) = &self.disk {
            disk.save_bucket(&BucketRecord {
                name: self.name.clone(),
                created_ms: to_ms(self.created),
                notifications: configs.clone(),
            })?;
        }
        *current = configs;
        Ok(())
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
    /// The data dir could not store the object (S3: 500 InternalError).
    Storage,
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
