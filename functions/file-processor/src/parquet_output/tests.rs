use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Int8Type, TimestampMillisecondType,
};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use pipeline_core::config::{Config, EMBEDDED_PIPELINE_JSON};
use pipeline_core::csv_check::validate_read;

use super::*;

fn config_with(entity_json: serde_json::Value) -> Config {
    let mut value: serde_json::Value = serde_json::from_str(EMBEDDED_PIPELINE_JSON).unwrap();
    value["entities"]["typed"] = entity_json;
    Config::from_json_str(&value.to_string(), &|_| Some("000000000000".into())).unwrap()
}

/// An entity with every column type.
fn every_type() -> Config {
    config_with(serde_json::json!({
        "table_name": "typed",
        "filename_pattern": "typed_(\\d{4})\\.csv",
        "partition_keys": ["year"],
        "format": "parquet",
        "parquet": {"compression": "zstd", "row_group_rows": 2},
        "schema": [
            {"name": "s", "type": "string"},
            {"name": "v", "type": "varchar(5)"},
            {"name": "t", "type": "tinyint"},
            {"name": "sm", "type": "smallint"},
            {"name": "i", "type": "int"},
            {"name": "b", "type": "bigint"},
            {"name": "f", "type": "float"},
            {"name": "d", "type": "double"},
            {"name": "ok", "type": "boolean"},
            {"name": "day", "type": "date"},
            {"name": "at", "type": "timestamp"},
            {"name": "small", "type": "decimal(5,2)"},
            {"name": "money", "type": "decimal(12,4)"},
            {"name": "huge", "type": "decimal(38,10)"}
        ]
    }))
}

const EVERY_TYPE_CSV: &str = "s,v,t,sm,i,b,f,d,ok,day,at,small,money,huge\n\
\"a, b\",abc,-128,32767,-2147483648,9223372036854775807,1.5,-2.25e3,TRUE,1969-12-31,1969-12-31 23:59:59.9995,-999.99,12345678.1234,-1234567890123456789012345678.0123456789\n\
,,0,0,0,0,NaN,Infinity,false,2024-02-29,2024-03-15 10:11:12.123456,.5,0,1\n\
x,é,127,-1,+7,-1,-0.0,.5,true,0001-01-01,2024-03-15 10:11:12,1.,-0.0001,99\n";

fn convert(entity: &Entity, csv: &[u8], part_size: usize) -> Result<Vec<u8>, ConvertError> {
    let mut out = Vec::new();
    let staging = tempfile::tempdir().unwrap();
    convert_read(entity, csv, &mut out, part_size, staging.path())?;
    let left: Vec<_> = std::fs::read_dir(staging.path()).unwrap().collect();
    assert!(left.is_empty(), "staged parts left behind: {left:?}");
    Ok(out)
}

fn read_back(bytes: Vec<u8>) -> (Vec<RecordBatch>, usize) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes)).unwrap();
    let row_groups = builder.metadata().num_row_groups();
    let batches = builder
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (batches, row_groups)
}

/// Column `i` over every batch, mapped by `f`.
fn gather<T>(batches: &[RecordBatch], i: usize, f: impl Fn(&ArrayRef) -> Vec<T>) -> Vec<T> {
    batches.iter().flat_map(|b| f(b.column(i))).collect()
}

#[test]
fn every_type_round_trips_with_its_arrow_type() {
    let config = every_type();
    let entity = &config.entities["typed"];
    let bytes = convert(entity, EVERY_TYPE_CSV.as_bytes(), 1 << 20).unwrap();
    let (batches, row_groups) = read_back(bytes);
    assert_eq!(row_groups, 2, "row_group_rows = 2 over 3 rows");
    assert_eq!(batches[0].schema(), arrow_schema(entity));
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
    let text = |i| {
        gather(&batches, i, |a| {
            a.as_string::<i32>()
                .iter()
                .map(|v| v.unwrap().to_string())
                .collect()
        })
    };
    assert_eq!(text(0), ["a, b", "", "x"]);
    assert_eq!(text(1), ["abc", "", "é"]);
    assert_eq!(
        gather(&batches, 2, |a| a
            .as_primitive::<Int8Type>()
            .values()
            .to_vec()),
        [-128, 0, 127]
    );
    assert_eq!(
        gather(&batches, 3, |a| a
            .as_primitive::<Int16Type>()
            .values()
            .to_vec()),
        [32767, 0, -1]
    );
    assert_eq!(
        gather(&batches, 4, |a| a
            .as_primitive::<Int32Type>()
            .values()
            .to_vec()),
        [i32::MIN, 0, 7]
    );
    assert_eq!(
        gather(&batches, 5, |a| a
            .as_primitive::<Int64Type>()
            .values()
            .to_vec()),
        [i64::MAX, 0, -1]
    );
    let floats = gather(&batches, 6, |a| {
        a.as_primitive::<Float32Type>().values().to_vec()
    });
    assert_eq!(floats[0], 1.5);
    assert!(floats[1].is_nan());
    assert!(floats[2] == 0.0 && floats[2].is_sign_negative());
    assert_eq!(
        gather(&batches, 7, |a| a
            .as_primitive::<Float64Type>()
            .values()
            .to_vec()),
        [-2250.0, f64::INFINITY, 0.5]
    );
    assert_eq!(
        gather(&batches, 8, |a| a
            .as_boolean()
            .iter()
            .map(Option::unwrap)
            .collect()),
        [true, false, true]
    );
    assert_eq!(
        gather(&batches, 9, |a| a
            .as_primitive::<Date32Type>()
            .values()
            .to_vec()),
        [-1, 19782, -719162]
    );
    assert_eq!(
        gather(&batches, 10, |a| a
            .as_primitive::<TimestampMillisecondType>()
            .values()
            .to_vec()),
        // .9995 rounds up into the next day; .123456 rounds to .123.
        [0, 1_710_497_472_123, 1_710_497_472_000]
    );
    let decimals = |i| {
        gather(&batches, i, |a| {
            a.as_primitive::<Decimal128Type>().values().to_vec()
        })
    };
    assert_eq!(decimals(11), [-99999, 50, 100]);
    assert_eq!(decimals(12), [123456781234, 0, -1]);
    assert_eq!(
        decimals(13),
        [
            -12345678901234567890123456780123456789,
            10_000_000_000,
            990_000_000_000
        ]
    );
    assert_eq!(
        batches[0].column(13).data_type(),
        &DataType::Decimal128(38, 10)
    );
}

#[test]
fn bad_inputs_fail_with_the_csv_paths_error() {
    let config = every_type();
    let entity = &config.entities["typed"];
    let header = "s,v,t,sm,i,b,f,d,ok,day,at,small,money,huge\n";
    let good = "a,b,1,1,1,1,1,1,true,2024-01-01,2024-01-01 00:00:00,1,1,1\n";
    let cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"\xEF\xBB\xBF".to_vec(),
        "s,v\n".into(),
        format!("{header}{good}a,b,1\n").into(),
        format!("{header}{good}a,b,1,1,1,1,1,1,true,2024-02-30,2024-01-01 00:00:00,1,1,1\n").into(),
        format!("{header}{good}a,b,1,1,1,1,1,1,true,2024-01-01,2024-01-01 00:00:00,1.234,1,1\n")
            .into(),
        format!("{header}a,b,1,1,,1,1,1,true,2024-01-01,2024-01-01 00:00:00,1,1,1\n").into(),
        [
            header.as_bytes(),
            b"a,\xff,1,1,1,1,1,1,true,2024-01-01,2024-01-01 00:00:00,1,1,1\n",
        ]
        .concat(),
        format!("{header}\n{good}").into(),
    ];
    for csv in cases {
        let expected = validate_read(entity, csv.as_slice()).unwrap_err();
        let got = convert(entity, &csv, 1 << 20).unwrap_err();
        assert_eq!(
            got,
            ConvertError::Csv(expected),
            "{:?}",
            String::from_utf8_lossy(&csv)
        );
    }
}

#[test]
fn header_only_file_is_a_valid_empty_table() {
    let config = every_type();
    let entity = &config.entities["typed"];
    let bytes = convert(
        entity,
        b"s,v,t,sm,i,b,f,d,ok,day,at,small,money,huge\n",
        1 << 20,
    )
    .unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes)).unwrap();
    assert_eq!(builder.metadata().file_metadata().num_rows(), 0);
    assert_eq!(builder.schema().as_ref(), arrow_schema(entity).as_ref());
}

#[test]
fn large_output_is_cut_into_parts_of_part_size() {
    let config = Config::embedded_default().unwrap();
    let sales = &config.entities["sales"];
    let mut csv = String::from("transaction_id,customer_id,amount,transaction_date\n");
    for n in 0..200_000u64 {
        csv.push_str(&format!(
            "TX-{n:010},CUST-{:06},{}.{:02},2024-03-15\n",
            n * 7919 % 1_000_003,
            n % 99_999,
            n % 100
        ));
    }
    let part_size = 256 * 1024;
    let staging = tempfile::tempdir().unwrap();
    let (mut input, mut output) = start(sales, part_size, staging.path()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (stats, parts) = runtime.block_on(async {
        let produce = async move {
            input.feed(csv.as_bytes()).await?;
            input.finish().await
        };
        let consume = async move {
            let mut parts = Vec::new();
            while let Some(part) = output.next().await {
                parts.push(part.unwrap());
            }
            parts
        };
        let (stats, parts) = tokio::join!(produce, consume);
        (stats.unwrap(), parts)
    });
    assert_eq!(stats.rows, 200_000);
    assert!(parts.len() > 2, "{} parts", parts.len());
    let mut file = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        match part {
            EncodedPart::Full(part) => {
                assert!(i + 1 < parts.len());
                assert_eq!(part.len(), part_size as u64);
                part.copy_to(&mut file).unwrap();
            }
            EncodedPart::Last(part) => {
                assert_eq!(i + 1, parts.len());
                let part = part.as_ref().expect("the footer is in the last part");
                assert!(part.len() < part_size as u64);
                part.copy_to(&mut file).unwrap();
            }
        }
    }
    // Every part is a file in the staging directory until it is dropped.
    let staged = std::fs::read_dir(staging.path()).unwrap().count();
    assert_eq!(staged, parts.len());
    drop(parts);
    assert_eq!(std::fs::read_dir(staging.path()).unwrap().count(), 0);
    let (batches, _) = read_back(file);
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 200_000);
}

#[test]
fn a_staging_directory_that_cannot_be_created_is_a_staging_error() {
    let config = Config::embedded_default().unwrap();
    let sales = &config.entities["sales"];
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("a-file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let csv = "transaction_id,customer_id,amount,transaction_date\nT1,C1,1.00,2024-03-15\n";
    let mut out = Vec::new();
    let error = convert_read(sales, csv.as_bytes(), &mut out, 1024, &not_a_dir).unwrap_err();
    assert!(
        matches!(error, ConvertError::Staging(_)),
        "{error:?} should be a staging error"
    );
}

#[test]
fn timestamps_round_half_up_to_the_millisecond() {
    assert_eq!(timestamp_millis(0, 499_999), 0);
    assert_eq!(timestamp_millis(0, 500_000), 1);
    assert_eq!(timestamp_millis(-1, 999_500_000), 0);
    assert_eq!(timestamp_millis(-1, 0), -1000);
}

/// A small entity of the sales kind, for the agreement tests below.
fn sales_like() -> Config {
    config_with(serde_json::json!({
        "table_name": "typed",
        "filename_pattern": "typed_(\\d{4})\\.csv",
        "partition_keys": ["year"],
        "format": "parquet",
        "schema": [
            {"name": "id", "type": "string"},
            {"name": "n", "type": "int"},
            {"name": "day", "type": "date"},
            {"name": "amount", "type": "decimal(10,2)"}
        ]
    }))
}

/// The converter's verdict on `csv` equals the validator's: the same error, or the same rows.
fn assert_agrees_with_validator(entity: &Entity, csv: &[u8]) {
    let expected = validate_read(entity, csv);
    match (convert(entity, csv, 1 << 16), expected) {
        (Ok(bytes), Ok(stats)) => assert_eq!(
            read_back(bytes)
                .0
                .iter()
                .map(|b| b.num_rows() as u64)
                .sum::<u64>(),
            stats.rows
        ),
        (Err(got), Err(expected)) => assert_eq!(got, ConvertError::Csv(expected)),
        (got, expected) => panic!("converter {got:?}, validator {expected:?}"),
    }
}

/// The type parse runs on the encoder thread, a batch behind the structural checks: whichever
/// error comes first in the file is reported, also when the two are batches apart.
#[test]
fn errors_are_reported_in_file_order_across_batches() {
    let config = sales_like();
    let entity = &config.entities["typed"];
    let row = |i: usize| format!("id{i},{i},2024-01-01,1.25\n");
    let file = |bad: &[(usize, &str)]| {
        let mut csv = String::from("id,n,day,amount\n");
        for i in 0..(BATCH_ROWS * 2 + 100) {
            match bad.iter().find(|(at, _)| *at == i) {
                Some((_, text)) => csv.push_str(text),
                None => csv.push_str(&row(i)),
            }
        }
        csv.into_bytes()
    };
    let type_error = "x,1,2024-02-30,1.25\n";
    let ragged = "x,1,2024-01-01\n";
    let after_quote = "\"x\"y,1,2024-01-01,1.25\n";
    for bad in [
        vec![(10, type_error), (TEXT_BATCH_ROWS + 50, ragged)],
        vec![(10, ragged), (TEXT_BATCH_ROWS + 50, type_error)],
        vec![
            (TEXT_BATCH_ROWS - 1, type_error),
            (TEXT_BATCH_ROWS, after_quote),
        ],
        vec![(BATCH_ROWS + 3, type_error), (BATCH_ROWS + 4, after_quote)],
        vec![(BATCH_ROWS * 2 + 99, type_error)],
        vec![(BATCH_ROWS * 2 + 99, ragged)],
    ] {
        assert_agrees_with_validator(entity, &file(&bad));
    }
}

proptest::proptest! {
    /// Any file built from valid and broken pieces (bad values, quoting faults, ragged rows,
    /// blank lines, invalid UTF-8, CR line ends): the converter and the validator agree.
    #[test]
    fn converter_agrees_with_the_validator_on_any_file(
        rows in proptest::collection::vec(
            proptest::collection::vec(proptest::sample::select(vec![
                "a", "\"q,\"\"x\"\"\"", "12", "-7", "2024-02-29", "2023-02-29", "1.25", "1.234",
                "", "\"a\"b", "\"open", "x\\y", "\u{e9}", "\u{ff}bad",
            ]), 1..6),
            0..40,
        ),
        line_end in proptest::sample::select(vec!["\n", "\r\n", "\r"]),
        header in proptest::bool::ANY,
    ) {
        let config = sales_like();
        let entity = &config.entities["typed"];
        let mut csv: Vec<u8> = Vec::new();
        if header {
            csv.extend_from_slice(b"id,n,day,amount");
            csv.extend_from_slice(line_end.as_bytes());
        }
        for fields in rows {
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    csv.push(b',');
                }
                // "\u{ff}bad" stands for a field with a byte that is not UTF-8.
                match field.strip_prefix('\u{ff}') {
                    Some(rest) => { csv.push(0xff); csv.extend_from_slice(rest.as_bytes()); }
                    None => csv.extend_from_slice(field.as_bytes()),
                }
            }
            csv.extend_from_slice(line_end.as_bytes());
        }
        assert_agrees_with_validator(entity, &csv);
    }
}
