//! Property tests over arbitrary input for the parsers that take untrusted bytes (issue 11, item
//! 4): the S3 event body parser, the CSV validator and the config loader. Each must never panic
//! and must reject what it cannot use with its typed error.
//!
//! Case count: `PROPTEST_CASES` (proptest's default of 256 when unset, so CI stays fast). The
//! bench-mode run is the same tests with `PROPTEST_CASES=1000000` (README, "Run the tests").

use pipeline_core::config::{Config, ConfigError, Entity};
use pipeline_core::csv_check::{CsvError, CsvStats, CsvValidator};
use pipeline_core::event::{parse_sqs_body, EventError, ParsedBody};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Strings that steer arbitrary JSON towards the fields the parsers look at.
const WORDS: &[&str] = &[
    "Records",
    "s3",
    "bucket",
    "object",
    "name",
    "key",
    "size",
    "eTag",
    "sequencer",
    "eventName",
    "eventSource",
    "aws:s3",
    "ObjectCreated:Put",
    "s3:TestEvent",
    "Event",
    "detail-type",
    "detail",
    "source",
    "aws.s3",
    "Object Created",
    "reason",
    "Type",
    "Notification",
    "Message",
    "entities",
    "schema",
    "type",
    "csv",
    "header",
    "partition_keys",
    "filename_pattern",
    "${AWS_ACCOUNT_ID}",
    "${X:-y}",
    "${",
    "%",
    "%2",
    "%zz",
    "%C3%A9",
    "%FF",
    "+",
    "",
];

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(WORDS).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ]
}

/// Arbitrary JSON, up to a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(WORDS).prop_map(String::from),
                        "\\PC{0,6}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// JSON pointers of every node of `value` except the root.
fn pointers(value: &Value, prefix: &str, out: &mut Vec<String>) {
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => return,
    };
    for (segment, child) in children {
        let pointer = format!("{prefix}/{segment}");
        out.push(pointer.clone());
        pointers(child, &pointer, out);
    }
}

/// `template` with one node (chosen by `pick`) replaced by `replacement`, or removed when
/// `replacement` is `None`: valid documents broken in one place reach the parsers' deep checks.
fn mutate(template: &Value, pick: prop::sample::Index, replacement: Option<Value>) -> Value {
    let mut value = template.clone();
    let mut all = Vec::new();
    pointers(&value, "", &mut all);
    let pointer = pick.get(&all);
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    let last = last.replace("~1", "/").replace("~0", "~");
    match (value.pointer_mut(parent).unwrap(), replacement) {
        (Value::Object(map), Some(new)) => {
            map.insert(last, new);
        }
        (Value::Object(map), None) => {
            map.remove(&last);
        }
        (Value::Array(items), Some(new)) => items[last.parse::<usize>().unwrap()] = new,
        (Value::Array(items), None) => {
            items.remove(last.parse::<usize>().unwrap());
        }
        _ => unreachable!("pointers only name children of containers"),
    }
    value
}

// ---- S3 event bodies ----

fn s3_notification() -> Value {
    json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2024-01-15T10:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0", "configurationId": "c",
            "bucket": {"name": "src", "arn": "arn:aws:s3:::src"},
            "object": {"key": "in/sales+data%2B1.csv", "size": 10, "eTag": "abc", "sequencer": "00A"}
        }
    }]})
}

fn eventbridge_event() -> Value {
    json!({
        "version": "0", "id": "1", "detail-type": "Object Created", "source": "aws.s3",
        "account": "123456789012", "time": "2024-01-15T10:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:s3:::src"],
        "detail": {"version": "0", "bucket": {"name": "src"},
                   "object": {"key": "in/a.csv", "size": 1, "etag": "e", "sequencer": "1"},
                   "reason": "PutObject"}
    })
}

/// What must hold for any body: no panic (the call returns), an error that says something, and
/// accepted objects that name a bucket and a key.
fn check_event_body(body: &str) -> Result<(), TestCaseError> {
    match parse_sqs_body(body) {
        Ok(ParsedBody::TestEvent) => {}
        Ok(ParsedBody::Objects(objects)) => {
            for object in objects {
                prop_assert!(
                    !object.bucket.is_empty() && !object.key.is_empty(),
                    "{:?}",
                    object
                );
            }
        }
        Err(error) => {
            prop_assert!(!error.to_string().is_empty());
            if let EventError::BadKeyEncoding { key, .. } = &error {
                prop_assert!(
                    body.contains(key.as_str()) || serde_json::from_str::<Value>(body).is_ok()
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn event_body_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check_event_body(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn event_body_arbitrary_json(value in json_value()) {
        check_event_body(&value.to_string())?;
    }

    #[test]
    fn event_body_one_field_broken(
        eventbridge in any::<bool>(), sns in any::<bool>(), pick in any::<prop::sample::Index>(),
        replacement in prop::option::weighted(0.8, json_value()),
    ) {
        let template = if eventbridge { eventbridge_event() } else { s3_notification() };
        let mut body = mutate(&template, pick, replacement).to_string();
        if sns {
            body = json!({"Type": "Notification", "Message": body}).to_string();
        }
        check_event_body(&body)?;
    }
}

// ---- CSV validator ----

fn csv_entity() -> &'static Entity {
    static ENTITY: std::sync::OnceLock<Entity> = std::sync::OnceLock::new();
    ENTITY.get_or_init(|| {
        let mut value: Value =
            serde_json::from_str(pipeline_core::config::EMBEDDED_PIPELINE_JSON).unwrap();
        // A small record limit, so the arbitrary input reaches RecordTooLarge too.
        value["entities"]["events"]["csv"]["max_record_bytes"] = 96.into();
        let config =
            Config::from_json_str(&value.to_string(), &|_| Some("123456789012".into())).unwrap();
        config.entities["events"].clone()
    })
}

const CSV_HEADER: &[u8] = b"event_id,occurred_at,user_id,event_type,is_mobile,duration_ms";

/// Bytes that are mostly CSV-shaped (so records get past the header and into type checks), with
/// arbitrary bytes mixed in.
fn csv_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            &b","[..],
            b"\"",
            b"\"\"",
            b"\n",
            b"\r\n",
            b"\r",
            b"\\",
            b"e1",
            b"2024-01-15 10:00:00",
            b"42",
            b"-1",
            b"true",
            b"false",
            b"page_view",
            b"\xEF\xBB\xBF",
            b"\xFF",
            b"",
            b"e1,2024-01-15 10:00:00,42,page_view,true,7\n",
        ])
        .prop_map(<[u8]>::to_vec),
        prop::collection::vec(any::<u8>(), 0..4),
    ];
    (any::<bool>(), prop::collection::vec(piece, 0..40)).prop_map(|(header, pieces)| {
        let mut bytes = if header {
            [CSV_HEADER, b"\n"].concat()
        } else {
            Vec::new()
        };
        bytes.extend(pieces.concat());
        bytes
    })
}

fn validate_in_chunks(bytes: &[u8], cuts: &[usize]) -> Result<CsvStats, CsvError> {
    let mut validator = CsvValidator::new(csv_entity());
    let mut start = 0;
    for &cut in cuts {
        let end = cut.clamp(start, bytes.len());
        validator.feed(&bytes[start..end])?;
        start = end;
    }
    validator.feed(&bytes[start..])?;
    validator.finish()
}

proptest! {
    #![proptest_config(ProptestConfig::default())]

    /// Any split gives the result of one chunk, errors carry a line inside the file, and a valid
    /// file counts its bytes.
    #[test]
    fn csv_any_bytes_any_split_same_result(
        bytes in prop_oneof![csv_bytes(), prop::collection::vec(any::<u8>(), 0..256)],
        mut cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        for cut in &mut cuts {
            *cut %= bytes.len() + 1;
        }
        cuts.sort_unstable();
        let whole = validate_in_chunks(&bytes, &[]);
        let split = validate_in_chunks(&bytes, &cuts);
        prop_assert_eq!(&split, &whole, "cuts {:?}", cuts);
        match whole {
            Ok(stats) => prop_assert_eq!(stats.bytes, bytes.len() as u64),
            Err(error) => {
                prop_assert!(!error.to_string().is_empty());
                let lines = 1 + bytes.iter().filter(|&&b| b == b'\n' || b == b'\r').count() as u64;
                if let Some(line) = error.line() {
                    prop_assert!((1..=lines).contains(&line), "{:?} in {} line(s)", error, lines);
                }
            }
        }
    }
}

// ---- Config loader ----

fn check_config(text: &str) -> Result<(), TestCaseError> {
    let lookup = |name: &str| (name == "AWS_ACCOUNT_ID").then(|| "123456789012".to_string());
    match Config::from_json_str(text, &lookup) {
        Ok(config) => prop_assert!(!config.entities.is_empty()),
        Err(ConfigError::Syntax(message)) => prop_assert!(!message.is_empty()),
        // `path` may be empty: it names the offending key, and the key can be `""`.
        Err(ConfigError::Invalid { path, message }) => {
            prop_assert!(!message.is_empty(), "{}: {}", path, message)
        }
        Err(error @ ConfigError::Io { .. }) => prop_assert!(false, "no file was read: {}", error),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn config_arbitrary_text(text in "\\PC{0,200}") {
        check_config(&text)?;
    }

    #[test]
    fn config_arbitrary_json(value in json_value()) {
        check_config(&value.to_string())?;
    }

    #[test]
    fn config_one_field_broken(
        pick in any::<prop::sample::Index>(), replacement in prop::option::weighted(0.8, json_value()),
    ) {
        let shipped: Value = serde_json::from_str(pipeline_core::config::EMBEDDED_PIPELINE_JSON).unwrap();
        check_config(&mutate(&shipped, pick, replacement).to_string())?;
    }
}
