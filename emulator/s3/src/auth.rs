//! Credential policy of the emulator: which secret verifies a request's SigV4 signature.
//!
//! Decision: s3s 0.14.1 can only verify a signature with the signer's secret (there is no
//! "skip verification" hook), and it only decodes `aws-chunked` bodies on the verified path,
//! so "accept anything" the LocalStack way is not possible without hand-writing SigV4 and
//! chunk decoding. So the emulator accepts ANY access key id and looks up its secret:
//! 1. pairs registered with [`crate::S3Emulator::register_credentials`];
//! 2. the emulator process's own `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, so a user who
//!    exported real-looking dummy keys in the shell that runs both works unchanged;
//! 3. otherwise the conventional local secret `test` (LocalStack's default pair is
//!    `test`/`test`), so any access key signed with secret `test` is accepted.
//!
//! A request signed with some other secret fails with `SignatureDoesNotMatch`, which is what
//! S3 answers too.
//!
//! Unsigned (anonymous) requests — no `Authorization` header, no presigned `X-Amz-*` query, no
//! signed POST policy — are refused with `AccessDenied` (403), as S3 refuses them for a private
//! bucket (every bucket here is private: there are no bucket policies or ACLs). Code that forgets
//! to sign therefore fails here as it would in AWS. What is verified: a SigV4 (or SigV2)
//! signature is present and matches the request under the secret chosen above; the access key
//! itself is not checked against any account.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::S3Result;

use crate::Inner;

/// The secret used for access keys nobody registered.
pub const DEFAULT_SECRET: &str = "test";

/// Registered access key -> secret pairs.
#[derive(Default)]
pub struct CredentialStore {
    pairs: RwLock<HashMap<String, String>>,
}

impl CredentialStore {
    pub fn register(&self, access_key: &str, secret_key: &str) {
        let mut pairs = self.pairs.write().unwrap_or_else(|p| p.into_inner());
        pairs.insert(access_key.to_owned(), secret_key.to_owned());
    }

    /// The secret that verifies signatures made with `access_key` (see the module doc).
    pub fn secret_for(&self, access_key: &str) -> String {
        let registered = {
            let pairs = self.pairs.read().unwrap_or_else(|p| p.into_inner());
            pairs.get(access_key).cloned()
        };
        if let Some(secret) = registered {
            return secret;
        }
        if std::env::var("AWS_ACCESS_KEY_ID").is_ok_and(|id| id == access_key) {
            if let Ok(secret) = std::env::var("AWS_SECRET_ACCESS_KEY") {
                return secret;
            }
        }
        DEFAULT_SECRET.to_owned()
    }
}

/// s3s auth provider backed by the emulator's [`CredentialStore`].
pub struct EmulatorAuth {
    inner: Arc<Inner>,
}

impl EmulatorAuth {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        Self { inner }
    }
}

#[async_trait::async_trait]
impl S3Auth for EmulatorAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        Ok(SecretKey::from(
            self.inner.credentials.secret_for(access_key),
        ))
    }
}

/// A check the embedding server attaches to a request (as an `http` extension) and s3s runs once
/// it has resolved the request's operation, before the operation sees the body: the emulator's
/// fault injection answers `SlowDown` or `InternalError` here, by operation name (`GetObject`,
/// `UploadPart`, ...), which only s3s's router knows.
#[derive(Clone)]
pub struct OperationGate(pub Arc<GateCheck>);

/// The check of an [`OperationGate`]: given the operation's name, `Ok` lets it run, an error
/// is answered instead.
pub type GateCheck =
    dyn Fn(&str) -> futures::future::BoxFuture<'static, S3Result<()>> + Send + Sync;

/// Allows every signed request and refuses anonymous ones. s3s calls this after it verified the
/// signature; `credentials()` is `None` exactly when the request carried none. Then runs the
/// request's [`OperationGate`], if it has one.
pub struct SignedOnly;

#[async_trait::async_trait]
impl S3Access for SignedOnly {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_none() {
            return Err(s3s::S3Error::with_message(
                s3s::S3ErrorCode::AccessDenied,
                "Access Denied: the request is not signed (no Authorization header or presigned \
                 query); sign it with SigV4, as S3 requires for a private bucket",
            ));
        }
        let gate = cx.extensions_mut().get::<OperationGate>().cloned();
        match gate {
            Some(OperationGate(check)) => check(cx.s3_op().name()).await,
            None => Ok(()),
        }
    }
}
