//! Idempotency of the copy under at-least-once delivery. Every output object carries, as S3 user
//! metadata, the source it was made from (bucket, key, ETag, event sequencer). Before copying, the
//! handler reads the output's metadata with HeadObject and [`decide`]s:
//!
//! - no output yet -> write, conditionally (`If-None-Match: *`);
//! - same source, same or older sequencer -> skip (a redelivery, or an event older than the one
//!   applied: it must never overwrite the newer file);
//! - same source, newer sequencer -> overwrite, conditionally (`If-Match: <output ETag>`);
//! - a different source, or an object the pipeline did not write -> permanent error naming both
//!   keys: two source files mapping to one output key (`a/sales_data_2024_03_15.csv` and
//!   `b/sales_data_2024_03_15.csv`) are never silently overwritten.
//!
//! The conditional write closes the race between HeadObject and the write when two invocations
//! handle the same key at once: the loser gets 412/409, which is retried and then decided again
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html>).
//!
//! Sequencers order events of one key only
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html>);
//! the comparison is the core's `sequencer::compare`. S3 user metadata travels in HTTP headers,
//! so the key is stored form-urlencoded like in S3 notifications (it may hold spaces and non-ASCII
//! characters).

use std::cmp::Ordering;
use std::collections::HashMap;

use pipeline_core::event::{decode_s3_key, encode_s3_key};
use pipeline_core::route::s3_uri;
use pipeline_core::sequencer;

/// User metadata names (S3 adds the `x-amz-meta-` prefix and lowercases them).
pub const META_SOURCE_BUCKET: &str = "source-bucket";
pub const META_SOURCE_KEY: &str = "source-key";
pub const META_SOURCE_ETAG: &str = "source-etag";
pub const META_SOURCE_SEQUENCER: &str = "source-sequencer";

/// Which source version an output object was made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceMarker {
    pub bucket: String,
    /// Decoded key.
    pub key: String,
    /// Without quotes.
    pub etag: Option<String>,
    pub sequencer: Option<String>,
}

impl SourceMarker {
    /// The source version an S3 event announces.
    pub fn of(object: &pipeline_core::event::ObjectRef) -> SourceMarker {
        SourceMarker {
            bucket: object.bucket.clone(),
            key: object.key.clone(),
            etag: object.etag.as_deref().map(normalize_etag),
            sequencer: object.sequencer.clone(),
        }
    }

    /// The user metadata to store on the output object.
    pub fn to_metadata(&self) -> HashMap<String, String> {
        let mut metadata = HashMap::from([
            (META_SOURCE_BUCKET.to_string(), self.bucket.clone()),
            (META_SOURCE_KEY.to_string(), encode_s3_key(&self.key)),
        ]);
        if let Some(etag) = &self.etag {
            metadata.insert(META_SOURCE_ETAG.to_string(), etag.clone());
        }
        if let Some(sequencer) = &self.sequencer {
            metadata.insert(META_SOURCE_SEQUENCER.to_string(), sequencer.clone());
        }
        metadata
    }

    /// Reads a marker back; `None` when the object has no (readable) source metadata.
    pub fn from_metadata(metadata: &HashMap<String, String>) -> Option<SourceMarker> {
        let get = |name: &str| {
            metadata
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.clone())
                .filter(|value| !value.is_empty())
        };
        Some(SourceMarker {
            bucket: get(META_SOURCE_BUCKET)?,
            key: decode_s3_key(&get(META_SOURCE_KEY)?).ok()?,
            etag: get(META_SOURCE_ETAG).map(|etag| normalize_etag(&etag)),
            sequencer: get(META_SOURCE_SEQUENCER),
        })
    }

    /// `s3://bucket/key`.
    pub fn uri(&self) -> String {
        s3_uri(&self.bucket, &self.key)
    }
}

/// What the output object currently is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    Missing,
    Present {
        /// The output object's own ETag (for `If-Match`).
        output_etag: Option<String>,
        /// `None`: the object has no pipeline metadata.
        marker: Option<SourceMarker>,
    },
}

/// How a write must be conditioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCondition {
    /// `If-None-Match: *`.
    MustNotExist,
    /// `If-Match: <etag>`.
    MustMatch(String),
    /// The existing object's ETag is unknown: unconditional.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Write(WriteCondition),
    /// The same source version is already applied.
    SkipDuplicate,
    /// A newer version of the same source is already applied.
    SkipOlder {
        applied_sequencer: String,
    },
    /// The output key holds another source's file (or a file the pipeline did not write).
    Collision {
        existing: Option<SourceMarker>,
    },
}

/// Decides what to do with an incoming event for `incoming` given the output's state.
pub fn decide(incoming: &SourceMarker, existing: &Existing) -> Decision {
    let (output_etag, marker) = match existing {
        Existing::Missing => return Decision::Write(WriteCondition::MustNotExist),
        Existing::Present {
            output_etag,
            marker,
        } => (output_etag, marker),
    };
    let Some(applied) = marker else {
        return Decision::Collision { existing: None };
    };
    if applied.bucket != incoming.bucket || applied.key != incoming.key {
        return Decision::Collision {
            existing: Some(applied.clone()),
        };
    }
    let overwrite = || {
        Decision::Write(match output_etag {
            Some(etag) => WriteCondition::MustMatch(etag.clone()),
            None => WriteCondition::None,
        })
    };
    match (&incoming.sequencer, &applied.sequencer) {
        (Some(new), Some(old)) => match sequencer::compare(new, old) {
            Ordering::Greater => overwrite(),
            Ordering::Equal => Decision::SkipDuplicate,
            Ordering::Less => Decision::SkipOlder {
                applied_sequencer: old.clone(),
            },
        },
        // Without sequencers the events cannot be ordered: the same content is a duplicate,
        // different content is written (the latest delivery wins).
        _ => match (&incoming.etag, &applied.etag) {
            (Some(new), Some(old)) if new == old => Decision::SkipDuplicate,
            _ => overwrite(),
        },
    }
}

/// ETags come quoted in HTTP headers (`"abc"`) and bare in S3 event notifications.
pub fn normalize_etag(etag: &str) -> String {
    etag.trim().trim_matches('"').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(key: &str, etag: &str, sequencer: Option<&str>) -> SourceMarker {
        SourceMarker {
            bucket: "src".into(),
            key: key.into(),
            etag: Some(etag.into()),
            sequencer: sequencer.map(str::to_string),
        }
    }

    fn present(marker: SourceMarker) -> Existing {
        Existing::Present {
            output_etag: Some("out".into()),
            marker: Some(marker),
        }
    }

    #[test]
    fn metadata_round_trip_with_unicode_and_spaces() {
        let original = marker(
            "in ü/daily exports/sales_data_2024_03_15.csv",
            "e1",
            Some("0A"),
        );
        let metadata = original.to_metadata();
        assert!(metadata.values().all(|v| v.is_ascii()), "{metadata:?}");
        assert_eq!(SourceMarker::from_metadata(&metadata), Some(original));
        // S3 returns user metadata names lowercased; they are matched case-insensitively.
        let upper: HashMap<String, String> = metadata
            .into_iter()
            .map(|(k, v)| (k.to_uppercase(), v))
            .collect();
        assert!(SourceMarker::from_metadata(&upper).is_some());
        assert_eq!(SourceMarker::from_metadata(&HashMap::new()), None);
    }

    #[test]
    fn first_write_must_not_exist() {
        let incoming = marker("a/x.csv", "e1", Some("01"));
        assert_eq!(
            decide(&incoming, &Existing::Missing),
            Decision::Write(WriteCondition::MustNotExist)
        );
    }

    #[test]
    fn duplicates_and_older_events_are_skipped() {
        let applied = marker("a/x.csv", "e2", Some("0055AED6DCD90281E6"));
        let same = applied.clone();
        assert_eq!(
            decide(&same, &present(applied.clone())),
            Decision::SkipDuplicate
        );
        let older = marker("a/x.csv", "e1", Some("0055AED6DCD90281E5"));
        assert_eq!(
            decide(&older, &present(applied.clone())),
            Decision::SkipOlder {
                applied_sequencer: "0055AED6DCD90281E6".into()
            }
        );
        let newer = marker("a/x.csv", "e3", Some("0055AED6DCD90281E7"));
        assert_eq!(
            decide(&newer, &present(applied)),
            Decision::Write(WriteCondition::MustMatch("out".into()))
        );
    }

    #[test]
    fn without_sequencers_the_etag_decides() {
        let applied = marker("a/x.csv", "e1", None);
        assert_eq!(
            decide(&applied.clone(), &present(applied.clone())),
            Decision::SkipDuplicate
        );
        let changed = marker("a/x.csv", "e2", Some("01"));
        assert_eq!(
            decide(&changed, &present(applied)),
            Decision::Write(WriteCondition::MustMatch("out".into()))
        );
    }

    #[test]
    fn other_sources_collide() {
        let applied = marker("a/sales_data_2024_03_15.csv", "e1", Some("01"));
        let other = marker("b/sales_data_2024_03_15.csv", "e1", Some("02"));
        assert_eq!(
            decide(&other, &present(applied.clone())),
            Decision::Collision {
                existing: Some(applied)
            }
        );
        let foreign = Existing::Present {
            output_etag: None,
            marker: None,
        };
        assert_eq!(
            decide(&other, &foreign),
            Decision::Collision { existing: None }
        );
    }

    #[test]
    fn etags_lose_their_quotes() {
        assert_eq!(normalize_etag("\"abc\""), "abc");
        assert_eq!(normalize_etag("abc-2"), "abc-2");
    }
}
