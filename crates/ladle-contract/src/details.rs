//! `ladle-staging.json`: what ladle's server wants from a staging that Cloud Foundry's
//! `result.json` has no field for. The builder writes it beside result.json (same folder, named
//! by [`crate::paths::STAGING_DETAILS_FILE`]) whenever it writes result.json, and the stager
//! reads the two together.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StagingDetails {
    /// One entry per buildpack of result.json's `lifecycle_metadata.buildpacks`, in its order.
    #[serde(default)]
    pub buildpacks: Vec<BuildpackDetails>,
    /// Present only when staging failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<StagingFailure>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildpackDetails {
    pub key: String,
    /// What `bin/detect` printed (detect mode only); CC shows it as the droplet buildpack's
    /// `detect_output`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detect_output: Option<String>,
}

/// Why staging failed, in the builder's own words, so the host can show them without parsing
/// the log. `exit_code` is the process exit code the builder also returns (see `exit_codes`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StagingFailure {
    pub exit_code: i32,
    pub message: String,
}

impl StagingDetails {
    /// The detect output of result.json's `index`-th buildpack, provided that entry is `key`'s.
    pub fn detect_output(&self, index: usize, key: &str) -> Option<&str> {
        self.buildpacks
            .get(index)
            .filter(|buildpack| buildpack.key == key)
            .and_then(|buildpack| buildpack.detect_output.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_output_is_found_by_position_and_key() {
        let details = StagingDetails {
            buildpacks: vec![BuildpackDetails {
                key: "detect-pass".into(),
                detect_output: Some("Detect Pass".into()),
            }],
            failure: None,
        };
        assert_eq!(details.detect_output(0, "detect-pass"), Some("Detect Pass"));
        assert_eq!(details.detect_output(0, "other"), None);
        assert_eq!(details.detect_output(1, "detect-pass"), None);
        assert_eq!(
            serde_json::to_string(&details).unwrap(),
            r#"{"buildpacks":[{"key":"detect-pass","detect_output":"Detect Pass"}]}"#
        );
    }
}
