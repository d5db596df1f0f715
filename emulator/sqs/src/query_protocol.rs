//! Query-protocol wire encoding (older SDKs and the aws CLI v1): form parameters in, XML out.
//!
//! Requests are flattened (`Attribute.1.Name=..&Attribute.1.Value=..`,
//! `SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.StringValue=..`); they are rebuilt
//! into the awsJson1_0 input shape so operations see one format. Replies are
//! `<OpResponse><OpResult>..</OpResult><ResponseMetadata>..</ResponseMetadata></OpResponse>` and
//! errors `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`
//! (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-responses.html).
//! The XML is written by hand (a fixed, flat shape); quick-xml does the text escaping.

use std::collections::BTreeMap;

use axum::body::Body;
use http::{header, HeaderValue, Response, StatusCode};
use serde_json::{Map, Value};

use crate::errors::SqsError;

const NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// How a flattened member becomes a JSON member.
enum Shape {
    /// `Name.N=value` -> `"Json": ["value", ..]`.
    List(&'static str),
    /// `Name.N.<Key>=k&Name.N.<Value>=v` -> `"Json": {k: v}` (v may be a structure).
    Map(&'static str, &'static str, &'static str),
    /// `Name.N.Member=..` -> `"Json": [{"Member": ..}, ..]`.
    Structures(&'static str),
}

fn shape_of(name: &str) -> Option<Shape> {
    Some(match name {
        "AttributeName" => Shape::List("AttributeNames"),
        "MessageAttributeName" => Shape::List("MessageAttributeNames"),
        "MessageSystemAttributeName" => Shape::List("MessageSystemAttributeNames"),
        "TagKey" => Shape::List("TagKeys"),
        "Attribute" => Shape::Map("Attributes", "Name", "Value"),
        "Tag" => Shape::Map("Tags", "Key", "Value"),
        "MessageAttribute" => Shape::Map("MessageAttributes", "Name", "Value"),
        "MessageSystemAttribute" => Shape::Map("MessageSystemAttributes", "Name", "Value"),
        "SendMessageBatchRequestEntry"
        | "DeleteMessageBatchRequestEntry"
        | "ChangeMessageVisibilityBatchRequestEntry" => Shape::Structures("Entries"),
        _ => return None,
    })
}

/// Reads `Action` and the other parameters from the URL query and the form body.
pub fn parse_request(query: Option<&str>, body: &[u8]) -> (Option<String>, Value) {
    let mut params: Vec<(String, String)> = Vec::new();
    if let Some(query) = query {
        params.extend(form_urlencoded::parse(query.as_bytes()).into_owned());
    }
    params.extend(form_urlencoded::parse(body).into_owned());
    let mut action = None;
    let mut members = Vec::new();
    for (key, value) in params {
        match key.as_str() {
            "Action" => action = Some(value),
            "Version" => {}
            _ => members.push((key.split('.').map(str::to_string).collect(), value)),
        }
    }
    (action, build(members))
}

/// Rebuilds a structure from `(path, value)` pairs relative to it.
fn build(members: Vec<(Vec<String>, String)>) -> Value {
    let mut object = Map::new();
    let mut groups: BTreeMap<String, Vec<(Vec<String>, String)>> = BTreeMap::new();
    for (mut path, value) in members {
        if path.len() == 1 {
            object.insert(path.remove(0), Value::String(value));
        } else if !path.is_empty() {
            let head = path.remove(0);
            groups.entry(head).or_default().push((path, value));
        }
    }
    for (head, members) in groups {
        match shape_of(&head) {
            Some(shape) => {
                let (json_name, value) = build_collection(shape, members);
                object.insert(json_name.to_string(), value);
            }
            None => {
                object.insert(head, build(members));
            }
        }
    }
    Value::Object(object)
}

fn build_collection(shape: Shape, members: Vec<(Vec<String>, String)>) -> (&'static str, Value) {
    // Group by the 1-based index; non-numeric indexes are ignored.
    let mut by_index: BTreeMap<u32, Vec<(Vec<String>, String)>> = BTreeMap::new();
    for (mut path, value) in members {
        if let Ok(index) = path.remove(0).parse::<u32>() {
            by_index.entry(index).or_default().push((path, value));
        }
    }
    match shape {
        Shape::List(name) => {
            let items = by_index
                .into_values()
                .filter_map(|mut entries| {
                    let position = entries.iter().position(|(p, _)| p.is_empty())?;
                    Some(Value::String(entries.swap_remove(position).1))
                })
                .collect();
            (name, Value::Array(items))
        }
        Shape::Map(name, key_member, value_member) => {
            let mut map = Map::new();
            for entries in by_index.into_values() {
                let entry = build(entries);
                if let Some(key) = entry.get(key_member).and_then(Value::as_str) {
                    let value = entry.get(value_member).cloned().unwrap_or(Value::Null);
                    map.insert(key.to_string(), value);
                }
            }
            (name, Value::Object(map))
        }
        Shape::Structures(name) => (
            name,
            Value::Array(by_index.into_values().map(build).collect()),
        ),
    }
}

/// Encodes an operation's result as XML.
pub fn response(action: &str, request_id: &str, result: Result<Value, SqsError>) -> Response<Body> {
    let (status, xml) = match result {
        Ok(value) => {
            let mut xml = format!(r#"<?xml version="1.0"?><{action}Response xmlns="{NAMESPACE}">"#);
            if value.as_object().is_some_and(|o| !o.is_empty()) {
                xml.push_str(&format!("<{action}Result>"));
                write_members(&mut xml, action, &value);
                xml.push_str(&format!("</{action}Result>"));
            }
            xml.push_str(&format!(
                "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
            ));
            (StatusCode::OK, xml)
        }
        Err(err) => (
            StatusCode::from_u16(err.code.status()).unwrap_or(StatusCode::BAD_REQUEST),
            format!(
                r#"<?xml version="1.0"?><ErrorResponse xmlns="{NAMESPACE}"><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message><Detail/></Error><RequestId>{request_id}</RequestId></ErrorResponse>"#,
                err.code.fault(),
                err.code.query_code(),
                escape(&err.message),
            ),
        ),
    };
    let mut response = Response::new(Body::from(xml));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    response
}

/// XML element name of each item of a JSON list member, per operation.
fn item_name(action: &str, member: &str) -> &'static str {
    match (member, action) {
        ("QueueUrls" | "queueUrls", _) => "QueueUrl",
        ("Messages", _) => "Message",
        ("Failed", _) => "BatchResultErrorEntry",
        ("Successful", "SendMessageBatch") => "SendMessageBatchResultEntry",
        ("Successful", "DeleteMessageBatch") => "DeleteMessageBatchResultEntry",
        ("Successful", _) => "ChangeMessageVisibilityBatchResultEntry",
        ("Results", _) => "Result",
        _ => "member",
    }
}

fn write_members(xml: &mut String, action: &str, value: &Value) {
    let Some(object) = value.as_object() else {
        return;
    };
    for (name, member) in object {
        match (name.as_str(), member) {
            ("Attributes", Value::Object(map)) => write_map(xml, "Attribute", "Name", map),
            ("Tags", Value::Object(map)) => write_map(xml, "Tag", "Key", map),
            ("MessageAttributes", Value::Object(map)) => {
                for (key, attribute) in map {
                    xml.push_str("<MessageAttribute><Name>");
                    xml.push_str(&escape(key));
                    xml.push_str("</Name><Value>");
                    write_members(xml, action, attribute);
                    xml.push_str("</Value></MessageAttribute>");
                }
            }
            (_, Value::Array(items)) => {
                let element = item_name(action, name);
                for item in items {
                    xml.push_str(&format!("<{element}>"));
                    match item {
                        Value::Object(_) => write_members(xml, action, item),
                        other => xml.push_str(&escape(&scalar(other))),
                    }
                    xml.push_str(&format!("</{element}>"));
                }
            }
            (_, Value::Object(_)) => {
                xml.push_str(&format!("<{name}>"));
                write_members(xml, action, member);
                xml.push_str(&format!("</{name}>"));
            }
            (_, Value::Null) => {}
            (_, other) => {
                xml.push_str(&format!("<{name}>{}</{name}>", escape(&scalar(other))));
            }
        }
    }
}

fn write_map(xml: &mut String, element: &str, key_name: &str, map: &Map<String, Value>) {
    for (key, value) in map {
        xml.push_str(&format!(
            "<{element}><{key_name}>{}</{key_name}><Value>{}</Value></{element}>",
            escape(key),
            escape(&scalar(value))
        ));
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Escapes text content; carriage returns become `&#xD;` so XML parsers keep them (a literal
/// CR would be normalised to LF and break MD5OfBody).
fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).replace('\r', "&#xD;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rebuilds_nested_members() {
        let body = "Action=SendMessageBatch&QueueUrl=u\
            &SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=x\
            &SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=k\
            &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=String\
            &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=v\
            &SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=y\
            &AttributeName.1=All&Attribute.1.Name=DelaySeconds&Attribute.1.Value=5";
        let (action, input) = parse_request(None, body.as_bytes());
        assert_eq!(action.as_deref(), Some("SendMessageBatch"));
        assert_eq!(
            input,
            json!({
                "QueueUrl": "u",
                "AttributeNames": ["All"],
                "Attributes": {"DelaySeconds": "5"},
                "Entries": [
                    {"Id": "a", "MessageBody": "x",
                     "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
                    {"Id": "b", "MessageBody": "y"}
                ]
            })
        );
    }

    #[test]
    fn xml_encoding_escapes_and_flattens() {
        let value = json!({"Messages": [{"Body": "a<b\r", "Attributes": {"SenderId": "x"}}]});
        let response = response("ReceiveMessage", "rid", Ok(value));
        assert_eq!(response.status(), StatusCode::OK);
        let mut xml = String::new();
        write_members(
            &mut xml,
            "ReceiveMessage",
            &json!({"Messages": [{"Body": "a<b\r", "Attributes": {"SenderId": "x"}}]}),
        );
        assert_eq!(
            xml,
            "<Message><Attribute><Name>SenderId</Name><Value>x</Value></Attribute>\
             <Body>a&lt;b&#xD;</Body></Message>"
        );
    }
}
