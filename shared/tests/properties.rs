//! Property tests: key encoding round-trips, partition paths stay safe, date partitions are real
//! dates, backoff stays in bounds; and (module `untrusted_input`) the parsers of untrusted input
//! never panic on arbitrary input.

#[path = "properties/untrusted_input.rs"]
mod untrusted_input;

use pipeline_core::config::Config;
use pipeline_core::event::{decode_s3_key, encode_s3_key};
use pipeline_core::failure::{RetryPolicy, MAX_VISIBILITY_TIMEOUT_SECONDS};
use pipeline_core::route::route;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Form encoding as S3 describes it ("red flower.jpg" -> "red+flower.jpg"), written with the
/// percent-encoding crate independently of the code under test: space -> '+', ASCII letters,
/// digits and `*-._` kept, everything else `%XX`; optionally keeping '/' too, as some producers do.
fn encode_independently(key: &str, keep_slash: bool) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const FORM: AsciiSet = NON_ALPHANUMERIC
        .remove(b'*')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_');
    const FORM_KEEPING_SLASH: AsciiSet = FORM.remove(b'/');
    let set: &'static AsciiSet = if keep_slash {
        &FORM_KEEPING_SLASH
    } else {
        &FORM
    };
    key.split(' ')
        .map(|part| utf8_percent_encode(part, set).to_string())
        .collect::<Vec<_>>()
        .join("+")
}

fn config() -> &'static Config {
    static CONFIG: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
    CONFIG.get_or_init(load_config)
}

fn load_config() -> Config {
    let mut value: serde_json::Value =
        serde_json::from_str(pipeline_core::config::EMBEDDED_PIPELINE_JSON).unwrap();
    // A permissive pattern so that arbitrary text reaches the partition-value checks.
    value["entities"]["inventory"]["filename_pattern"] = "inv_(.*)_(.*)_(.*)_(.*)\\.csv".into();
    // Keys not named like date parts, so the arbitrary values are not held to a calendar.
    value["entities"]["inventory"]["partition_keys"] = serde_json::json!(["region", "a", "b", "c"]);
    Config::from_json_str(&value.to_string(), &|_| Some("123456789012".into())).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn key_encoding_round_trips(key in "\\PC{0,64}", keep_slash in any::<bool>()) {
        let encoded = encode_independently(&key, keep_slash);
        prop_assert_eq!(decode_s3_key(&encoded).unwrap(), key.clone());
        prop_assert_eq!(encode_s3_key(&key), encode_independently(&key, false));
        prop_assert_eq!(decode_s3_key(&encode_s3_key(&key)).unwrap(), key);
    }

    #[test]
    fn partition_paths_have_no_dot_dot_or_empty_segment(
        a in "\\PC{0,12}", b in "[./=a-z0-9 -]{0,6}", c in ".{0,6}", d in "[0-9.]{0,3}",
        folder in "[a-z/]{0,10}",
    ) {
        let config = config();
        let key = format!("{folder}inv_{a}_{b}_{c}_{d}.csv");
        if let Ok(route) = route(config, &key) {
            let location = route.partition_location.strip_prefix("s3://").unwrap();
            let location = location.strip_suffix('/').unwrap();
            for segment in location.split('/').chain(route.output_key.split('/')) {
                prop_assert!(!segment.is_empty(), "empty segment in {:?}", route);
                prop_assert!(segment != ".." && segment != ".", "dot segment in {:?}", route);
            }
            prop_assert_eq!(route.output_key.matches('/').count(), 1 + route.partition_values.len());
            for (_, value) in &route.partition_values {
                prop_assert!(!value.contains(['/', '=']) && !value.chars().any(char::is_control));
            }
        }
    }

    #[test]
    fn date_partitions_route_exactly_when_the_date_and_hour_are_real(
        year in 0u32..10_000, month in 0u32..16, day in 0u32..40, hour in 0u32..30,
    ) {
        let key = format!("in/events_{year:04}{month:02}{day:02}T{hour:02}.csv");
        let real = year >= 1
            && chrono::NaiveDate::from_ymd_opt(year as i32, month, day).is_some()
            && hour < 24;
        let routed = route(config(), &key);
        prop_assert_eq!(routed.is_ok(), real, "{} -> {:?}", key, routed);
    }

    #[test]
    fn backoff_stays_within_bounds(
        base in 0u32..100_000, cap in 0u32..200_000, count in any::<u32>(), seed in any::<u64>(),
    ) {
        let policy = RetryPolicy { base_seconds: base, cap_seconds: cap };
        let ceiling = policy.ceiling_seconds(count);
        prop_assert!(ceiling <= cap.min(MAX_VISIBILITY_TIMEOUT_SECONDS));
        let delay = policy.backoff_seconds(count, &mut StdRng::seed_from_u64(seed));
        prop_assert!(delay <= ceiling);
        prop_assert!(delay <= MAX_VISIBILITY_TIMEOUT_SECONDS);
        // The ceiling never shrinks as the receive count grows.
        prop_assert!(policy.ceiling_seconds(count.saturating_add(1)) >= ceiling);
    }
}
