//! `result.json`, field for field as Cloud Foundry's builder writes it (`models.go`
//! StagingResult) and nothing else, so that tooling written for CF reads it unchanged. What
//! ladle wants beyond that travels in `ladle-staging.json` (see [`crate::details`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StagingResult {
    pub lifecycle_type: String,
    pub execution_metadata: String,
    pub process_types: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<ProcessEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<SidecarEntry>,
    pub lifecycle_metadata: LifecycleMetadata,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessEntry {
    #[serde(rename = "type")]
    pub process_type: String,
    pub command: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SidecarEntry {
    pub name: String,
    pub process_types: Vec<String>,
    pub command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LifecycleMetadata {
    pub buildpack_key: String,
    pub detected_buildpack: String,
    pub buildpacks: Vec<BuildpackMetadata>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildpackMetadata {
    pub key: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_metadata: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cf_builders_result_json() {
        let cf = r#"{"lifecycle_type":"buildpack","execution_metadata":"",
            "process_types":{"web":"the start command"},
            "processes":[{"type":"web","command":"the start command"}],
            "lifecycle_metadata":{"buildpack_key":"always-detects","detected_buildpack":"Always Matching",
              "buildpacks":[{"key":"always-detects","name":"Always Matching"}]}}"#;
        let result: StagingResult = serde_json::from_str(cf).unwrap();
        assert_eq!(result.process_types["web"], "the start command");
        assert_eq!(
            result.lifecycle_metadata.buildpacks[0].name,
            "Always Matching"
        );
        let written = serde_json::to_value(&result).unwrap();
        assert!(
            written.get("sidecars").is_none(),
            "sidecars omitted when empty like CF"
        );
    }
}
