//! An optional observer of new partitions, for the emulator's console (journeys, live events).
//! Set once with [`crate::Glue::set_observer`]; called after the catalog lock is released.

use std::sync::Arc;

use serde_json::{Map, Value};

/// A partition CreatePartition or BatchCreatePartition added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedPartition {
    pub database: String,
    pub table: String,
    pub values: Vec<String>,
    /// `StorageDescriptor.Location`, when the input gave one.
    pub location: Option<String>,
}

impl CreatedPartition {
    pub(crate) fn new(
        database: &str,
        table: &str,
        values: &[String],
        input: &Map<String, Value>,
    ) -> Self {
        Self {
            database: database.to_owned(),
            table: table.to_owned(),
            values: values.to_vec(),
            location: input
                .get("StorageDescriptor")
                .and_then(|sd| sd.get("Location"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    }
}

/// Receives partition creations. Keep it short and never block.
pub trait GlueObserver: Send + Sync {
    fn partition_created(&self, partition: &CreatedPartition);
}

impl crate::Glue {
    /// Sets the observer; `false` if one was already set (it stays).
    pub fn set_observer(&self, observer: Arc<dyn GlueObserver>) -> bool {
        self.inner.observer.set(observer).is_ok()
    }

    pub(crate) fn observer(&self) -> Option<&Arc<dyn GlueObserver>> {
        self.inner.observer.get()
    }
}
