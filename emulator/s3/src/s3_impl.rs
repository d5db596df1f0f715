//! The s3s `S3` trait implementation: each operation delegates to its family module and gets
//! S3's `x-amz-request-id` / `x-amz-id-2` headers (and the request id in error documents).
//! Operations not listed here answer s3s's `NotImplemented` error.

use std::sync::Arc;

use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, CopyObjectInput, CopyObjectOutput, CreateBucketInput,
    CreateBucketOutput, CreateMultipartUploadInput, CreateMultipartUploadOutput, DeleteBucketInput,
    DeleteBucketOutput, DeleteObjectInput, DeleteObjectOutput, DeleteObjectsInput,
    DeleteObjectsOutput, GetBucketLocationInput, GetBucketLocationOutput,
    GetBucketNotificationConfigurationInput, GetBucketNotificationConfigurationOutput,
    GetObjectInput, GetObjectOutput, HeadBucketInput, HeadBucketOutput, HeadObjectInput,
    HeadObjectOutput, ListBucketsInput, ListBucketsOutput, ListMultipartUploadsInput,
    ListMultipartUploadsOutput, ListObjectsInput, ListObjectsOutput, ListObjectsV2Input,
    ListObjectsV2Output, ListPartsInput, ListPartsOutput, PutBucketNotificationConfigurationInput,
    PutBucketNotificationConfigurationOutput, PutObjectInput, PutObjectOutput, UploadPartInput,
    UploadPartOutput,
};
use s3s::{S3Request, S3Response, S3Result, S3};

use crate::errors::{new_request_id, request_headers, with_request_id};
use crate::{buckets, list, multipart, multipart_list, objects, Inner};

pub(crate) struct EmulatorS3 {
    pub inner: Arc<Inner>,
}

/// Adds the request id to a response or an error.
fn respond<T>(request_id: &str, result: S3Result<S3Response<T>>) -> S3Result<S3Response<T>> {
    match result {
        Ok(mut resp) => {
            resp.headers.extend(request_headers(request_id));
            Ok(resp)
        }
        Err(e) => Err(with_request_id(e, request_id)),
    }
}

#[async_trait::async_trait]
impl S3 for EmulatorS3 {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let rid = new_request_id();
        respond(&rid, buckets::create_bucket(&self.inner, req).await)
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let rid = new_request_id();
        respond(&rid, buckets::head_bucket(&self.inner, req).await)
    }

    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let rid = new_request_id();
        respond(&rid, buckets::list_buckets(&self.inner, req).await)
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let rid = new_request_id();
        respond(&rid, buckets::delete_bucket(&self.inner, req).await)
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let rid = new_request_id();
        respond(&rid, buckets::get_bucket_location(&self.inner, req).await)
    }

    async fn put_bucket_notification_configuration(
        &self,
        req: S3Request<PutBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
        let rid = new_request_id();
        respond(
            &rid,
            buckets::put_bucket_notification_configuration(&self.inner, req, &rid).await,
        )
    }

    async fn get_bucket_notification_configuration(
        &self,
        req: S3Request<GetBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
        let rid = new_request_id();
        respond(
            &rid,
            buckets::get_bucket_notification_configuration(&self.inner, req).await,
        )
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let rid = new_request_id();
        respond(&rid, objects::put_object(&self.inner, req, &rid).await)
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let rid = new_request_id();
        respond(&rid, objects::get_object(&self.inner, req).await)
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let rid = new_request_id();
        respond(&rid, objects::head_object(&self.inner, req).await)
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let rid = new_request_id();
        respond(&rid, objects::delete_object(&self.inner, req, &rid).await)
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let rid = new_request_id();
        respond(&rid, objects::delete_objects(&self.inner, req, &rid).await)
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let rid = new_request_id();
        respond(&rid, objects::copy_object(&self.inner, req, &rid).await)
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let rid = new_request_id();
        respond(&rid, list::list_objects_v2(&self.inner, req).await)
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let rid = new_request_id();
        respond(&rid, list::list_objects(&self.inner, req).await)
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let rid = new_request_id();
        respond(
            &rid,
            multipart::create_multipart_upload(&self.inner, req).await,
        )
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let rid = new_request_id();
        respond(&rid, multipart::upload_part(&self.inner, req).await)
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let rid = new_request_id();
        respond(
            &rid,
            multipart::complete_multipart_upload(&self.inner, req, &rid).await,
        )
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let rid = new_request_id();
        respond(
            &rid,
            multipart::abort_multipart_upload(&self.inner, req).await,
        )
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let rid = new_request_id();
        respond(&rid, multipart::list_parts(&self.inner, req).await)
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let rid = new_request_id();
        respond(
            &rid,
            multipart_list::list_multipart_uploads(&self.inner, req).await,
        )
    }
}
