//! The Glue catalog as the engine sees it: typed table and partition definitions read from the
//! emulator's Glue state in-process. Calls go through Glue's own operation handler (the same
//! code the wire uses, without a socket), so the catalog's rules - name folding, validation,
//! partition checks - are exactly the ones clients get.

use emulator_glue::Glue;
use serde_json::{json, Value};

/// A Glue call that failed: the Glue error type and message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct CatalogError {
    pub kind: String,
    pub message: String,
}

impl CatalogError {
    pub fn is_not_found(&self) -> bool {
        self.kind == "EntityNotFoundException"
    }
}

/// One column of a Glue table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: String,
    pub type_name: String,
    pub comment: Option<String>,
}

/// A Glue table with what the engine needs to read it.
#[derive(Debug, Clone)]
pub struct TableDef {
    pub database: String,
    pub name: String,
    pub columns: Vec<ColumnDef>,
    pub partition_keys: Vec<ColumnDef>,
    pub location: String,
    pub input_format: String,
    pub output_format: String,
    pub serde_library: String,
    pub serde_parameters: Vec<(String, String)>,
    pub parameters: Vec<(String, String)>,
    pub table_type: String,
    pub create_time: Option<f64>,
}

impl TableDef {
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn serde_parameter(&self, name: &str) -> Option<&str> {
        self.serde_parameters
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One registered partition: its values (in partition-key order) and where its files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionDef {
    pub values: Vec<String>,
    pub location: String,
}

/// In-process access to the emulator's Glue catalog.
#[derive(Clone)]
pub struct Catalog {
    glue: Glue,
}

fn string_map(value: Option<&Value>) -> Vec<(String, String)> {
    value
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn columns(value: Option<&Value>) -> Vec<ColumnDef> {
    value
        .and_then(Value::as_array)
        .map(|cols| {
            cols.iter()
                .map(|c| ColumnDef {
                    name: c["Name"].as_str().unwrap_or_default().to_lowercase(),
                    type_name: c["Type"].as_str().unwrap_or("string").to_owned(),
                    comment: c["Comment"].as_str().map(str::to_owned),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Reads a rendered Glue `Table`.
pub fn table_def(table: &Value) -> TableDef {
    let sd = &table["StorageDescriptor"];
    TableDef {
        database: table["DatabaseName"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        name: table["Name"].as_str().unwrap_or_default().to_owned(),
        columns: columns(sd.get("Columns")),
        partition_keys: columns(table.get("PartitionKeys")),
        location: sd["Location"].as_str().unwrap_or_default().to_owned(),
        input_format: sd["InputFormat"].as_str().unwrap_or_default().to_owned(),
        output_format: sd["OutputFormat"].as_str().unwrap_or_default().to_owned(),
        serde_library: sd["SerdeInfo"]["SerializationLibrary"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        serde_parameters: string_map(sd["SerdeInfo"].get("Parameters")),
        parameters: string_map(table.get("Parameters")),
        table_type: table["TableType"]
            .as_str()
            .unwrap_or("EXTERNAL_TABLE")
            .to_owned(),
        create_time: table["CreateTime"].as_f64(),
    }
}

impl Catalog {
    pub fn new(glue: Glue) -> Self {
        Catalog { glue }
    }

    pub fn account_id(&self) -> &str {
        self.glue.account_id()
    }

    /// Calls one Glue operation with a JSON body.
    async fn call(&self, operation: &str, body: Value) -> Result<Value, CatalogError> {
        let request = http::Request::builder()
            .method("POST")
            .uri("/")
            .header("x-amz-target", format!("AWSGlue.{operation}"))
            .header("content-type", "application/x-amz-json-1.1")
            .body(bytes::Bytes::from(body.to_string()))
            .map_err(|e| CatalogError {
                kind: "InternalServiceException".into(),
                message: e.to_string(),
            })?;
        let response = self.glue.handle(request).await;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| CatalogError {
                kind: "InternalServiceException".into(),
                message: e.to_string(),
            })?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(value);
        }
        let kind = value["__type"].as_str().unwrap_or("GlueException");
        Err(CatalogError {
            kind: kind.rsplit('#').next().unwrap_or(kind).to_owned(),
            message: value["Message"]
                .as_str()
                .or(value["message"].as_str())
                .unwrap_or("Glue request failed")
                .to_owned(),
        })
    }

    /// Calls a paged Glue list operation until the end, collecting `field` of every page.
    async fn all_pages(
        &self,
        operation: &str,
        mut body: Value,
        field: &str,
    ) -> Result<Vec<Value>, CatalogError> {
        let mut out = Vec::new();
        loop {
            let page = self.call(operation, body.clone()).await?;
            if let Some(items) = page[field].as_array() {
                out.extend(items.iter().cloned());
            }
            match page["NextToken"].as_str() {
                Some(token) if !token.is_empty() => body["NextToken"] = json!(token),
                _ => return Ok(out),
            }
        }
    }

    /// Every database: `(name, description, parameters)`.
    pub async fn databases(&self) -> Result<Vec<Value>, CatalogError> {
        self.all_pages("GetDatabases", json!({}), "DatabaseList")
            .await
    }

    pub async fn database_exists(&self, name: &str) -> Result<bool, CatalogError> {
        match self.call("GetDatabase", json!({ "Name": name })).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn tables(&self, database: &str) -> Result<Vec<TableDef>, CatalogError> {
        let tables = self
            .all_pages(
                "GetTables",
                json!({ "DatabaseName": database }),
                "TableList",
            )
            .await?;
        Ok(tables.iter().map(table_def).collect())
    }

    /// The table, or `None` when it (or its database) does not exist.
    pub async fn table(
        &self,
        database: &str,
        name: &str,
    ) -> Result<Option<TableDef>, CatalogError> {
        match self
            .call(
                "GetTable",
                json!({ "DatabaseName": database, "Name": name }),
            )
            .await
        {
            Ok(reply) => Ok(Some(table_def(&reply["Table"]))),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn partitions(
        &self,
        database: &str,
        table: &str,
    ) -> Result<Vec<PartitionDef>, CatalogError> {
        let body = json!({ "DatabaseName": database, "TableName": table });
        let partitions = self.all_pages("GetPartitions", body, "Partitions").await?;
        Ok(partitions
            .iter()
            .map(|p| PartitionDef {
                values: p["Values"]
                    .as_array()
                    .map(|v| {
                        v.iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                location: p["StorageDescriptor"]["Location"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            })
            .collect())
    }

    /// Creates partitions (BatchCreatePartition, 100 per call as Glue allows); returns the
    /// errors Glue reported for individual partitions.
    pub async fn create_partitions(
        &self,
        database: &str,
        table: &str,
        inputs: Vec<Value>,
    ) -> Result<Vec<String>, CatalogError> {
        let mut errors = Vec::new();
        for chunk in inputs.chunks(100) {
            let reply = self
                .call(
                    "BatchCreatePartition",
                    json!({ "DatabaseName": database, "TableName": table, "PartitionInputList": chunk }),
                )
                .await?;
            for error in reply["Errors"].as_array().into_iter().flatten() {
                errors.push(
                    error["ErrorDetail"]["ErrorMessage"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
        Ok(errors)
    }

    pub async fn create_table(&self, database: &str, input: Value) -> Result<(), CatalogError> {
        self.call(
            "CreateTable",
            json!({ "DatabaseName": database, "TableInput": input }),
        )
        .await
        .map(|_| ())
    }

    pub async fn delete_table(&self, database: &str, name: &str) -> Result<(), CatalogError> {
        self.call(
            "DeleteTable",
            json!({ "DatabaseName": database, "Name": name }),
        )
        .await
        .map(|_| ())
    }
}
