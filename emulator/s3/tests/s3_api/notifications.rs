//! Bucket notifications to queues: configuration, validation, the test event, record shape,
//! URL-encoded keys, prefix/suffix filters, event names per operation, failed deliveries.

use aws_sdk_s3::operation::RequestId as _;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, Event, FilterRule, FilterRuleName,
    NotificationConfiguration, NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
};
use emulator_s3::QueueNotification;
use serde_json::Value;

use crate::common::{code_of, md5, start};

const QUEUE: &str = "arn:aws:sqs:us-east-1:000000000000:incoming";
const REMOVALS: &str = "arn:aws:sqs:us-east-1:000000000000:removals";

fn queue_config(
    id: &str,
    arn: &str,
    events: &[&str],
    prefix: Option<&str>,
    suffix: Option<&str>,
) -> QueueConfiguration {
    let mut rules = Vec::new();
    if let Some(p) = prefix {
        rules.push(
            FilterRule::builder()
                .name(FilterRuleName::Prefix)
                .value(p)
                .build(),
        );
    }
    if let Some(s) = suffix {
        rules.push(
            FilterRule::builder()
                .name(FilterRuleName::Suffix)
                .value(s)
                .build(),
        );
    }
    let mut b = QueueConfiguration::builder().id(id).queue_arn(arn);
    for e in events {
        b = b.events(Event::from(*e));
    }
    if !rules.is_empty() {
        b = b.filter(
            NotificationConfigurationFilter::builder()
                .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
                .build(),
        );
    }
    b.build().unwrap()
}

#[tokio::test]
async fn configuration_validation_and_test_event() {
    let s3 = start().await;
    let c = &s3.client;
    s3.emulator.create_bucket("notify").unwrap();
    let config = NotificationConfiguration::builder()
        .queue_configurations(queue_config(
            "csv",
            QUEUE,
            &["s3:ObjectCreated:*"],
            Some("in/"),
            Some(".csv"),
        ))
        .build();
    // The queue does not exist yet: S3 cannot validate the destination.
    let err = c
        .put_bucket_notification_configuration()
        .bucket("notify")
        .notification_configuration(config.clone())
        .send()
        .await;
    assert_eq!(code_of(err), "InvalidArgument");
    assert!(s3.sink.messages_for(QUEUE).is_empty());

    s3.sink.add_queue(QUEUE);
    c.put_bucket_notification_configuration()
        .bucket("notify")
        .notification_configuration(config)
        .send()
        .await
        .unwrap();
    let messages = s3.sink.messages_for(QUEUE);
    assert_eq!(messages.len(), 1);
    let test_event = &messages[0];
    assert_eq!(test_event["Service"], "Amazon S3");
    assert_eq!(test_event["Event"], "s3:TestEvent");
    assert_eq!(test_event["Bucket"], "notify");
    assert!(test_event["Time"].as_str().unwrap().ends_with('Z'));
    assert!(test_event["RequestId"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    assert!(test_event["HostId"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(test_event.get("Records").is_none());

    let got = c
        .get_bucket_notification_configuration()
        .bucket("notify")
        .send()
        .await
        .unwrap();
    let queues = got.queue_configurations();
    assert_eq!(queues.len(), 1);
    assert_eq!(queues[0].id(), Some("csv"));
    assert_eq!(queues[0].queue_arn(), QUEUE);
    assert_eq!(queues[0].events(), [Event::S3ObjectCreated]);
    let rules = queues[0]
        .filter()
        .and_then(|f| f.key())
        .map(|k| k.filter_rules())
        .unwrap();
    let rules: Vec<_> = rules
        .iter()
        .map(|r| (r.name().unwrap().as_str(), r.value().unwrap()))
        .collect();
    assert_eq!(rules, [("Prefix", "in/"), ("Suffix", ".csv")]);

    let bad_event = NotificationConfiguration::builder()
        .queue_configurations(queue_config(
            "x",
            QUEUE,
            &["s3:ObjectCreated:Nope"],
            None,
            None,
        ))
        .build();
    assert_eq!(
        code_of(
            c.put_bucket_notification_configuration()
                .bucket("notify")
                .notification_configuration(bad_event)
                .send()
                .await
        ),
        "InvalidArgument"
    );
}

fn record_of(s3_sink_records: &[Value], key_encoded: &str) -> Value {
    s3_sink_records
        .iter()
        .find(|r| r["s3"]["object"]["key"] == key_encoded)
        .cloned()
        .unwrap_or_else(|| panic!("no record for {key_encoded} in {s3_sink_records:#?}"))
}

#[tokio::test]
async fn object_events_have_s3_shape_and_respect_filters() {
    let s3 = start().await;
    let c = &s3.client;
    s3.emulator.create_bucket("events").unwrap();
    s3.sink.add_queue(QUEUE);
    s3.sink.add_queue(REMOVALS);
    let config = NotificationConfiguration::builder()
        .queue_configurations(queue_config(
            "created",
            QUEUE,
            &["s3:ObjectCreated:*"],
            Some("in/"),
            Some(".csv"),
        ))
        .queue_configurations(queue_config(
            "removed",
            REMOVALS,
            &["s3:ObjectRemoved:*"],
            None,
            None,
        ))
        .build();
    c.put_bucket_notification_configuration()
        .bucket("events")
        .notification_configuration(config)
        .send()
        .await
        .unwrap();

    let key = "in/sales 2024/März=3 ü+x.csv";
    let body = b"id,amount\n1,2\n";
    let put = c
        .put_object()
        .bucket("events")
        .key(key)
        .body(ByteStream::from_static(body))
        .send()
        .await
        .unwrap();
    let request_id = put.request_id().unwrap().to_owned();
    // Filtered out: wrong suffix, wrong prefix.
    for other in ["in/readme.txt", "out/x.csv"] {
        c.put_object()
            .bucket("events")
            .key(other)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }

    let records = s3.sink.records_for(QUEUE);
    assert_eq!(records.len(), 1, "{records:#?}");
    let encoded = "in/sales+2024/M%C3%A4rz%3D3+%C3%BC%2Bx.csv";
    let r = record_of(&records, encoded);
    assert_eq!(r["eventVersion"], "2.1");
    assert_eq!(r["eventSource"], "aws:s3");
    assert_eq!(r["awsRegion"], "us-east-1");
    assert_eq!(r["eventName"], "ObjectCreated:Put");
    let time = r["eventTime"].as_str().unwrap();
    assert!(
        time.ends_with('Z') && time.len() == "2024-01-01T00:00:00.000Z".len(),
        "{time}"
    );
    assert!(r["userIdentity"]["principalId"].as_str().is_some());
    assert_eq!(r["requestParameters"]["sourceIPAddress"], "127.0.0.1");
    assert_eq!(
        r["responseElements"]["x-amz-request-id"],
        request_id.as_str()
    );
    assert!(r["responseElements"]["x-amz-id-2"].as_str().is_some());
    let s3r = &r["s3"];
    assert_eq!(s3r["s3SchemaVersion"], "1.0");
    assert_eq!(s3r["configurationId"], "created");
    assert_eq!(s3r["bucket"]["name"], "events");
    assert_eq!(s3r["bucket"]["arn"], "arn:aws:s3:::events");
    assert!(s3r["bucket"]["ownerIdentity"]["principalId"]
        .as_str()
        .is_some());
    assert_eq!(s3r["object"]["size"], body.len());
    assert_eq!(s3r["object"]["eTag"], hex::encode(md5(body)));
    let first_sequencer = s3r["object"]["sequencer"].as_str().unwrap().to_owned();
    assert!(first_sequencer.chars().all(|ch| ch.is_ascii_hexdigit()));
    // Decoding as a form gives the key back.
    let decoded: String = form_urlencoded::parse(format!("k={encoded}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned();
    assert_eq!(decoded, key);

    // Copy, multipart completion and a second put of the same key.
    c.copy_object()
        .bucket("events")
        .key("in/copy.csv")
        .copy_source("events/out/x.csv")
        .send()
        .await
        .unwrap();
    let upload = c
        .create_multipart_upload()
        .bucket("events")
        .key("in/multi.csv")
        .send()
        .await
        .unwrap();
    let upload_id = upload.upload_id().unwrap();
    let part = c
        .upload_part()
        .bucket("events")
        .key("in/multi.csv")
        .upload_id(upload_id)
        .part_number(1)
        .body(ByteStream::from_static(b"a,b\n"))
        .send()
        .await
        .unwrap();
    c.complete_multipart_upload()
        .bucket("events")
        .key("in/multi.csv")
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    c.put_object()
        .bucket("events")
        .key(key)
        .body(ByteStream::from_static(b"id\n"))
        .send()
        .await
        .unwrap();

    let records = s3.sink.records_for(QUEUE);
    let names: Vec<_> = records
        .iter()
        .map(|r| r["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "ObjectCreated:Put",
            "ObjectCreated:Copy",
            "ObjectCreated:CompleteMultipartUpload",
            "ObjectCreated:Put"
        ]
    );
    let multi = record_of(&records, "in/multi.csv");
    assert!(multi["s3"]["object"]["eTag"]
        .as_str()
        .unwrap()
        .ends_with("-1"));
    let latest = records.last().unwrap()["s3"]["object"]["sequencer"]
        .as_str()
        .unwrap();
    assert!(
        format!("{latest:0>32}") > format!("{first_sequencer:0>32}"),
        "sequencer must increase for the same key"
    );
    assert!(s3.sink.records_for(REMOVALS).is_empty());

    c.delete_object()
        .bucket("events")
        .key(key)
        .send()
        .await
        .unwrap();
    let removed = s3.sink.records_for(REMOVALS);
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0]["eventName"], "ObjectRemoved:Delete");
    assert_eq!(removed[0]["s3"]["object"]["key"], encoded);
    assert_eq!(removed[0]["s3"]["configurationId"], "removed");
}

#[tokio::test]
async fn in_process_configuration_and_failed_delivery() {
    let s3 = start().await;
    s3.emulator.create_bucket("boot").unwrap();
    s3.emulator.create_bucket("boot").unwrap(); // idempotent
    s3.sink.add_queue(QUEUE);
    let notifications = vec![QueueNotification {
        id: "pipeline".to_owned(),
        queue_arn: QUEUE.to_owned(),
        events: vec!["s3:ObjectCreated:*".to_owned()],
        prefix: None,
        suffix: Some(".csv".to_owned()),
    }];
    s3.emulator
        .put_queue_notifications("boot", notifications.clone())
        .unwrap();
    assert_eq!(s3.sink.messages_for(QUEUE)[0]["Event"], "s3:TestEvent");
    let err = s3
        .emulator
        .put_queue_notifications("missing-bucket", notifications)
        .unwrap_err();
    assert_eq!(err.code, "NoSuchBucket");

    // S3 does not fail the PUT when the notification cannot be delivered.
    s3.sink.failing.lock().unwrap().insert(QUEUE.to_owned());
    s3.client
        .put_object()
        .bucket("boot")
        .key("a.csv")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    assert!(s3.sink.records_for(QUEUE).is_empty());
    s3.client
        .head_object()
        .bucket("boot")
        .key("a.csv")
        .send()
        .await
        .unwrap();
}

type PutNotificationError = aws_sdk_s3::error::SdkError<
    aws_sdk_s3::operation::put_bucket_notification_configuration::PutBucketNotificationConfigurationError,
    aws_sdk_s3::config::http::HttpResponse,
>;

/// Sends PutBucketNotificationConfiguration through the real SDK, with the serialized body
/// replaced by `xml` before signing: the SDK's builders cannot express a misspelled element.
async fn put_raw_notification_xml(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    xml: &'static str,
) -> Result<(), PutNotificationError> {
    c.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(NotificationConfiguration::builder().build())
        .customize()
        .mutate_request(move |request| {
            for checksum in [
                "content-md5",
                "x-amz-checksum-crc32",
                "x-amz-sdk-checksum-algorithm",
            ] {
                request.headers_mut().remove(checksum);
            }
            request
                .headers_mut()
                .insert("content-length", xml.len().to_string());
            *request.body_mut() = aws_sdk_s3::primitives::SdkBody::from(xml);
        })
        .send()
        .await
        .map(|_| ())
}

/// Issue 11: a misspelled element used to be skipped by the XML parser, so the call returned
/// 200 and replaced the configuration with an empty one. S3 validates against its schema.
#[tokio::test]
async fn schema_invalid_configuration_is_malformed_xml_and_changes_nothing() {
    let s3 = start().await;
    let c = &s3.client;
    s3.emulator.create_bucket("notify").unwrap();
    s3.sink.add_queue(QUEUE);
    let config = NotificationConfiguration::builder()
        .queue_configurations(queue_config(
            "csv",
            QUEUE,
            &["s3:ObjectCreated:*"],
            None,
            None,
        ))
        .build();
    c.put_bucket_notification_configuration()
        .bucket("notify")
        .notification_configuration(config)
        .send()
        .await
        .unwrap();
    let misspelled = [
        // Plural element name: the whole configuration was silently dropped.
        "<NotificationConfiguration><QueueConfigurations><Queue>arn:aws:sqs:us-east-1:000000000000:incoming</Queue>\
         <Event>s3:ObjectCreated:*</Event></QueueConfigurations></NotificationConfiguration>",
        // Unknown child of a QueueConfiguration: the filter was silently dropped.
        "<NotificationConfiguration><QueueConfiguration><Queue>arn:aws:sqs:us-east-1:000000000000:incoming</Queue>\
         <Event>s3:ObjectCreated:*</Event><Filters><S3Key><FilterRule><Name>prefix</Name><Value>x/</Value>\
         </FilterRule></S3Key></Filters></QueueConfiguration></NotificationConfiguration>",
        "<NotificationConfiguration><QueueConfiguration>",
    ];
    for xml in misspelled {
        let err = put_raw_notification_xml(c, "notify", xml)
            .await
            .expect_err(xml);
        let raw = err.raw_response().expect("an HTTP answer");
        assert_eq!(raw.status().as_u16(), 400, "{xml}");
        assert_eq!(code_of::<(), _>(Err(err)), "MalformedXML", "{xml}");
    }
    let got = c
        .get_bucket_notification_configuration()
        .bucket("notify")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.queue_configurations().len(),
        1,
        "configuration unchanged"
    );
    assert_eq!(got.queue_configurations()[0].id(), Some("csv"));
    // A schema-valid body sent the same way still works (the check is not the rewrite).
    put_raw_notification_xml(c, "notify", "<NotificationConfiguration/>")
        .await
        .unwrap();
    let got = c
        .get_bucket_notification_configuration()
        .bucket("notify")
        .send()
        .await
        .unwrap();
    assert!(got.queue_configurations().is_empty());
}
