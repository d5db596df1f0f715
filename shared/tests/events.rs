//! Parses the event samples of the AWS documentation (fixtures under tests/fixtures/, copied from
//! the pages named beside each test) and a few shapes derived from them.

use aws_lambda_events::event::sqs::SqsEvent;
use pipeline_core::event::{parse_sqs_body, EventError, ObjectRef, ParsedBody};

/// S3 User Guide, "Event message structure", example for `s3:ObjectCreated:Put`:
/// https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
const S3_PUT: &str = include_str!("fixtures/s3-put-notification.json");
/// Same page, "Amazon S3 test message".
const S3_TEST_EVENT: &str = include_str!("fixtures/s3-test-event.json");
/// S3 User Guide, "EventBridge event message structure", "Object created" and "Object deleted":
/// https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html
const EVENTBRIDGE_CREATED: &str = include_str!("fixtures/eventbridge-object-created.json");
const EVENTBRIDGE_DELETED: &str = include_str!("fixtures/eventbridge-object-deleted.json");
/// Lambda Developer Guide, "Using AWS Lambda with Amazon SQS", example SQS message event
/// (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html), with the bodies replaced by the
/// two S3 samples above, as S3 -> SQS delivers them.
const LAMBDA_SQS_EVENT: &str = include_str!("fixtures/lambda-sqs-event-s3.json");

#[test]
fn s3_put_notification_from_the_docs() {
    let parsed = parse_sqs_body(S3_PUT).unwrap();
    assert_eq!(
        parsed,
        ParsedBody::Objects(vec![ObjectRef {
            bucket: "mybucket".into(),
            key: "HappyFace.jpg".into(),
            size: Some(1024),
            etag: Some("d41d8cd98f00b204e9800998ecf8427e".into()),
            sequencer: Some("0055AED6DCD90281E5".into()),
            event_name: "ObjectCreated:Put".into(),
            version_id: Some("096fKKXTRTtl3on89fVO.nfljtsv6qko".into()),
        }])
    );
    let ParsedBody::Objects(objects) = parsed else {
        unreachable!()
    };
    assert!(objects[0].is_object_created());
}

#[test]
fn s3_test_event_from_the_docs_is_recognised() {
    assert_eq!(
        parse_sqs_body(S3_TEST_EVENT).unwrap(),
        ParsedBody::TestEvent
    );
}

#[test]
fn eventbridge_object_created_from_the_docs() {
    let ParsedBody::Objects(objects) = parse_sqs_body(EVENTBRIDGE_CREATED).unwrap() else {
        panic!("expected objects");
    };
    assert_eq!(objects.len(), 1);
    let object = &objects[0];
    assert_eq!(object.bucket, "DOC-EXAMPLE-BUCKET1");
    assert_eq!(object.key, "example-key");
    assert_eq!(object.size, Some(5));
    assert_eq!(object.sequencer.as_deref(), Some("617f08299329d189"));
    assert_eq!(
        object.version_id.as_deref(),
        Some("IYV3p45BT0ac8hjHg1houSdS1a.Mro8e")
    );
    assert_eq!(object.event_name, "ObjectCreated:Put");
    assert!(object.is_object_created());

    let ParsedBody::Objects(deleted) = parse_sqs_body(EVENTBRIDGE_DELETED).unwrap() else {
        panic!("expected objects");
    };
    assert_eq!(deleted[0].event_name, "Object Deleted");
    assert!(!deleted[0].is_object_created());
}

#[test]
fn eventbridge_keys_are_not_decoded() {
    let mut value: serde_json::Value = serde_json::from_str(EVENTBRIDGE_CREATED).unwrap();
    value["detail"]["object"]["key"] = "in/a+b c%20.csv".into();
    let ParsedBody::Objects(objects) = parse_sqs_body(&value.to_string()).unwrap() else {
        panic!("expected objects");
    };
    assert_eq!(objects[0].key, "in/a+b c%20.csv");
}

#[test]
fn lambda_sqs_event_whose_bodies_are_s3_messages() {
    let event: SqsEvent = serde_json::from_str(LAMBDA_SQS_EVENT).unwrap();
    assert_eq!(event.records.len(), 2);
    let parsed: Vec<ParsedBody> = event
        .records
        .iter()
        .map(|record| parse_sqs_body(record.body.as_deref().unwrap()).unwrap())
        .collect();
    assert!(
        matches!(&parsed[0], ParsedBody::Objects(objects) if objects[0].key == "HappyFace.jpg")
    );
    assert_eq!(parsed[1], ParsedBody::TestEvent);
    assert_eq!(
        event.records[0]
            .attributes
            .get("ApproximateReceiveCount")
            .map(String::as_str),
        Some("1")
    );
}

/// The doc sample with several records and URL-encoded keys (the doc: "red flower.jpg" becomes
/// "red+flower.jpg").
#[test]
fn several_records_with_encoded_keys() {
    let mut value: serde_json::Value = serde_json::from_str(S3_PUT).unwrap();
    let record = value["Records"][0].clone();
    let keys = [
        "red+flower.jpg",
        "in%2Fsales_data_2024_03_15.csv",
        "a%2Bb+%28copy%29.csv",
    ];
    value["Records"] = keys
        .iter()
        .map(|key| {
            let mut record = record.clone();
            record["s3"]["object"]["key"] = (*key).into();
            record
        })
        .collect();
    let ParsedBody::Objects(objects) = parse_sqs_body(&value.to_string()).unwrap() else {
        panic!("expected objects");
    };
    let decoded: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        decoded,
        [
            "red flower.jpg",
            "in/sales_data_2024_03_15.csv",
            "a+b (copy).csv"
        ]
    );
}

#[test]
fn invalid_records_and_other_bodies_are_permanent_errors() {
    let mut value: serde_json::Value = serde_json::from_str(S3_PUT).unwrap();
    value["Records"][0]["s3"]["object"]["key"] = "100%".into();
    assert!(matches!(
        parse_sqs_body(&value.to_string()),
        Err(EventError::BadKeyEncoding { .. })
    ));
    value["Records"][0]["s3"]["object"]["key"] = "".into();
    assert!(matches!(
        parse_sqs_body(&value.to_string()),
        Err(EventError::InvalidRecord { index: 0, .. })
    ));
    value["Records"][0]["eventSource"] = "aws:sns".into();
    assert!(matches!(
        parse_sqs_body(&value.to_string()),
        Err(EventError::InvalidRecord { .. })
    ));
    // The body of the Lambda guide's own example.
    assert!(matches!(
        parse_sqs_body("test"),
        Err(EventError::NotJson(_))
    ));
}

#[test]
fn sns_envelope_around_an_s3_message() {
    let envelope = serde_json::json!({
        "Type": "Notification",
        "MessageId": "x",
        "TopicArn": "arn:aws:sns:us-west-2:123456789012:topic",
        "Message": S3_PUT,
    });
    let parsed = parse_sqs_body(&envelope.to_string()).unwrap();
    assert!(matches!(parsed, ParsedBody::Objects(objects) if objects.len() == 1));
}
