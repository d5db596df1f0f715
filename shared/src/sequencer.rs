//! Ordering of S3 event `sequencer` values. They order events for ONE object key only: "first
//! right pad the shorter value with zeros, and then do a lexicographical comparison"
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html>).
//! Hex digits are compared case-insensitively (the docs call them hexadecimal values).

use std::cmp::Ordering;

/// Compares two sequencers of the same key; `Greater` means `a` happened later.
pub fn compare(a: &str, b: &str) -> Ordering {
    let length = a.len().max(b.len());
    let padded = |s: &str| {
        s.bytes()
            .map(|b| b.to_ascii_uppercase())
            .chain(std::iter::repeat(b'0'))
            .take(length)
            .collect::<Vec<u8>>()
    };
    padded(a).cmp(&padded(b))
}

/// Whether an event with sequencer `candidate` is newer than the last applied one (`None` when
/// nothing was applied yet, or when either side has no sequencer: then it cannot be skipped).
pub fn is_newer(candidate: Option<&str>, last_applied: Option<&str>) -> bool {
    match (candidate, last_applied) {
        (Some(candidate), Some(last)) => compare(candidate, last) == Ordering::Greater,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_right_then_compares() {
        assert_eq!(
            compare("0055AED6DCD90281E5", "0055AED6DCD90281E5"),
            Ordering::Equal
        );
        assert_eq!(
            compare("0055AED6DCD90281E6", "0055AED6DCD90281E5"),
            Ordering::Greater
        );
        // "1" is padded to "10", which is greater than "0F".
        assert_eq!(compare("1", "0F"), Ordering::Greater);
        assert_eq!(compare("AB", "AB00"), Ordering::Equal);
        assert_eq!(compare("AB", "AB01"), Ordering::Less);
        assert_eq!(
            compare("617f08299329d189", "617F08299329D189"),
            Ordering::Equal
        );
    }

    #[test]
    fn newer_than_last_applied() {
        assert!(is_newer(Some("02"), Some("01")));
        assert!(!is_newer(Some("01"), Some("01")));
        assert!(!is_newer(Some("00FF"), Some("01")));
        assert!(is_newer(None, Some("01")));
        assert!(is_newer(Some("01"), None));
    }
}
