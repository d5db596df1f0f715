//! Type names across the three worlds a query crosses: Glue/Hive column types (what the catalog
//! declares), Arrow types (what DataFusion computes with) and Trino type names (what Athena's
//! engine v3 reports in ColumnInfo), plus Athena's text rendering of values.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Float32Type, Float64Type, TimeUnit};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

/// The Arrow type DataFusion reads a Glue column of type `hive` as.
pub fn arrow_type(hive: &str) -> Result<DataType, String> {
    let t = hive.trim().to_ascii_lowercase();
    let simple = match t.as_str() {
        "string" => Some(DataType::Utf8),
        "int" | "integer" => Some(DataType::Int32),
        "bigint" => Some(DataType::Int64),
        "smallint" => Some(DataType::Int16),
        "tinyint" => Some(DataType::Int8),
        "double" => Some(DataType::Float64),
        "float" | "real" => Some(DataType::Float32),
        "boolean" => Some(DataType::Boolean),
        "date" => Some(DataType::Date32),
        // Athena reads and writes timestamps with millisecond precision.
        "timestamp" => Some(DataType::Timestamp(TimeUnit::Millisecond, None)),
        // Hive's DECIMAL without arguments is decimal(10,0).
        "decimal" => Some(DataType::Decimal128(10, 0)),
        _ => None,
    };
    if let Some(simple) = simple {
        return Ok(simple);
    }
    if t.starts_with("varchar(") || t.starts_with("char(") {
        return Ok(DataType::Utf8);
    }
    if let Some(args) = t.strip_prefix("decimal(").and_then(|r| r.strip_suffix(')')) {
        let mut parts = args.split(',').map(|p| p.trim().parse::<u8>());
        if let (Some(Ok(p)), Some(Ok(s)), None) = (parts.next(), parts.next(), parts.next()) {
            if (1..=38).contains(&p) && s <= p {
                return Ok(DataType::Decimal128(p, s as i8));
            }
        }
    }
    Err(format!("column type '{hive}' is not supported"))
}

/// The Hive type name a CTAS writes into Glue for a result column.
pub fn hive_type(dt: &DataType) -> String {
    match dt {
        DataType::Int8 => "tinyint".into(),
        DataType::Int16 => "smallint".into(),
        DataType::Int32 => "int".into(),
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => "bigint".into(),
        DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(_, _) => "timestamp".into(),
        DataType::Decimal128(p, s) => format!("decimal({p},{s})"),
        _ => "string".into(),
    }
}

/// A column as Athena describes it in `ColumnInfo`: Trino name, precision and scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrinoType {
    pub name: &'static str,
    pub precision: i32,
    pub scale: i32,
}

pub fn trino_type(dt: &DataType) -> TrinoType {
    let t = |name, precision| TrinoType {
        name,
        precision,
        scale: 0,
    };
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => t("varchar", 2147483647),
        DataType::Int8 => t("tinyint", 3),
        DataType::Int16 | DataType::UInt8 => t("smallint", 5),
        DataType::Int32 | DataType::UInt16 => t("integer", 10),
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => t("bigint", 19),
        DataType::Float32 => t("real", 7),
        DataType::Float64 => t("double", 17),
        DataType::Boolean => t("boolean", 0),
        DataType::Date32 | DataType::Date64 => t("date", 0),
        DataType::Timestamp(_, _) => t("timestamp", 3),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => TrinoType {
            name: "decimal",
            precision: i32::from(*p),
            scale: i32::from(*s),
        },
        DataType::Null => t("unknown", 0),
        DataType::List(_) | DataType::LargeList(_) => t("array", 0),
        DataType::Struct(_) => t("row", 0),
        DataType::Map(_, _) => t("map", 0),
        DataType::Binary | DataType::LargeBinary => t("varbinary", 2147483647),
        _ => t("varchar", 2147483647),
    }
}

/// Renders every value of `array` as Athena prints it; `None` is SQL NULL.
pub fn render_column(array: &ArrayRef) -> Result<Vec<Option<String>>, String> {
    match array.data_type() {
        DataType::Float64 => {
            let values = array.as_primitive::<Float64Type>();
            return Ok((0..array.len())
                .map(|i| (!values.is_null(i)).then(|| java_double(values.value(i))))
                .collect());
        }
        DataType::Float32 => {
            let values = array.as_primitive::<Float32Type>();
            return Ok((0..array.len())
                .map(|i| (!values.is_null(i)).then(|| java_double(f64::from(values.value(i)))))
                .collect());
        }
        _ => {}
    }
    // Trino prints timestamps as `2024-03-15 10:00:00.000`.
    let options = FormatOptions::default()
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.3f"))
        .with_datetime_format(Some("%Y-%m-%d %H:%M:%S%.3f"));
    let formatter = ArrayFormatter::try_new(array.as_ref(), &options).map_err(|e| e.to_string())?;
    Ok((0..array.len())
        .map(|i| (!array.is_null(i)).then(|| formatter.value(i).to_string()))
        .collect())
}

/// Java's `Double.toString`, which Trino uses: plain notation in [1e-3, 1e7), else
/// `1.0E10`; always at least one fraction digit.
pub fn java_double(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let magnitude = x.abs();
    if x == 0.0 || (1e-3..1e7).contains(&magnitude) {
        let text = format!("{x}");
        return if text.contains('.') {
            text
        } else {
            format!("{text}.0")
        };
    }
    // Shortest round-trip digits in scientific form, e.g. `1.2345e10` -> `1.2345E10`.
    let text = format!("{x:e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_owned()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exponent}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glue_types_map_to_arrow() {
        assert_eq!(arrow_type("decimal(10,2)"), Ok(DataType::Decimal128(10, 2)));
        assert_eq!(arrow_type("INT"), Ok(DataType::Int32));
        assert_eq!(arrow_type("varchar(20)"), Ok(DataType::Utf8));
        assert!(arrow_type("array<string>")
            .unwrap_err()
            .contains("array<string>"));
        assert!(arrow_type("decimal(40,2)").is_err());
    }

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(java_double(110.49), "110.49");
        assert_eq!(java_double(3.0), "3.0");
        assert_eq!(java_double(1e10), "1.0E10");
        assert_eq!(java_double(1.5e-5), "1.5E-5");
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(-2.5), "-2.5");
    }
}
