//! MD5 digests SQS returns so clients can verify what it stored.
//!
//! `MD5OfMessageBody` is the hex MD5 of the UTF-8 body. `MD5OfMessageAttributes` (and
//! `MD5OfMessageSystemAttributes`) use the encoding in "Calculating the MD5 message digest for
//! message attributes"
//! (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html):
//! attributes sorted by name; for each, 4-byte big-endian length + UTF-8 bytes of the name, the
//! same for the data type, one transport byte (1 = String/Number, 2 = Binary), then 4-byte length
//! + bytes of the value. Hand-written because it is a few lines over the `md-5` crate.

use std::collections::BTreeMap;

use ::md5::{Digest, Md5};

use crate::state::message::AttributeValue;

/// Hex MD5 of a message body.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// Hex MD5 of a set of message attributes, or `None` when there are none (AWS omits the field).
pub fn md5_of_attributes(attributes: &BTreeMap<String, AttributeValue>) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    let mut hasher = Md5::new();
    // BTreeMap iterates in byte order of the names, which is the order AWS sorts in.
    for (name, value) in attributes {
        push_length_prefixed(&mut hasher, name.as_bytes());
        push_length_prefixed(&mut hasher, value.data_type.as_bytes());
        match &value.binary_value {
            Some(bytes) if value.is_binary() => {
                hasher.update([2u8]);
                push_length_prefixed(&mut hasher, bytes);
            }
            _ => {
                hasher.update([1u8]);
                let text = value.string_value.as_deref().unwrap_or_default();
                push_length_prefixed(&mut hasher, text.as_bytes());
            }
        }
    }
    Some(hex::encode(hasher.finalize()))
}

fn push_length_prefixed(hasher: &mut Md5, bytes: &[u8]) {
    // Lengths are bounded by the message size limit (1 MiB), so they always fit in u32.
    let length = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    hasher.update(length.to_be_bytes());
    hasher.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string_attr(data_type: &str, value: &str) -> AttributeValue {
        AttributeValue {
            data_type: data_type.to_string(),
            string_value: Some(value.to_string()),
            binary_value: None,
        }
    }

    #[test]
    fn body_md5_is_hex_of_utf8() {
        assert_eq!(md5_hex(b"hello"), "5d41402abc4b2a76b9719d911017c592");
    }

    // Reference digests published with the npm package `aws-md5-of-message-attributes`,
    // which implements the documented algorithm.
    #[test]
    fn attribute_md5_matches_reference_vectors() {
        let mut attrs = BTreeMap::new();
        attrs.insert(
            "attribName1".to_string(),
            string_attr("String", "attribValue 1"),
        );
        assert_eq!(
            md5_of_attributes(&attrs).as_deref(),
            Some("19e27d4e946b072f3f58da80d94fd778")
        );

        let mut custom = BTreeMap::new();
        custom.insert(
            "customNumberTypeAttrib".to_string(),
            string_attr("Number.float", "4563442423554324324264524243.32543234"),
        );
        assert_eq!(
            md5_of_attributes(&custom).as_deref(),
            Some("9fe1b90bbd9965bdf77bac517c7d2495")
        );

        let mut binary = BTreeMap::new();
        binary.insert(
            "binaryAttribute".to_string(),
            AttributeValue {
                data_type: "Binary".to_string(),
                string_value: None,
                binary_value: Some(b"Hello binary world!".to_vec()),
            },
        );
        assert_eq!(
            md5_of_attributes(&binary).as_deref(),
            Some("31a92b15d92f8db860eda32aceb656c3")
        );

        let mut all = attrs;
        all.extend(custom);
        all.extend(binary);
        assert_eq!(
            md5_of_attributes(&all).as_deref(),
            Some("c932db14a896c663f83c260297d594ff")
        );
    }

    #[test]
    fn no_attributes_no_digest() {
        assert_eq!(md5_of_attributes(&BTreeMap::new()), None);
    }
}
