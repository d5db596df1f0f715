//! emulator-s3: an in-memory Amazon S3 for the local emulator.
//!
//! The wire protocol (routing, REST-XML, SigV4, `aws-chunked` decoding) is the `s3s` crate's;
//! this crate supplies the storage behind it ([`state`]), the operations (one module per
//! family: [`buckets`], [`objects`], [`multipart`], [`list`], [`notifications`]), checksum
//! verification ([`checksum`]) and the credential policy ([`auth`]).
//!
//! State lives in memory, with bodies over 8 MiB spilled to a temporary directory, or with
//! [`S3Emulator::open`] in a data dir (`serve --data-dir`), where every acknowledged write is on
//! disk first (see [`state::disk`]). Either way a key is a map key and never a host path, so
//! `../../etc` is just another key.

pub mod auth;
pub mod buckets;
pub mod checksum;
mod errors;
pub mod list;
pub mod multipart;
mod multipart_list;
mod notification_schema;
pub mod notifications;
pub mod objects;
mod s3_impl;
pub mod state;

use std::sync::Arc;

use s3s::service::{S3Service, S3ServiceBuilder};

pub use crate::notifications::{NotificationSink, QueueNotification};
use crate::state::Store;

/// Errors of the in-process API (bootstrap), carrying the AWS error code S3 would answer.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct S3EmulatorError {
    pub code: String,
    pub message: String,
}

impl From<s3s::S3Error> for S3EmulatorError {
    fn from(e: s3s::S3Error) -> Self {
        Self {
            code: e.code().as_str().to_owned(),
            message: e.message().unwrap_or_default().to_owned(),
        }
    }
}

/// Shared state of one emulated S3 endpoint.
pub(crate) struct Inner {
    pub region: String,
    pub store: Store,
    pub sink: Arc<dyn NotificationSink>,
    pub credentials: auth::CredentialStore,
}

/// The emulated S3 service. Cheap to clone; all clones share the same buckets.
#[derive(Clone)]
pub struct S3Emulator {
    inner: Arc<Inner>,
}

impl S3Emulator {
    /// A new, empty, in-memory S3 for `region`, delivering bucket notifications through `sink`.
    ///
    /// Panics when no temporary directory can be created for big bodies (start-up only).
    pub fn new(region: impl Into<String>, sink: Arc<dyn NotificationSink>) -> Self {
        let store = Store::in_memory().expect("creating the S3 spill directory under TMPDIR");
        Self::with_store(region.into(), sink, store)
    }

    /// An S3 whose state lives in `dir` (the data dir's `s3/`), with what it held loaded.
    pub fn open(
        region: impl Into<String>,
        sink: Arc<dyn NotificationSink>,
        dir: &std::path::Path,
    ) -> std::io::Result<Self> {
        Ok(Self::with_store(region.into(), sink, Store::open(dir)?))
    }

    fn with_store(region: String, sink: Arc<dyn NotificationSink>, store: Store) -> Self {
        Self {
            inner: Arc::new(Inner {
                region,
                store,
                sink,
                credentials: auth::CredentialStore::default(),
            }),
        }
    }

    /// The region this endpoint claims to be (bucket locations, event records).
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// Creates `name` if it does not exist (idempotent, whatever the region).
    pub fn create_bucket(&self, name: &str) -> Result<(), S3EmulatorError> {
        buckets::validate_bucket_name(name)?;
        self.inner
            .store
            .create_bucket(name)
            .map_err(errors::storage_error)?;
        Ok(())
    }

    /// Replaces the bucket's queue notification configuration, validating destinations and
    /// sending each queue the `s3:TestEvent` message, as PutBucketNotificationConfiguration does.
    pub fn put_queue_notifications(
        &self,
        bucket: &str,
        configs: Vec<QueueNotification>,
    ) -> Result<(), S3EmulatorError> {
        let request_id = errors::new_request_id();
        notifications::apply_configuration(&self.inner, bucket, configs, false, &request_id)?;
        Ok(())
    }

    /// Registers a key pair whose signatures are verified with its own secret (see [`auth`]).
    pub fn register_credentials(&self, access_key: &str, secret_key: &str) {
        self.inner.credentials.register(access_key, secret_key);
    }

    /// In-process read for services on the same port (Athena): the object at `bucket/key`.
    /// `Err` when the bucket does not exist, `Ok(None)` when the key does not.
    pub fn object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<Arc<state::StoredObject>>, S3EmulatorError> {
        Ok(objects::bucket_of(&self.inner, bucket)?.get_object(key))
    }

    /// In-process listing: every object of `bucket` whose key starts with `prefix`, in key order.
    pub fn objects_with_prefix(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<(String, Arc<state::StoredObject>)>, S3EmulatorError> {
        let bucket = objects::bucket_of(&self.inner, bucket)?;
        Ok(bucket.with_objects(|map| {
            map.range(prefix.to_owned()..)
                .take_while(|(key, _)| key.starts_with(prefix))
                .map(|(key, object)| (key.clone(), object.clone()))
                .collect()
        }))
    }

    /// In-process write (Athena's result files, CTAS output): stores `data` as a PutObject
    /// would, then announces `s3:ObjectCreated:Put` to the bucket's notification queues.
    pub fn put_object_bytes(
        &self,
        bucket: &str,
        key: &str,
        data: bytes::Bytes,
        content_type: &str,
    ) -> Result<(), S3EmulatorError> {
        use s3s::crypto::Checksum as _;
        let target = objects::bucket_of(&self.inner, bucket)?;
        let object = Arc::new(state::StoredObject {
            etag: hex::encode(s3s::crypto::Md5::checksum(&data)),
            // S3 gives an object stored without a checksum a full-object CRC64NVME.
            checksum: Some(state::StoredChecksum::full_object(
                checksum::ChecksumAlgo::Crc64Nvme,
                &data,
            )),
            body: self
                .inner
                .store
                .bodies()
                .from_bytes(state::Purpose::Object, data)
                .map_err(errors::storage_error)?,
            last_modified: std::time::SystemTime::now(),
            headers: state::ObjectHeaders {
                content_type: Some(content_type.to_owned()),
                ..Default::default()
            },
            metadata: Default::default(),
            parts_count: None,
            from_upload: None,
        });
        // Blocking in data-dir mode (fsyncs); in-process writers are few and small.
        target
            .put_object_if(key, object.clone(), &state::WriteCondition::Always)
            .map_err(|refused| objects::write_refused(refused, &target, key))?;
        let who = objects::Requester {
            source_ip: "127.0.0.1".to_owned(),
            principal: "AWSService:athena.amazonaws.com".to_owned(),
        };
        let request_id = errors::new_request_id();
        objects::announce(
            &self.inner,
            &target,
            key,
            "ObjectCreated:Put",
            Some(&object),
            &request_id,
            &who,
        );
        Ok(())
    }

    /// The HTTP service: mount it as the fallback of the one-port server.
    pub fn service(&self) -> S3HttpService {
        let mut builder = S3ServiceBuilder::new(s3_impl::EmulatorS3 {
            inner: self.inner.clone(),
        });
        builder.set_auth(auth::EmulatorAuth::new(self.inner.clone()));
        builder.set_access(auth::SignedOnly);
        S3HttpService {
            s3s: builder.build(),
        }
    }
}

/// The emulated S3 on the wire: s3s's service, plus one thing s3s cannot give an operation, the
/// raw body of PutBucketNotificationConfiguration, kept (as a [`NotificationBody`] request
/// extension) for the strict schema check in [`notification_schema`].
#[derive(Clone)]
pub struct S3HttpService {
    s3s: S3Service,
}

/// Largest PutBucketNotificationConfiguration body buffered for the schema check. A real
/// configuration is a few KiB; anything bigger is rejected rather than buffered without bound.
const MAX_NOTIFICATION_BODY: usize = 1024 * 1024;

/// The raw body of a PutBucketNotificationConfiguration request, or why it could not be read.
#[derive(Clone, Debug)]
pub(crate) struct NotificationBody(pub Result<bytes::Bytes, String>);

impl S3HttpService {
    /// Serves one S3 request.
    pub async fn call(
        &self,
        mut request: http::Request<s3s::Body>,
    ) -> Result<http::Response<s3s::Body>, s3s::HttpError> {
        if is_put_notification(&request) {
            let body = request.body_mut();
            let raw = body
                .store_all_limited(MAX_NOTIFICATION_BODY)
                .await
                .map_err(|e| format!("the body could not be read: {e}"));
            if raw.is_err() {
                *body = s3s::Body::empty();
            }
            request.extensions_mut().insert(NotificationBody(raw));
        }
        let method = request.method().clone();
        let response = self.s3s.call(request).await?;
        Ok(match is_unknown_operation(&response) {
            true => method_not_allowed(&method),
            false => response,
        })
    }
}

/// Whether s3s answered "no S3 operation has this method, path and query": its router says
/// `501 NotImplemented` "Unknown operation" (s3s 0.14 `ops::unknown_operation`; the version is
/// pinned and `requests_that_are_no_operation_get_4xx_in_their_service_shape` in the server's
/// tests notices a change). Operations S3 has but this emulator lacks keep their 501.
fn is_unknown_operation(response: &http::Response<s3s::Body>) -> bool {
    response.status() == http::StatusCode::NOT_IMPLEMENTED
        && response.body().bytes().is_some_and(|body| {
            let needle = b"<Message>Unknown operation</Message>";
            body.windows(needle.len()).any(|w| w == needle)
        })
}

/// S3's answer to a method its resource does not support: `405 MethodNotAllowed` in S3's XML
/// error shape (S3 API "Error responses"), saying what each service on this port expects.
fn method_not_allowed(method: &http::Method) -> http::Response<s3s::Body> {
    let request_id = errors::new_request_id();
    let message = format!(
        "The specified method is not allowed against this resource: {method} with this path and \
         query is no S3 operation. (SQS, Glue and Athena JSON requests need an X-Amz-Target \
         header; SQS query requests a form body with Action=.)"
    );
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>MethodNotAllowed</Code>\
         <Message>{}</Message><Method>{method}</Method><RequestId>{request_id}</RequestId></Error>",
        quick_xml::escape::escape(&message)
    );
    let mut response = http::Response::new(s3s::Body::from(xml));
    *response.status_mut() = http::StatusCode::METHOD_NOT_ALLOWED;
    response
        .headers_mut()
        .extend(errors::request_headers(&request_id));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    response
}

/// PutBucketNotificationConfiguration: `PUT /{bucket}?notification` (path or virtual-host
/// style) with a plain XML body. SDKs never send this operation `aws-chunked`; a body that is
/// (its raw bytes are chunk-framed, not XML) is left to s3s and skips the strict check.
fn is_put_notification(request: &http::Request<s3s::Body>) -> bool {
    let chunked = request
        .headers()
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("aws-chunked"));
    request.method() == http::Method::PUT
        && !chunked
        && request
            .uri()
            .query()
            .is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "notification"))
}
