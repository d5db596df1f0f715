//! Single and batch partition operations (create, get, update, delete), driven with the real
//! aws-sdk-glue client against the emulator served over HTTP.

use crate::common::{batch_create, create_database, create_table, partition_input, start, ACCOUNT};
use aws_sdk_glue::error::ProvideErrorMetadata;
use aws_sdk_glue::types::PartitionValueList;

fn value_list(values: &[&str]) -> PartitionValueList {
    PartitionValueList::builder()
        .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .build()
        .unwrap()
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

#[tokio::test]
async fn partition_crud_and_errors() {
    let h = start().await;
    create_database(&h.client, "lake").await;
    create_table(
        &h.client,
        "lake",
        "sales",
        &[("year", "string"), ("month", "string")],
    )
    .await;
    let c = &h.client;

    c.create_partition()
        .database_name("LAKE")
        .table_name("Sales")
        .partition_input(partition_input("sales", &["2024", "03"]))
        .send()
        .await
        .unwrap();
    let p = c
        .get_partition()
        .database_name("lake")
        .table_name("sales")
        .set_partition_values(Some(strings(&["2024", "03"])))
        .send()
        .await
        .unwrap()
        .partition
        .unwrap();
    assert_eq!(p.values(), ["2024", "03"]);
    assert_eq!(p.database_name(), Some("lake"));
    assert_eq!(p.table_name(), Some("sales"));
    assert_eq!(p.catalog_id(), Some(ACCOUNT));
    assert!(p.creation_time().is_some());
    assert_eq!(
        p.storage_descriptor().unwrap().location(),
        Some("s3://analytics/sales/2024/03/")
    );
    assert_eq!(p.parameters().unwrap()["source"], "test");

    let dup = c
        .create_partition()
        .database_name("lake")
        .table_name("sales")
        .partition_input(partition_input("sales", &["2024", "03"]))
        .send()
        .await
        .unwrap_err();
    assert!(dup
        .as_service_error()
        .unwrap()
        .is_already_exists_exception());
    let wrong_count = c
        .create_partition()
        .database_name("lake")
        .table_name("sales")
        .partition_input(partition_input("sales", &["2024"]))
        .send()
        .await
        .unwrap_err();
    assert!(wrong_count
        .as_service_error()
        .unwrap()
        .is_invalid_input_exception());
    assert!(wrong_count
        .message()
        .unwrap()
        .contains("number of partition keys"));
    let no_table = c
        .create_partition()
        .database_name("lake")
        .table_name("ghost")
        .partition_input(partition_input("ghost", &["2024", "03"]))
        .send()
        .await
        .unwrap_err();
    assert!(no_table
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());
    let missing = c
        .get_partition()
        .database_name("lake")
        .table_name("sales")
        .set_partition_values(Some(strings(&["2024", "04"])))
        .send()
        .await
        .unwrap_err();
    assert!(missing
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());

    // UpdatePartition: new definition in place, then a move to new values.
    c.update_partition()
        .database_name("lake")
        .table_name("sales")
        .set_partition_value_list(Some(strings(&["2024", "03"])))
        .partition_input(partition_input("moved", &["2024", "03"]))
        .send()
        .await
        .unwrap();
    c.update_partition()
        .database_name("lake")
        .table_name("sales")
        .set_partition_value_list(Some(strings(&["2024", "03"])))
        .partition_input(partition_input("moved", &["2024", "05"]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        h.glue.partition_values("lake", "sales").unwrap(),
        [strings(&["2024", "05"])]
    );
    let moved = c
        .get_partition()
        .database_name("lake")
        .table_name("sales")
        .set_partition_values(Some(strings(&["2024", "05"])))
        .send()
        .await
        .unwrap()
        .partition
        .unwrap();
    assert_eq!(
        moved.storage_descriptor().unwrap().location(),
        Some("s3://analytics/moved/2024/05/")
    );
    assert_eq!(moved.creation_time(), p.creation_time());
    let update_missing = c
        .update_partition()
        .database_name("lake")
        .table_name("sales")
        .set_partition_value_list(Some(strings(&["1999", "01"])))
        .partition_input(partition_input("sales", &["1999", "01"]))
        .send()
        .await
        .unwrap_err();
    assert!(update_missing
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());

    c.delete_partition()
        .database_name("lake")
        .table_name("sales")
        .set_partition_values(Some(strings(&["2024", "05"])))
        .send()
        .await
        .unwrap();
    let delete_again = c
        .delete_partition()
        .database_name("lake")
        .table_name("sales")
        .set_partition_values(Some(strings(&["2024", "05"])))
        .send()
        .await
        .unwrap_err();
    assert!(delete_again
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());
    assert_eq!(h.glue.stats().partitions, 0);
}

#[tokio::test]
async fn batch_create_reports_per_partition_errors() {
    let h = start().await;
    create_database(&h.client, "lake").await;
    create_table(
        &h.client,
        "lake",
        "sales",
        &[("year", "string"), ("month", "string")],
    )
    .await;
    batch_create(
        &h.client,
        "lake",
        "sales",
        vec![partition_input("sales", &["2024", "01"])],
    )
    .await;

    let out = h
        .client
        .batch_create_partition()
        .database_name("lake")
        .table_name("sales")
        .partition_input_list(partition_input("sales", &["2024", "01"])) // exists already
        .partition_input_list(partition_input("sales", &["2024", "02"]))
        .partition_input_list(partition_input("sales", &["2024"])) // wrong value count
        .partition_input_list(partition_input("sales", &["2024", "03"]))
        .partition_input_list(partition_input("sales", &["2024", "03"])) // duplicate in batch
        .send()
        .await
        .unwrap();
    let errors: Vec<(Vec<String>, String, String)> = out
        .errors()
        .iter()
        .map(|e| {
            let detail = e.error_detail().unwrap();
            (
                e.partition_values().to_vec(),
                detail.error_code().unwrap().to_string(),
                detail.error_message().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(errors[0].0, strings(&["2024", "01"]));
    assert_eq!(errors[0].1, "AlreadyExistsException");
    assert_eq!(errors[1].0, strings(&["2024"]));
    assert_eq!(errors[1].1, "InvalidInputException");
    assert_eq!(errors[2].0, strings(&["2024", "03"]));
    assert_eq!(errors[2].1, "AlreadyExistsException");
    assert!(errors.iter().all(|e| !e.2.is_empty()));
    assert_eq!(
        h.glue.partition_values("lake", "sales").unwrap(),
        [
            strings(&["2024", "01"]),
            strings(&["2024", "02"]),
            strings(&["2024", "03"])
        ]
    );

    let too_many: Vec<_> = (0..101)
        .map(|i| partition_input("sales", &["2030", &i.to_string()]))
        .collect();
    let err = h
        .client
        .batch_create_partition()
        .database_name("lake")
        .table_name("sales")
        .set_partition_input_list(Some(too_many))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"));
    assert_eq!(
        h.glue.stats().partitions,
        3,
        "a rejected batch creates nothing"
    );

    let no_table = h
        .client
        .batch_create_partition()
        .database_name("lake")
        .table_name("ghost")
        .partition_input_list(partition_input("ghost", &["1", "2"]))
        .send()
        .await
        .unwrap_err();
    assert!(no_table
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());
}

#[tokio::test]
async fn batch_get_and_batch_delete() {
    let h = start().await;
    create_database(&h.client, "lake").await;
    create_table(&h.client, "lake", "t", &[("day", "string")]).await;
    let days: Vec<String> = (1..=30).map(|d| format!("{d:02}")).collect();
    batch_create(
        &h.client,
        "lake",
        "t",
        days.iter().map(|d| partition_input("t", &[d])).collect(),
    )
    .await;

    let got = h
        .client
        .batch_get_partition()
        .database_name("lake")
        .table_name("t")
        .partitions_to_get(value_list(&["01"]))
        .partitions_to_get(value_list(&["99"])) // missing: silently left out, as AWS
        .partitions_to_get(value_list(&["15"]))
        .send()
        .await
        .unwrap();
    let values: Vec<_> = got
        .partitions()
        .iter()
        .map(|p| p.values()[0].clone())
        .collect();
    assert_eq!(values, ["01", "15"]);
    assert!(got.unprocessed_keys().is_empty());
    let no_table = h
        .client
        .batch_get_partition()
        .database_name("lake")
        .table_name("ghost")
        .partitions_to_get(value_list(&["01"]))
        .send()
        .await
        .unwrap_err();
    assert!(no_table
        .as_service_error()
        .unwrap()
        .is_entity_not_found_exception());

    let deleted = h
        .client
        .batch_delete_partition()
        .database_name("lake")
        .table_name("t")
        .partitions_to_delete(value_list(&["01"]))
        .partitions_to_delete(value_list(&["02"]))
        .partitions_to_delete(value_list(&["99"]))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.errors().len(), 1);
    assert_eq!(deleted.errors()[0].partition_values(), ["99"]);
    assert_eq!(
        deleted.errors()[0].error_detail().unwrap().error_code(),
        Some("EntityNotFoundException")
    );
    assert_eq!(h.glue.stats().partitions, 28);

    let too_many: Vec<_> = days[2..28].iter().map(|d| value_list(&[d])).collect();
    assert_eq!(too_many.len(), 26);
    let err = h
        .client
        .batch_delete_partition()
        .database_name("lake")
        .table_name("t")
        .set_partitions_to_delete(Some(too_many))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"));
    assert_eq!(
        h.glue.stats().partitions,
        28,
        "a rejected batch deletes nothing"
    );
}
