//! Who may call: unsigned (anonymous) requests are refused with S3's 403 `AccessDenied` XML, as
//! for a private bucket in AWS; SigV4 headers and presigned URLs are served.

use std::net::SocketAddr;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{client_for, code_of, start, TestS3};

/// One raw HTTP/1.1 request (no signature), answered as status line + headers + body text.
async fn raw_http(addr: SocketAddr, method: &str, target: &str, body: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .expect("answer within 10 s")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

fn assert_access_denied(reply: &str, what: &str) {
    assert!(reply.starts_with("HTTP/1.1 403"), "{what}: {reply}");
    assert!(
        reply.contains("<Code>AccessDenied</Code>"),
        "{what}: {reply}"
    );
}

/// The emulator with bucket `private` holding `a.csv`, written with a signed request.
async fn start_with_private_object() -> TestS3 {
    let s3 = start().await;
    s3.emulator.create_bucket("private").unwrap();
    s3.client
        .put_object()
        .bucket("private")
        .key("a.csv")
        .body(ByteStream::from_static(b"x,y\n"))
        .send()
        .await
        .unwrap();
    s3
}

#[tokio::test]
async fn unsigned_requests_are_access_denied_and_change_nothing() {
    let s3 = start_with_private_object().await;
    for (method, target, body) in [
        ("GET", "/", ""),
        ("GET", "/private", ""),
        ("GET", "/private?list-type=2", ""),
        ("GET", "/private/a.csv", ""),
        ("HEAD", "/private/a.csv", ""),
        ("PUT", "/private/b.csv", "1,2\n"),
        ("DELETE", "/private/a.csv", ""),
        ("PUT", "/another-bucket", ""),
        (
            "PUT",
            "/private?notification",
            "<NotificationConfiguration/>",
        ),
    ] {
        let reply = raw_http(s3.addr, method, target, body).await;
        let what = format!("{method} {target}");
        if method == "HEAD" {
            assert!(reply.starts_with("HTTP/1.1 403"), "{what}: {reply}");
        } else {
            assert_access_denied(&reply, &what);
        }
    }
    let keys: Vec<String> = s3
        .client
        .list_objects_v2()
        .bucket("private")
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    assert_eq!(keys, ["a.csv"], "nothing written or deleted");
    assert_eq!(
        code_of(
            s3.client
                .head_bucket()
                .bucket("another-bucket")
                .send()
                .await
        ),
        "NotFound"
    );
}

#[tokio::test]
async fn presigned_urls_are_served_and_wrong_secrets_are_refused() {
    let s3 = start_with_private_object().await;
    let presigned = s3
        .client
        .get_object()
        .bucket("private")
        .key("a.csv")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .unwrap();
    let uri: http::Uri = presigned.uri().parse().unwrap();
    let target = uri.path_and_query().unwrap().as_str();
    let reply = raw_http(s3.addr, "GET", target, "").await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with("x,y\n"), "{reply}");
    // The same request with the signature cut off is anonymous again.
    let unsigned = target.split('?').next().unwrap();
    assert_access_denied(&raw_http(s3.addr, "GET", unsigned, "").await, "stripped");
    let wrong = client_for(s3.addr, "us-east-1", "test", "not-the-secret").await;
    assert_eq!(
        code_of(
            wrong
                .get_object()
                .bucket("private")
                .key("a.csv")
                .send()
                .await
        ),
        "SignatureDoesNotMatch"
    );
}
