//! Bucket operations: CreateBucket, HeadBucket, ListBuckets, DeleteBucket, GetBucketLocation
//! and the bucket notification configuration (Put/Get).

use s3s::dto::{
    Bucket as BucketDto, BucketLocationConstraint, CreateBucketInput, CreateBucketOutput,
    DeleteBucketInput, DeleteBucketOutput, GetBucketLocationInput, GetBucketLocationOutput,
    GetBucketNotificationConfigurationInput, GetBucketNotificationConfigurationOutput,
    HeadBucketInput, HeadBucketOutput, ListBucketsInput, ListBucketsOutput, Owner,
    PutBucketNotificationConfigurationInput, PutBucketNotificationConfigurationOutput, Timestamp,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use crate::errors::{malformed_xml, no_such_bucket};
use crate::state::DeleteBucketError;
use crate::{notification_schema, notifications, Inner, NotificationBody};

/// The canonical user id every bucket and object of this single-account emulator belongs to.
pub const OWNER_ID: &str = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";
const OWNER_NAME: &str = "emulator";

/// Bucket naming rules as s3s applies them to request paths (the in-process API uses them too).
pub fn validate_bucket_name(name: &str) -> S3Result<()> {
    if s3s::path::check_bucket_name(name) {
        Ok(())
    } else {
        Err(S3Error::with_message(
            S3ErrorCode::InvalidBucketName,
            format!("The specified bucket is not valid: {name}"),
        ))
    }
}

pub(crate) fn owner() -> Owner {
    Owner {
        display_name: Some(OWNER_NAME.to_owned()),
        id: Some(OWNER_ID.to_owned()),
    }
}

pub(crate) async fn create_bucket(
    inner: &Inner,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let name = req.input.bucket;
    validate_bucket_name(&name)?;
    let created = inner
        .store
        .create_bucket(&name)
        .map_err(crate::errors::storage_error)?;
    // BucketAlreadyOwnedByYou: "Amazon S3 returns this error in all AWS Regions except in the
    // North Virginia Region. For legacy compatibility, if you re-create an existing bucket that
    // you already own in the North Virginia Region, Amazon S3 returns 200 OK"
    // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html).
    if !created && inner.region != "us-east-1" {
        return Err(S3Error::with_message(
            S3ErrorCode::BucketAlreadyOwnedByYou,
            "Your previous request to create the named bucket succeeded and you already own it.",
        ));
    }
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(format!("/{name}")),
    }))
}

pub(crate) async fn head_bucket(
    inner: &Inner,
    req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    inner
        .store
        .bucket(&req.input.bucket)
        .ok_or_else(|| no_such_bucket(&req.input.bucket))?;
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(inner.region.clone()),
        ..Default::default()
    }))
}

pub(crate) async fn list_buckets(
    inner: &Inner,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let prefix = req.input.prefix.unwrap_or_default();
    let buckets = inner
        .store
        .buckets()
        .into_iter()
        .filter(|b| b.name.starts_with(&prefix))
        .map(|b| BucketDto {
            bucket_region: Some(inner.region.clone()),
            creation_date: Some(Timestamp::from(b.created)),
            name: Some(b.name.clone()),
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        owner: Some(owner()),
        prefix: (!prefix.is_empty()).then_some(prefix),
        continuation_token: None,
    }))
}

pub(crate) async fn delete_bucket(
    inner: &Inner,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    match inner.store.delete_bucket(&req.input.bucket) {
        Ok(()) => Ok(S3Response::new(DeleteBucketOutput {})),
        Err(DeleteBucketError::NoSuchBucket) => Err(no_such_bucket(&req.input.bucket)),
        Err(DeleteBucketError::NotEmpty) => Err(S3Error::with_message(
            S3ErrorCode::BucketNotEmpty,
            "The bucket you tried to delete is not empty",
        )),
        Err(DeleteBucketError::Storage(reason)) => {
            Err(crate::errors::storage_error(std::io::Error::other(reason)))
        }
    }
}

pub(crate) async fn get_bucket_location(
    inner: &Inner,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    inner
        .store
        .bucket(&req.input.bucket)
        .ok_or_else(|| no_such_bucket(&req.input.bucket))?;
    // us-east-1 buckets report an empty LocationConstraint.
    let location_constraint =
        (inner.region != "us-east-1").then(|| BucketLocationConstraint::from(inner.region.clone()));
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint,
    }))
}

pub(crate) async fn put_bucket_notification_configuration(
    inner: &Inner,
    req: S3Request<PutBucketNotificationConfigurationInput>,
    request_id: &str,
) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
    let input = req.input;
    inner
        .store
        .bucket(&input.bucket)
        .ok_or_else(|| no_such_bucket(&input.bucket))?;
    // s3s skipped any element it does not know; S3 rejects the body instead (see the module).
    if let Some(NotificationBody(raw)) = req.extensions.get::<NotificationBody>() {
        raw.as_ref()
            .map_err(Clone::clone)
            .and_then(|xml| notification_schema::check(xml))
            .map_err(malformed_xml)?;
    }
    if input
        .notification_configuration
        .event_bridge_configuration
        .is_some()
    {
        tracing::warn!(bucket = %input.bucket, "EventBridge notification configuration accepted but not emulated");
    }
    let configs = notifications::from_dto(input.notification_configuration)?;
    let skip = input.skip_destination_validation.unwrap_or(false);
    notifications::apply_configuration(inner, &input.bucket, configs, skip, request_id)?;
    Ok(S3Response::new(PutBucketNotificationConfigurationOutput {}))
}

pub(crate) async fn get_bucket_notification_configuration(
    inner: &Inner,
    req: S3Request<GetBucketNotificationConfigurationInput>,
) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
    let bucket = inner
        .store
        .bucket(&req.input.bucket)
        .ok_or_else(|| no_such_bucket(&req.input.bucket))?;
    let queues = notifications::to_dto(&bucket.notifications());
    Ok(S3Response::new(GetBucketNotificationConfigurationOutput {
        queue_configurations: (!queues.is_empty()).then_some(queues),
        ..Default::default()
    }))
}
