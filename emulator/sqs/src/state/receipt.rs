//! Receipt handles: opaque to clients, decodable by us.
//!
//! A handle names the queue, the message and the receive it came from (a fresh nonce per
//! receive), so we can tell a malformed handle (ReceiptHandleIsInvalid) from a well-formed but
//! stale one, which DeleteMessage accepts without deleting, as AWS documents: "If you use an old
//! ReceiptHandle, the request will succeed, but the message might not be deleted"
//! (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessage.html).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

const PREFIX: &str = "sqs-emulator-v1";

/// The parts of a decoded receipt handle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub queue_name: String,
    pub message_id: String,
    pub nonce: String,
}

/// Builds the handle for one receive of a message.
pub fn encode(queue_name: &str, message_id: &str, nonce: &str) -> String {
    STANDARD.encode(format!("{PREFIX}\n{queue_name}\n{message_id}\n{nonce}"))
}

/// Decodes a handle; `None` when it is not one we issued.
pub fn decode(handle: &str) -> Option<Receipt> {
    let bytes = STANDARD.decode(handle.trim()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.split('\n');
    if parts.next()? != PREFIX {
        return None;
    }
    let queue_name = parts.next()?.to_string();
    let message_id = parts.next()?.to_string();
    let nonce = parts.next()?.to_string();
    if parts.next().is_some() || queue_name.is_empty() || message_id.is_empty() || nonce.is_empty()
    {
        return None;
    }
    Some(Receipt {
        queue_name,
        message_id,
        nonce,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let handle = encode("q", "m", "n");
        assert_eq!(
            decode(&handle),
            Some(Receipt {
                queue_name: "q".into(),
                message_id: "m".into(),
                nonce: "n".into()
            })
        );
        assert_eq!(decode("not-a-handle"), None);
        assert_eq!(decode(&STANDARD.encode("other\nq\nm\nn")), None);
    }
}
