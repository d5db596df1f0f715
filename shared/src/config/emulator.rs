//! The optional `emulator` section: settings only the local emulator reads. Today the fault
//! rules in force from its first request (`faults`, the same JSON objects as `serve --fault` and
//! `POST /_emulator/faults` take) and the seed of their dice (`fault_seed`). The handler and
//! Terraform ignore the section. The rules stay plain fields here, so this crate knows nothing of
//! the emulator: the emulator checks service, operation and error names when it starts, exactly
//! as for `--fault`, and refuses to start on a bad rule, naming the config file.

use serde::{Deserialize, Serialize};

/// What the `emulator` section says (empty when it is absent).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmulatorSettings {
    pub faults: Vec<FaultRuleSpec>,
    pub fault_seed: Option<u64>,
}

/// One fault rule as written: `{service, operation, error, probability, latency_ms, times}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRuleSpec {
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEmulator {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<Vec<FaultRuleSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_seed: Option<u64>,
}

impl RawEmulator {
    /// A fully populated section (for the list of accepted field paths).
    pub(crate) fn full() -> Self {
        RawEmulator {
            faults: Some(vec![FaultRuleSpec {
                service: String::new(),
                operation: Some(String::new()),
                error: Some(String::new()),
                probability: Some(0.0),
                latency_ms: Some(0),
                times: Some(0),
            }]),
            fault_seed: Some(0),
        }
    }
}

pub(crate) fn build(raw: Option<RawEmulator>) -> EmulatorSettings {
    let raw = raw.unwrap_or_default();
    EmulatorSettings {
        faults: raw.faults.unwrap_or_default(),
        fault_seed: raw.fault_seed,
    }
}

impl EmulatorSettings {
    /// The section as the loader accepts it; `None` when it says nothing (so configs without
    /// one resolve to the same JSON as before).
    pub(crate) fn to_raw(&self) -> Option<RawEmulator> {
        (!self.faults.is_empty() || self.fault_seed.is_some()).then(|| RawEmulator {
            faults: (!self.faults.is_empty()).then(|| self.faults.clone()),
            fault_seed: self.fault_seed,
        })
    }
}
