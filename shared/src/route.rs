//! Routing a decoded source key to its entity, partition values, output key
//! (`table/k1=v1/k2=v2/file`) and partition folder (`s3://<analytics>/table/k1=v1/k2=v2/`).
//! Entity patterns are matched against the file name (the key's last `/` segment) in full; the
//! folders above it do not matter. Partition values become path segments, so only safe ones are
//! accepted, and date-like ones (keys `year`/`month`/`day`/`hour`) must form a real date and hour
//! ([`crate::partition_date`]).

use crate::config::{Config, Entity};
use crate::partition_date::check_date_parts;

/// Where one source object goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Entity config key (`sales`).
    pub entity: String,
    pub table_name: String,
    /// `(key, value)` in `partition_keys` order.
    pub partition_values: Vec<(String, String)>,
    /// Key in the analytics bucket: `table/k1=v1/.../file` for CSV, `table/k1=v1/.../stem.parquet`
    /// for Parquet (see [`Entity::output_file_name`]).
    pub output_key: String,
    /// Partition folder: `s3://<analytics>/table/k1=v1/.../` (ends in `/`).
    pub partition_location: String,
}

impl Route {
    /// The partition values alone, in key order (Glue `PartitionInput.Values`).
    pub fn values(&self) -> Vec<String> {
        self.partition_values
            .iter()
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Why a key cannot be routed. All of these are permanent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("key {key:?} has no file name (it ends in '/' or is empty)")]
    NoFileName { key: String },
    #[error("file name {file_name:?} is not a safe path segment: {reason}")]
    UnsafeFileName { file_name: String, reason: String },
    #[error("file name {file_name:?} matches no entity's filename_pattern")]
    NoMatchingEntity { file_name: String },
    #[error("file name {file_name:?} matches several entities: {entities:?}")]
    AmbiguousEntity {
        file_name: String,
        entities: Vec<String>,
    },
    #[error("partition {key}={value:?} from {file_name:?} is not a safe path segment: {reason}")]
    UnsafePartitionValue {
        file_name: String,
        key: String,
        value: String,
        reason: String,
    },
    #[error("file name {file_name:?} does not give a real date: {reason}")]
    ImpossibleDate { file_name: String, reason: String },
}

/// Prefix in the analytics bucket under which the handler keeps the body of a dead-lettered
/// message too large to go to the DLQ whole (see the handler's `dead_letter` module). The `-`
/// makes it impossible as a table folder (Glue table names allow no `-`), as for Athena's
/// `query-results/`; analysts' read access covers table folders only.
pub const DEAD_LETTER_BODIES_PREFIX: &str = "dead-letter-bodies/";

/// Longest partition value accepted (one S3 key segment; Glue allows longer values, but a key is
/// at most 1024 bytes in all).
pub const MAX_PARTITION_VALUE_LENGTH: usize = 255;

/// Routes a decoded key (see [`crate::event::decode_s3_key`]).
pub fn route(config: &Config, decoded_key: &str) -> Result<Route, RouteError> {
    let file_name = decoded_key.rsplit('/').next().unwrap_or_default();
    if file_name.is_empty() {
        return Err(RouteError::NoFileName {
            key: decoded_key.to_string(),
        });
    }
    check_file_name(file_name).map_err(|reason| RouteError::UnsafeFileName {
        file_name: file_name.to_string(),
        reason,
    })?;
    let mut matches = config
        .entities
        .values()
        .filter_map(|entity| Some((entity, entity.match_file_name(file_name)?)));
    let Some((entity, values)) = matches.next() else {
        return Err(RouteError::NoMatchingEntity {
            file_name: file_name.to_string(),
        });
    };
    let others: Vec<String> = matches.map(|(e, _)| e.name.clone()).collect();
    if !others.is_empty() {
        let mut entities = vec![entity.name.clone()];
        entities.extend(others);
        return Err(RouteError::AmbiguousEntity {
            file_name: file_name.to_string(),
            entities,
        });
    }
    for (key, value) in &values {
        check_partition_value(value).map_err(|reason| RouteError::UnsafePartitionValue {
            file_name: file_name.to_string(),
            key: key.clone(),
            value: value.clone(),
            reason,
        })?;
    }
    check_date_parts(&values).map_err(|reason| RouteError::ImpossibleDate {
        file_name: file_name.to_string(),
        reason,
    })?;
    let folder = partition_folder(entity, &values);
    Ok(Route {
        entity: entity.name.clone(),
        table_name: entity.table_name.clone(),
        output_key: format!("{folder}{}", entity.output_file_name(file_name)),
        partition_location: s3_uri(&config.resources.analytics_bucket, &folder),
        partition_values: values,
    })
}

/// `s3://bucket/key`: the URI of an object (or, for a key ending in `/`, of a folder), as
/// Glue locations, the aws CLI and log lines write it. The key is written as is (decoded).
pub fn s3_uri(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

/// `s3://<analytics>/<table>/`: the table's location.
pub fn table_location(config: &Config, entity: &Entity) -> String {
    s3_uri(
        &config.resources.analytics_bucket,
        &format!("{}/", entity.table_name),
    )
}

/// `s3://<analytics>/<table>/k1=v1/.../` for values given in `partition_keys` order.
/// Values are checked like [`route`] does; a count mismatch is an error.
pub fn partition_location(
    config: &Config,
    entity: &Entity,
    values: &[String],
) -> Result<String, String> {
    if values.len() != entity.partition_keys.len() {
        return Err(format!(
            "{} partition value(s) given, table {} has {} partition key(s)",
            values.len(),
            entity.table_name,
            entity.partition_keys.len()
        ));
    }
    let pairs: Vec<(String, String)> = entity
        .partition_keys
        .iter()
        .cloned()
        .zip(values.iter().cloned())
        .collect();
    for (key, value) in &pairs {
        check_partition_value(value).map_err(|reason| format!("{key}={value:?}: {reason}"))?;
    }
    Ok(s3_uri(
        &config.resources.analytics_bucket,
        &partition_folder(entity, &pairs),
    ))
}

/// `table/k1=v1/.../` (relative, ends in `/`).
fn partition_folder(entity: &Entity, values: &[(String, String)]) -> String {
    let mut folder = format!("{}/", entity.table_name);
    for (key, value) in values {
        folder.push_str(key);
        folder.push('=');
        folder.push_str(value);
        folder.push('/');
    }
    folder
}

/// A partition value must be one plain path segment that Hive reads back unchanged: ASCII
/// letters, digits, `-`, `_` and `.`, not `.`/`..`, not Hive's default-partition marker. Hive
/// escapes other characters (`=`, `/`, `:`, `%`, spaces...) in partition paths, which would make
/// the folder differ from the value; refusing them keeps the layout predictable.
pub fn check_partition_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("empty value".into());
    }
    if value == "." || value == ".." {
        return Err("'.' and '..' are not allowed".into());
    }
    if value.len() > MAX_PARTITION_VALUE_LENGTH {
        return Err(format!("longer than {MAX_PARTITION_VALUE_LENGTH} bytes"));
    }
    if value == "__HIVE_DEFAULT_PARTITION__" {
        return Err("Hive's default-partition marker is reserved".into());
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "character {bad:?} is not allowed (only ASCII letters, digits, '-', '_', '.')"
        ));
    }
    Ok(())
}

/// The file name is kept as the output object's name: no control characters, not `.`/`..`.
fn check_file_name(file_name: &str) -> Result<(), String> {
    if file_name == "." || file_name == ".." {
        return Err("'.' and '..' are not allowed".into());
    }
    if let Some(bad) = file_name.chars().find(|c| c.is_control()) {
        return Err(format!("control character {bad:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from_json_str(crate::config::EMBEDDED_PIPELINE_JSON, &|_| {
            Some("123456789012".to_string())
        })
        .unwrap()
    }

    #[test]
    fn routes_the_seed_example() {
        let route = route(&config(), "incoming/sales_data_2024_03_15.csv").unwrap();
        assert_eq!(route.entity, "sales");
        assert_eq!(route.table_name, "sales_data");
        assert_eq!(
            route.output_key, "sales_data/year=2024/month=03/day=15/sales_data_2024_03_15.parquet",
            "the shipped sales entity writes Parquet"
        );
        assert_eq!(
            route.partition_location,
            "s3://my-company-analytics/sales_data/year=2024/month=03/day=15/"
        );
        assert_eq!(route.values(), vec!["2024", "03", "15"]);
    }

    #[test]
    fn routes_hourly_and_region_entities() {
        let config = config();
        let events = route(&config, "events_20240315T07.csv").unwrap();
        assert_eq!(
            events.output_key,
            "app_events/year=2024/month=03/day=15/hour=07/events_20240315T07.parquet"
        );
        let inventory = route(&config, "a/b/inventory_eu-west_2024_03_15.csv").unwrap();
        assert_eq!(
            inventory.output_key,
            "inventory_snapshot/region=eu-west/year=2024/month=03/day=15/inventory_eu-west_2024_03_15.csv",
            "a csv entity keeps the source file name"
        );
        assert_eq!(
            inventory.partition_location,
            "s3://my-company-analytics/inventory_snapshot/region=eu-west/year=2024/month=03/day=15/"
        );
    }

    #[test]
    fn pattern_matches_the_file_name_only() {
        let config = config();
        assert!(matches!(
            route(&config, "sales_data_2024_03_15.csv/other.csv"),
            Err(RouteError::NoMatchingEntity { .. })
        ));
        assert!(matches!(
            route(&config, "old_sales_data_2024_03_15.csv"),
            Err(RouteError::NoMatchingEntity { .. })
        ));
        assert!(matches!(
            route(&config, "folder/"),
            Err(RouteError::NoFileName { .. })
        ));
        assert!(matches!(
            route(&config, ""),
            Err(RouteError::NoFileName { .. })
        ));
    }

    #[test]
    fn ambiguous_entities_are_an_error() {
        let mut value: serde_json::Value =
            serde_json::from_str(crate::config::EMBEDDED_PIPELINE_JSON).unwrap();
        value["entities"]["copy"] = value["entities"]["sales"].clone();
        value["entities"]["copy"]["table_name"] = "sales_copy".into();
        let config =
            Config::from_json_str(&value.to_string(), &|_| Some("123456789012".into())).unwrap();
        let error = route(&config, "sales_data_2024_03_15.csv").unwrap_err();
        assert!(
            matches!(error, RouteError::AmbiguousEntity { .. }),
            "{error}"
        );
    }

    #[test]
    fn unsafe_values_are_rejected() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a=b",
            "a b",
            "a\u{1}",
            "é",
            "__HIVE_DEFAULT_PARTITION__",
        ] {
            assert!(check_partition_value(bad).is_err(), "{bad:?}");
        }
        assert!(check_partition_value(&"x".repeat(256)).is_err());
        for good in ["2024", "eu-west", "v1.2", "A_b"] {
            assert!(check_partition_value(good).is_ok(), "{good:?}");
        }
        let mut value: serde_json::Value =
            serde_json::from_str(crate::config::EMBEDDED_PIPELINE_JSON).unwrap();
        value["entities"]["inventory"]["filename_pattern"] =
            "inventory_(.*)_(\\d{4})_(\\d{2})_(\\d{2})\\.csv".into();
        let config =
            Config::from_json_str(&value.to_string(), &|_| Some("123456789012".into())).unwrap();
        for key in [
            "inventory_.._2024_03_15.csv",
            "inventory__2024_03_15.csv",
            "inventory_a=b_2024_03_15.csv",
        ] {
            assert!(
                matches!(
                    route(&config, key),
                    Err(RouteError::UnsafePartitionValue { .. })
                ),
                "{key}"
            );
        }
        assert!(matches!(
            route(&config, "x/.."),
            Err(RouteError::UnsafeFileName { .. })
        ));
    }

    #[test]
    fn impossible_dates_are_rejected_with_the_reason() {
        let config = config();
        let error = route(&config, "in/sales_data_2024_13_45.csv").unwrap_err();
        assert_eq!(
            error.to_string(),
            "file name \"sales_data_2024_13_45.csv\" does not give a real date: \
             month=13: out of range 1..=12"
        );
        let error = route(&config, "sales_data_2023_02_29.csv").unwrap_err();
        assert!(
            error.to_string().contains("February 2023 has 28 days"),
            "{error}"
        );
        let error = route(&config, "events_20240315T24.csv").unwrap_err();
        assert!(
            error.to_string().contains("hour=24: out of range 0..=23"),
            "{error}"
        );
        let error = route(&config, "inventory_eu-west_2024_04_31.csv").unwrap_err();
        assert!(
            matches!(error, RouteError::ImpossibleDate { .. }),
            "{error}"
        );
        assert!(route(&config, "sales_data_2024_02_29.csv").is_ok());
        assert!(route(&config, "events_20241231T23.csv").is_ok());
    }

    #[test]
    fn partition_location_from_values() {
        let config = config();
        let sales = &config.entities["sales"];
        assert_eq!(
            table_location(&config, sales),
            "s3://my-company-analytics/sales_data/"
        );
        let values = ["2024".to_string(), "03".to_string(), "15".to_string()];
        assert_eq!(
            partition_location(&config, sales, &values).unwrap(),
            "s3://my-company-analytics/sales_data/year=2024/month=03/day=15/"
        );
        assert!(partition_location(&config, sales, &values[..2]).is_err());
        let bad = ["2024".to_string(), "..".to_string(), "15".to_string()];
        assert!(partition_location(&config, sales, &bad).is_err());
    }
}
