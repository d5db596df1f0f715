//! Trino functions under their Trino names and semantics, where DataFusion lacks them or gives
//! them other semantics: date_add/date_diff/date_trunc with a unit first (dates stay dates),
//! date_format/date_parse with MySQL-style specifiers (`%i` is minutes), from_iso8601_date,
//! from_iso8601_timestamp, year/month/day/hour/minute/second/quarter/day_of_week/day_of_year,
//! and approx_percentile (DataFusion's approx_percentile_cont under Trino's name).
//! Semantics: https://trino.io/docs/current/functions/datetime.html

use std::sync::Arc;

use chrono::{Datelike, Months, NaiveDate, NaiveDateTime, Timelike};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{
    AggregateUDF, ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::prelude::SessionContext;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    DateAdd,
    DateDiff,
    DateTrunc,
    DateFormat,
    DateParse,
    FromIso8601Date,
    FromIso8601Timestamp,
    Field(FieldKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum FieldKind {
    Year,
    Quarter,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    DayOfWeek,
    DayOfYear,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct TrinoFunction {
    name: &'static str,
    kind: Kind,
    signature: Signature,
}

/// Registers the Trino functions on a query's session (replacing DataFusion's date_trunc and
/// date_format, whose semantics differ).
pub fn register(ctx: &SessionContext) {
    let functions: [(&'static str, Kind, usize); 16] = [
        ("date_add", Kind::DateAdd, 3),
        ("date_diff", Kind::DateDiff, 3),
        ("date_trunc", Kind::DateTrunc, 2),
        ("date_format", Kind::DateFormat, 2),
        ("date_parse", Kind::DateParse, 2),
        ("from_iso8601_date", Kind::FromIso8601Date, 1),
        ("from_iso8601_timestamp", Kind::FromIso8601Timestamp, 1),
        ("year", Kind::Field(FieldKind::Year), 1),
        ("quarter", Kind::Field(FieldKind::Quarter), 1),
        ("month", Kind::Field(FieldKind::Month), 1),
        ("day", Kind::Field(FieldKind::Day), 1),
        ("hour", Kind::Field(FieldKind::Hour), 1),
        ("minute", Kind::Field(FieldKind::Minute), 1),
        ("second", Kind::Field(FieldKind::Second), 1),
        ("day_of_week", Kind::Field(FieldKind::DayOfWeek), 1),
        ("day_of_year", Kind::Field(FieldKind::DayOfYear), 1),
    ];
    for (name, kind, arity) in functions {
        ctx.register_udf(ScalarUDF::from(TrinoFunction {
            name,
            kind,
            signature: Signature::any(arity, Volatility::Immutable),
        }));
    }
    let percentile =
        datafusion::functions_aggregate::approx_percentile_cont::approx_percentile_cont_udaf();
    ctx.register_udaf(AggregateUDF::clone(&percentile).with_aliases(["approx_percentile"]));
}

fn is_temporal(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _)
    )
}

impl ScalarUDFImpl for TrinoFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        let millis = DataType::Timestamp(TimeUnit::Millisecond, None);
        let temporal_arg = match self.kind {
            Kind::DateAdd | Kind::DateDiff => Some(2),
            Kind::DateTrunc => Some(1),
            Kind::DateFormat | Kind::Field(_) => Some(0),
            _ => None,
        };
        if let Some(i) = temporal_arg {
            if !is_temporal(&args[i]) && args[i] != DataType::Null {
                return plan_err!(
                    "{}: argument {} must be a date or timestamp, got {}",
                    self.name,
                    i + 1,
                    args[i]
                );
            }
        }
        Ok(match self.kind {
            Kind::DateAdd | Kind::DateTrunc => match &args[self.kind_temporal_index()] {
                DataType::Date32 | DataType::Date64 => DataType::Date32,
                _ => millis,
            },
            Kind::DateDiff | Kind::Field(_) => DataType::Int64,
            Kind::DateFormat => DataType::Utf8,
            Kind::DateParse | Kind::FromIso8601Timestamp => millis,
            Kind::FromIso8601Date => DataType::Date32,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let out = self.evaluate(&arrays, rows, args.return_type())?;
        if args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)))
        {
            let scalar = datafusion::common::ScalarValue::try_from_array(&out, 0)?;
            return Ok(ColumnarValue::Scalar(scalar));
        }
        Ok(ColumnarValue::Array(out))
    }
}

/// One value of a date/timestamp/string column as a date-time (`None` for NULL).
fn datetime_at(array: &ArrayRef, i: usize) -> Result<Option<NaiveDateTime>> {
    if array.is_null(i) {
        return Ok(None);
    }
    let from_millis = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(|d| d.naive_utc());
    let value = match array.data_type() {
        DataType::Date32 => NaiveDate::from_num_days_from_ce_opt(
            array.as_primitive::<Date32Type>().value(i) + 719_163,
        )
        .map(|d| d.and_time(chrono::NaiveTime::MIN)),
        DataType::Date64 => from_millis(array.as_primitive::<Date64Type>().value(i)),
        DataType::Timestamp(TimeUnit::Second, _) => from_millis(
            array
                .as_primitive::<TimestampSecondType>()
                .value(i)
                .saturating_mul(1000),
        ),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            from_millis(array.as_primitive::<TimestampMillisecondType>().value(i))
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => chrono::DateTime::from_timestamp_micros(
            array.as_primitive::<TimestampMicrosecondType>().value(i),
        )
        .map(|d| d.naive_utc()),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => Some(
            chrono::DateTime::from_timestamp_nanos(
                array.as_primitive::<TimestampNanosecondType>().value(i),
            )
            .naive_utc(),
        ),
        other => return exec_err!("expected a date or timestamp, got {other}"),
    };
    Ok(value)
}

fn string_at(array: &ArrayRef, i: usize) -> Result<Option<String>> {
    if array.is_null(i) {
        return Ok(None);
    }
    let text = datafusion::arrow::compute::cast(&array.slice(i, 1), &DataType::Utf8)?;
    Ok(Some(text.as_string::<i32>().value(0).to_owned()))
}

fn int_at(array: &ArrayRef, i: usize) -> Result<Option<i64>> {
    if array.is_null(i) {
        return Ok(None);
    }
    let value = datafusion::arrow::compute::cast(&array.slice(i, 1), &DataType::Int64)?;
    Ok(Some(
        value
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .value(0),
    ))
}

const EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Builds the output column from one optional value per row.
enum Out {
    Date(Date32Builder),
    Timestamp(TimestampMillisecondBuilder),
    Int(Int64Builder),
    Text(StringBuilder),
}

impl Out {
    fn new(t: &DataType, rows: usize) -> Self {
        match t {
            DataType::Date32 => Out::Date(Date32Builder::with_capacity(rows)),
            DataType::Int64 => Out::Int(Int64Builder::with_capacity(rows)),
            DataType::Utf8 => Out::Text(StringBuilder::with_capacity(rows, rows * 16)),
            _ => Out::Timestamp(TimestampMillisecondBuilder::with_capacity(rows)),
        }
    }

    fn push_datetime(&mut self, value: Option<NaiveDateTime>) {
        match self {
            Out::Date(b) => {
                b.append_option(value.map(|v| v.date().num_days_from_ce() - EPOCH_DAYS_FROM_CE))
            }
            Out::Timestamp(b) => b.append_option(value.map(|v| v.and_utc().timestamp_millis())),
            Out::Int(b) => b.append_null(),
            Out::Text(b) => b.append_option(value.map(|v| v.to_string())),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Out::Date(mut b) => Arc::new(b.finish()),
            Out::Timestamp(mut b) => Arc::new(b.finish()),
            Out::Int(mut b) => Arc::new(b.finish()),
            Out::Text(mut b) => Arc::new(b.finish()),
        }
    }
}

impl TrinoFunction {
    fn kind_temporal_index(&self) -> usize {
        match self.kind {
            Kind::DateAdd | Kind::DateDiff => 2,
            Kind::DateTrunc => 1,
            _ => 0,
        }
    }

    fn evaluate(&self, args: &[ArrayRef], rows: usize, return_type: &DataType) -> Result<ArrayRef> {
        let mut out = Out::new(return_type, rows);
        for i in 0..rows {
            match (&mut out, self.kind) {
                (Out::Int(b), Kind::DateDiff) => {
                    let (unit, a, z) = (
                        string_at(&args[0], i)?,
                        datetime_at(&args[1], i)?,
                        datetime_at(&args[2], i)?,
                    );
                    match (unit, a, z) {
                        (Some(unit), Some(a), Some(z)) => b.append_value(date_diff(&unit, a, z)?),
                        _ => b.append_null(),
                    }
                }
                (Out::Int(b), Kind::Field(field)) => {
                    b.append_option(datetime_at(&args[0], i)?.map(|v| field_of(field, v)))
                }
                (Out::Text(b), Kind::DateFormat) => {
                    match (datetime_at(&args[0], i)?, string_at(&args[1], i)?) {
                        (Some(v), Some(format)) => {
                            b.append_value(v.format(&chrono_format(&format, false)?).to_string())
                        }
                        _ => b.append_null(),
                    }
                }
                (out, kind) => {
                    let value = self.datetime_value(kind, args, i)?;
                    out.push_datetime(value);
                }
            }
        }
        Ok(out.finish())
    }

    /// The date-time result of the functions that return one.
    fn datetime_value(
        &self,
        kind: Kind,
        args: &[ArrayRef],
        i: usize,
    ) -> Result<Option<NaiveDateTime>> {
        Ok(match kind {
            Kind::DateAdd => match (
                string_at(&args[0], i)?,
                int_at(&args[1], i)?,
                datetime_at(&args[2], i)?,
            ) {
                (Some(unit), Some(n), Some(v)) => Some(date_add(&unit, n, v)?),
                _ => None,
            },
            Kind::DateTrunc => match (string_at(&args[0], i)?, datetime_at(&args[1], i)?) {
                (Some(unit), Some(v)) => Some(date_trunc(&unit, v)?),
                _ => None,
            },
            Kind::DateParse => match (string_at(&args[0], i)?, string_at(&args[1], i)?) {
                (Some(text), Some(format)) => Some(date_parse(&text, &format)?),
                _ => None,
            },
            Kind::FromIso8601Date => match string_at(&args[0], i)? {
                Some(text) => Some(
                    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                        .map_err(|e| {
                            datafusion::error::DataFusionError::Execution(format!(
                                "INVALID_FUNCTION_ARGUMENT: from_iso8601_date('{text}'): {e}"
                            ))
                        })?
                        .and_time(chrono::NaiveTime::MIN),
                ),
                None => None,
            },
            Kind::FromIso8601Timestamp => match string_at(&args[0], i)? {
                Some(text) => Some(from_iso8601_timestamp(&text)?),
                None => None,
            },
            _ => return exec_err!("{} does not return a date-time", self.name),
        })
    }
}

fn field_of(field: FieldKind, v: NaiveDateTime) -> i64 {
    i64::from(match field {
        FieldKind::Year => v.year(),
        FieldKind::Quarter => (v.month0() / 3 + 1) as i32,
        FieldKind::Month => v.month() as i32,
        FieldKind::Day => v.day() as i32,
        FieldKind::Hour => v.hour() as i32,
        FieldKind::Minute => v.minute() as i32,
        FieldKind::Second => v.second() as i32,
        FieldKind::DayOfWeek => v.weekday().number_from_monday() as i32,
        FieldKind::DayOfYear => v.ordinal() as i32,
    })
}

fn unit_millis(unit: &str) -> Option<i64> {
    Some(match unit {
        "millisecond" => 1,
        "second" => 1_000,
        "minute" => 60_000,
        "hour" => 3_600_000,
        "day" => 86_400_000,
        "week" => 7 * 86_400_000,
        _ => return None,
    })
}

fn unit_months(unit: &str) -> Option<u32> {
    Some(match unit {
        "month" => 1,
        "quarter" => 3,
        "year" => 12,
        _ => return None,
    })
}

fn bad_unit(function: &str, unit: &str) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Execution(format!(
        "INVALID_FUNCTION_ARGUMENT: {function}: '{unit}' is not a valid unit \
         (millisecond, second, minute, hour, day, week, month, quarter, year)"
    ))
}

fn date_add(unit: &str, n: i64, v: NaiveDateTime) -> Result<NaiveDateTime> {
    let unit = unit.to_ascii_lowercase();
    let overflow = || {
        datafusion::error::DataFusionError::Execution(format!(
            "date_add('{unit}', {n}): out of range"
        ))
    };
    if let Some(ms) = unit_millis(&unit) {
        let delta = chrono::TimeDelta::try_milliseconds(n.checked_mul(ms).ok_or_else(overflow)?)
            .ok_or_else(overflow)?;
        return v.checked_add_signed(delta).ok_or_else(overflow);
    }
    let Some(months) = unit_months(&unit) else {
        return Err(bad_unit("date_add", &unit));
    };
    let total = n.checked_mul(i64::from(months)).ok_or_else(overflow)?;
    let magnitude = Months::new(u32::try_from(total.unsigned_abs()).map_err(|_| overflow())?);
    // Like Trino, a day past the end of the target month becomes its last day.
    if total >= 0 {
        v.checked_add_months(magnitude)
    } else {
        v.checked_sub_months(magnitude)
    }
    .ok_or_else(overflow)
}

/// Whole units from `a` to `z`, truncated toward zero, as Trino counts them.
fn date_diff(unit: &str, a: NaiveDateTime, z: NaiveDateTime) -> Result<i64> {
    let unit = unit.to_ascii_lowercase();
    if let Some(ms) = unit_millis(&unit) {
        return Ok((z - a).num_milliseconds() / ms);
    }
    let Some(months) = unit_months(&unit) else {
        return Err(bad_unit("date_diff", &unit));
    };
    let mut whole =
        i64::from(z.year() - a.year()) * 12 + i64::from(z.month()) - i64::from(a.month());
    let rest = |v: NaiveDateTime| (v.day(), v.time());
    if whole > 0 && rest(z) < rest(a) {
        whole -= 1;
    } else if whole < 0 && rest(z) > rest(a) {
        whole += 1;
    }
    Ok(whole / i64::from(months))
}

fn date_trunc(unit: &str, v: NaiveDateTime) -> Result<NaiveDateTime> {
    let unit = unit.to_ascii_lowercase();
    let date = v.date();
    let midnight = |d: NaiveDate| d.and_time(chrono::NaiveTime::MIN);
    let first_of = |month: u32| NaiveDate::from_ymd_opt(date.year(), month, 1).map(midnight);
    let truncated = match unit.as_str() {
        "millisecond" => Some(v),
        "second" => v.with_nanosecond(0),
        "minute" => v.with_nanosecond(0).and_then(|t| t.with_second(0)),
        "hour" => v
            .with_nanosecond(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_minute(0)),
        "day" => Some(midnight(date)),
        "week" => Some(midnight(
            date - chrono::Days::new(u64::from(date.weekday().num_days_from_monday())),
        )),
        "month" => first_of(date.month()),
        "quarter" => first_of(date.month0() / 3 * 3 + 1),
        "year" => first_of(1),
        _ => return Err(bad_unit("date_trunc", &unit)),
    };
    truncated.ok_or_else(|| {
        datafusion::error::DataFusionError::Execution(format!("date_trunc('{unit}'): out of range"))
    })
}

/// MySQL-style specifiers (Trino's date_format/date_parse) as chrono's.
fn chrono_format(mysql: &str, parsing: bool) -> Result<String> {
    let mut out = String::new();
    let mut chars = mysql.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(spec) = chars.next() else {
            out.push_str("%%");
            break;
        };
        let mapped = match spec {
            'a' => "%a",
            'b' => "%b",
            'c' => {
                if parsing {
                    "%m"
                } else {
                    "%-m"
                }
            }
            'd' => "%d",
            'e' => {
                if parsing {
                    "%d"
                } else {
                    "%-d"
                }
            }
            'f' => "%6f",
            'H' => "%H",
            'h' | 'I' => "%I",
            'i' => "%M",
            'j' => "%j",
            'k' => {
                if parsing {
                    "%H"
                } else {
                    "%-H"
                }
            }
            'l' => {
                if parsing {
                    "%I"
                } else {
                    "%-I"
                }
            }
            'M' => "%B",
            'm' => "%m",
            'p' => "%p",
            'r' => "%I:%M:%S %p",
            'S' | 's' => "%S",
            'T' => "%H:%M:%S",
            'W' => "%A",
            'Y' => "%Y",
            'y' => "%y",
            '%' => "%%",
            other => {
                return exec_err!(
                    "INVALID_FUNCTION_ARGUMENT: date format specifier %{other} is not supported"
                )
            }
        };
        out.push_str(mapped);
    }
    Ok(out)
}

fn date_parse(text: &str, format: &str) -> Result<NaiveDateTime> {
    let chrono = chrono_format(format, true)?;
    NaiveDateTime::parse_from_str(text, &chrono)
        .or_else(|_| {
            NaiveDate::parse_from_str(text, &chrono).map(|d| d.and_time(chrono::NaiveTime::MIN))
        })
        .map_err(|e| {
            datafusion::error::DataFusionError::Execution(format!(
                "INVALID_FUNCTION_ARGUMENT: Invalid format: \"{text}\" for '{format}' ({e})"
            ))
        })
}

fn from_iso8601_timestamp(text: &str) -> Result<NaiveDateTime> {
    let text = text.trim();
    if let Ok(v) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(v.naive_utc());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(v) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(v);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN));
    }
    exec_err!(
        "INVALID_FUNCTION_ARGUMENT: from_iso8601_timestamp: '{text}' is not an ISO 8601 timestamp"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn trino_date_arithmetic() {
        assert_eq!(
            date_add("month", 1, at("2024-01-31 00:00:00")).unwrap(),
            at("2024-02-29 00:00:00")
        );
        assert_eq!(
            date_add("day", -1, at("2024-03-01 10:00:00")).unwrap(),
            at("2024-02-29 10:00:00")
        );
        assert_eq!(
            date_diff("day", at("2024-03-01 00:00:00"), at("2024-03-15 12:00:00")).unwrap(),
            14
        );
        assert_eq!(
            date_diff(
                "month",
                at("2024-01-31 00:00:00"),
                at("2024-02-29 00:00:00")
            )
            .unwrap(),
            0
        );
        assert_eq!(
            date_diff(
                "month",
                at("2024-01-15 00:00:00"),
                at("2024-03-15 00:00:00")
            )
            .unwrap(),
            2
        );
        assert_eq!(
            date_diff("year", at("2024-03-15 00:00:00"), at("2023-03-16 00:00:00")).unwrap(),
            0
        );
        assert_eq!(
            date_trunc("quarter", at("2024-05-15 10:11:12")).unwrap(),
            at("2024-04-01 00:00:00")
        );
        assert_eq!(
            date_trunc("week", at("2024-03-17 10:11:12")).unwrap(),
            at("2024-03-11 00:00:00")
        );
        assert!(date_add("fortnight", 1, at("2024-01-01 00:00:00")).is_err());
    }

    #[test]
    fn mysql_specifiers() {
        let v = at("2024-03-05 14:07:09");
        assert_eq!(
            v.format(&chrono_format("%Y-%m-%d %H:%i:%s", false).unwrap())
                .to_string(),
            "2024-03-05 14:07:09"
        );
        assert_eq!(
            v.format(&chrono_format("%c/%e/%y %l%p", false).unwrap())
                .to_string(),
            "3/5/24 2PM"
        );
        assert_eq!(
            date_parse("2024-03-05 14:07", "%Y-%m-%d %H:%i").unwrap(),
            at("2024-03-05 14:07:00")
        );
        assert_eq!(
            date_parse("05/03/2024", "%d/%m/%Y").unwrap(),
            at("2024-03-05 00:00:00")
        );
        assert!(chrono_format("%U", false).is_err());
        assert_eq!(from_iso8601_timestamp("2024-03-05T14:07:09Z").unwrap(), v);
        assert_eq!(
            from_iso8601_timestamp("2024-03-05T15:07:09+01:00").unwrap(),
            v
        );
    }
}
