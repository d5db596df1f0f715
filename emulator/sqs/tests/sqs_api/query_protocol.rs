//! The query protocol (form `Action=...`, XML replies) and the raw JSON error shape, spoken
//! over a plain HTTP/1.1 connection.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{start, ACCOUNT};

struct RawResponse {
    status: u16,
    headers: String,
    body: String,
}

async fn post(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> RawResponse {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    // The server may answer chunked; our bodies are small enough to come in one chunk.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let (_, rest) = body.split_once("\r\n").unwrap();
        rest.rsplit_once("\r\n0\r\n")
            .map_or(rest, |(b, _)| b)
            .to_string()
    } else {
        body.to_string()
    };
    RawResponse {
        status,
        headers: head.to_ascii_lowercase(),
        body,
    }
}

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text
        .find(open)
        .unwrap_or_else(|| panic!("{open} in {text}"))
        + open.len();
    let end = text[start..].find(close).unwrap() + start;
    &text[start..end]
}

#[tokio::test]
async fn query_protocol_round_trip() {
    let server = start().await;
    let addr = server.addr;
    let created = post(
        addr,
        "/",
        &[FORM],
        "Action=CreateQueue&Version=2012-11-05&QueueName=legacy&Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=40",
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(created.headers.contains("content-type: text/xml"));
    let url = between(&created.body, "<QueueUrl>", "</QueueUrl>").to_string();
    assert_eq!(url, format!("http://{addr}/{ACCOUNT}/legacy"));
    assert!(created
        .body
        .contains("<CreateQueueResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">"));
    assert!(created.body.contains("<ResponseMetadata><RequestId>"));

    // Posting to the queue URL path, without a QueueUrl parameter, as old clients do.
    let body = "Action=SendMessage&Version=2012-11-05&MessageBody=a%26b%3Cc%3E\
        &MessageAttribute.1.Name=attribName1&MessageAttribute.1.Value.DataType=String\
        &MessageAttribute.1.Value.StringValue=attribValue+1";
    let sent = post(addr, &format!("/{ACCOUNT}/legacy"), &[FORM], body).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(
        between(&sent.body, "<MD5OfMessageBody>", "</MD5OfMessageBody>"),
        hex::encode(<md5::Md5 as md5::Digest>::digest(b"a&b<c>"))
    );
    assert_eq!(
        between(
            &sent.body,
            "<MD5OfMessageAttributes>",
            "</MD5OfMessageAttributes>"
        ),
        "19e27d4e946b072f3f58da80d94fd778"
    );

    let form = format!(
        "Action=ReceiveMessage&QueueUrl={}&AttributeName.1=All&MessageAttributeName.1=All&MaxNumberOfMessages=5",
        form_urlencoded::byte_serialize(url.as_bytes()).collect::<String>()
    );
    let received = post(addr, "/", &[FORM], &form).await;
    assert_eq!(received.status, 200, "{}", received.body);
    let xml = &received.body;
    assert!(xml.contains("<ReceiveMessageResponse"));
    assert!(xml.contains("<Message><MessageId>") || xml.contains("<Message>"));
    assert_eq!(between(xml, "<Body>", "</Body>"), "a&amp;b&lt;c&gt;");
    assert!(
        xml.contains("<Attribute><Name>ApproximateReceiveCount</Name><Value>1</Value></Attribute>")
    );
    assert!(xml.contains(
        "<MessageAttribute><Name>attribName1</Name><Value><DataType>String</DataType><StringValue>attribValue 1</StringValue></Value></MessageAttribute>"
    ));
    let handle = between(xml, "<ReceiptHandle>", "</ReceiptHandle>").to_string();

    let form = format!(
        "Action=GetQueueAttributes&QueueUrl={}&AttributeName.1=ApproximateNumberOfMessagesNotVisible",
        form_urlencoded::byte_serialize(url.as_bytes()).collect::<String>()
    );
    let attrs = post(addr, "/", &[FORM], &form).await;
    assert!(attrs.body.contains(
        "<Attribute><Name>ApproximateNumberOfMessagesNotVisible</Name><Value>1</Value></Attribute>"
    ));

    let form = format!(
        "Action=DeleteMessage&QueueUrl={}&ReceiptHandle={}",
        form_urlencoded::byte_serialize(url.as_bytes()).collect::<String>(),
        form_urlencoded::byte_serialize(handle.as_bytes()).collect::<String>()
    );
    let deleted = post(addr, "/", &[FORM], &form).await;
    assert_eq!(deleted.status, 200);
    assert!(deleted.body.contains("<DeleteMessageResponse"));

    let listed = post(addr, "/", &[FORM], "Action=ListQueues&QueueNamePrefix=leg").await;
    assert!(listed.body.contains(&format!(
        "<ListQueuesResult><QueueUrl>{url}</QueueUrl></ListQueuesResult>"
    )));
}

#[tokio::test]
async fn query_protocol_errors_are_xml() {
    let server = start().await;
    let missing = post(
        server.addr,
        "/",
        &[FORM],
        "Action=GetQueueUrl&QueueName=missing&Version=2012-11-05",
    )
    .await;
    assert_eq!(missing.status, 400);
    assert!(missing
        .body
        .contains("<ErrorResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">"));
    assert!(missing.body.contains("<Type>Sender</Type>"));
    assert!(missing
        .body
        .contains("<Code>AWS.SimpleQueueService.NonExistentQueue</Code>"));
    assert!(missing
        .body
        .contains("<Message>The specified queue does not exist.</Message>"));
    assert!(missing.body.contains("<RequestId>"));

    let unknown = post(server.addr, "/", &[FORM], "Action=Frobnicate").await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.body.contains("<Code>InvalidAction</Code>"));

    let batch = post(server.addr, "/", &[FORM], "Action=CreateQueue&QueueName=b").await;
    assert_eq!(batch.status, 200);
    let body = format!(
        "Action=SendMessageBatch&QueueUrl=http://{}/{ACCOUNT}/b",
        server.addr
    );
    let empty = post(server.addr, "/", &[FORM], &body).await;
    assert!(empty
        .body
        .contains("<Code>AWS.SimpleQueueService.EmptyBatchRequest</Code>"));
}

#[tokio::test]
async fn json_error_shape() {
    let server = start().await;
    let response = post(
        server.addr,
        "/",
        &[
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", "AmazonSQS.GetQueueUrl"),
        ],
        r#"{"QueueName":"missing"}"#,
    )
    .await;
    assert_eq!(response.status, 400);
    assert!(response
        .headers
        .contains("x-amzn-query-error: aws.simplequeueservice.nonexistentqueue;sender"));
    assert!(response
        .headers
        .contains("content-type: application/x-amz-json-1.0"));
    let body: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(body["__type"], "com.amazonaws.sqs#QueueDoesNotExist");
    assert_eq!(body["message"], "The specified queue does not exist.");

    let malformed = post(
        server.addr,
        "/",
        &[("X-Amz-Target", "AmazonSQS.ListQueues")],
        "{not json",
    )
    .await;
    assert_eq!(malformed.status, 400);
    assert!(malformed.body.contains("SerializationException"));
}
