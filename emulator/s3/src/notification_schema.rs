//! Strict schema check of a PutBucketNotificationConfiguration body.
//!
//! s3s's XML deserializer skips elements it does not know (forward compatibility), so a body with
//! a misspelled `<QueueConfigurations>` parsed as "no queues" and silently replaced the bucket's
//! configuration with an empty one, removing the pipeline's trigger. S3 validates the body
//! against its published schema and answers `MalformedXML` (400, "The XML you provided was not
//! well-formed or did not validate against our published schema", S3 API "Error responses",
//! https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html). The element names are
//! those of the `NotificationConfiguration` type in the S3 API reference
//! (https://docs.aws.amazon.com/AmazonS3/latest/API/API_NotificationConfiguration.html and the
//! Queue/Topic/LambdaFunction configuration, NotificationConfigurationFilter, S3KeyFilter and
//! FilterRule pages).
//!
//! Hand-written because there is no maintained XSD validator for Rust and the schema is a dozen
//! element names; quick-xml does the tokenizing. Nesting is bounded by the schema (an unknown
//! element is an error at once), so no input can make this deep.

use quick_xml::events::Event;
use quick_xml::Reader;

/// A position in the schema: what may appear inside the current element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Document,
    Configuration,
    /// A Queue/Topic/CloudFunction configuration; `target` is its destination element.
    Destination {
        target: &'static str,
    },
    EventBridge,
    Filter,
    S3Key,
    FilterRule,
    /// An element holding text only.
    Text,
}

impl Node {
    fn name(self) -> &'static str {
        match self {
            Node::Document => "the document",
            Node::Configuration => "NotificationConfiguration",
            Node::Destination { target } => target,
            Node::EventBridge => "EventBridgeConfiguration",
            Node::Filter => "Filter",
            Node::S3Key => "S3Key",
            Node::FilterRule => "FilterRule",
            Node::Text => "a text element",
        }
    }

    /// The schema node of a child element `name` of `self`, if the schema allows it.
    fn child(self, name: &[u8]) -> Option<Node> {
        let destination = |target| Node::Destination { target };
        Some(match (self, name) {
            (Node::Document, b"NotificationConfiguration") => Node::Configuration,
            (Node::Configuration, b"QueueConfiguration") => destination("Queue"),
            (Node::Configuration, b"TopicConfiguration") => destination("Topic"),
            (Node::Configuration, b"CloudFunctionConfiguration") => destination("CloudFunction"),
            (Node::Configuration, b"EventBridgeConfiguration") => Node::EventBridge,
            (Node::Destination { .. }, b"Id" | b"Event") => Node::Text,
            (Node::Destination { target }, name) if name == target.as_bytes() => Node::Text,
            (Node::Destination { .. }, b"Filter") => Node::Filter,
            (Node::Filter, b"S3Key") => Node::S3Key,
            (Node::S3Key, b"FilterRule") => Node::FilterRule,
            (Node::FilterRule, b"Name" | b"Value") => Node::Text,
            _ => return None,
        })
    }
}

/// Checks `xml` against the NotificationConfiguration schema; `Err` says what is wrong.
pub(crate) fn check(xml: &[u8]) -> Result<(), String> {
    let mut reader = Reader::from_reader(xml);
    let mut open: Vec<Node> = Vec::new();
    let mut seen_root = false;
    loop {
        let parent = open.last().copied().unwrap_or(Node::Document);
        let event = reader
            .read_event()
            .map_err(|e| format!("not well-formed XML: {e}"))?;
        let is_empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(start) | Event::Empty(start) => {
                let name = start.local_name();
                let child = parent
                    .child(name.as_ref())
                    .filter(|_| parent != Node::Document || !seen_root)
                    .ok_or_else(|| {
                        format!(
                            "element <{}> is not allowed in {}",
                            String::from_utf8_lossy(name.as_ref()),
                            parent.name()
                        )
                    })?;
                seen_root = true;
                if !is_empty {
                    open.push(child);
                }
            }
            Event::End(_) => {
                open.pop();
            }
            Event::Text(text)
                if parent != Node::Text && !text.iter().all(u8::is_ascii_whitespace) =>
            {
                return Err(format!("text is not allowed directly in {}", parent.name()));
            }
            Event::CData(_) if parent != Node::Text => {
                return Err(format!("text is not allowed directly in {}", parent.name()));
            }
            Event::DocType(_) => return Err("a DOCTYPE is not allowed".to_owned()),
            Event::Eof => break,
            _ => {}
        }
    }
    if !open.is_empty() {
        return Err("not well-formed XML: the body ends inside an element".to_owned());
    }
    if !seen_root {
        return Err("the body has no NotificationConfiguration element".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    const QUEUE: &str = "<QueueConfiguration><Id>a</Id><Queue>arn:aws:sqs:us-east-1:1:q</Queue>\
        <Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name>\
        <Value>in/</Value></FilterRule></S3Key></Filter></QueueConfiguration>";

    fn config(inner: &str) -> String {
        format!(
            "<?xml version=\"1.0\"?><NotificationConfiguration \
             xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{inner}</NotificationConfiguration>"
        )
    }

    #[test]
    fn valid_configurations_pass() {
        for body in [
            config(QUEUE),
            config(""),
            "<NotificationConfiguration/>".to_owned(),
            config(
                "<EventBridgeConfiguration/><TopicConfiguration><Topic>t</Topic>\
                    <Event>e</Event></TopicConfiguration>",
            ),
        ] {
            assert_eq!(check(body.as_bytes()), Ok(()), "{body}");
        }
    }

    #[test]
    fn unknown_misplaced_or_malformed_elements_fail() {
        for (body, needle) in [
            (
                config(&QUEUE.replace("QueueConfiguration", "QueueConfigurations")),
                "<QueueConfigurations>",
            ),
            (config(&QUEUE.replace("<Id>a</Id>", "<ID>a</ID>")), "<ID>"),
            (
                config(
                    &QUEUE
                        .replace("Queue>arn", "Topic>arn")
                        .replace("q</Queue>", "q</Topic>"),
                ),
                "<Topic>",
            ),
            (config(&QUEUE.replace("<Name>", "<Name><x/>")), "<x>"),
            (config("stray text"), "text"),
            (
                config(QUEUE).replace("</NotificationConfiguration>", ""),
                "well-formed",
            ),
            (
                format!("{}{}", config(""), config("")),
                "not allowed in the document",
            ),
            ("<Other/>".to_owned(), "<Other>"),
            (String::new(), "no NotificationConfiguration"),
        ] {
            let err = check(body.as_bytes()).expect_err(&body);
            assert!(err.contains(needle), "{body}: {err}");
        }
    }
}
