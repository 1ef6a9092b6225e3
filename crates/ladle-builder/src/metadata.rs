//! Buildpack metadata (`deps/<idx>/config.yml`), `staging_info.yml`, `result.json` and
//! `ladle-staging.json`.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ladle_contract::BuildpackMetadata;
use serde::Serialize;
use serde_yaml_ng::Value;

/// Reads `config.yml` (`name`, `version`, `config`, `output_metadata`) leniently: like CF, a
/// missing or unreadable file just leaves the fields empty.
pub fn read_buildpack_metadata(key: &str, config_yml: &Path) -> BuildpackMetadata {
    let mut metadata = BuildpackMetadata {
        key: key.to_string(),
        ..BuildpackMetadata::default()
    };
    let Ok(text) = std::fs::read_to_string(config_yml) else {
        return metadata;
    };
    let Ok(Value::Mapping(map)) = serde_yaml_ng::from_str::<Value>(&text) else {
        return metadata;
    };
    if let Some(Value::String(name)) = map.get("name") {
        metadata.name = name.clone();
    }
    metadata.version = map
        .get("version")
        .and_then(scalar_text)
        .filter(|v| !v.is_empty());
    metadata.config = map.get("config").and_then(yaml_to_json);
    metadata.output_metadata = map.get("output_metadata").and_then(yaml_to_json);
    metadata
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn yaml_to_json(value: &Value) -> Option<serde_json::Value> {
    match value {
        Value::Null => None,
        other => serde_json::to_value(other).ok(),
    }
}

/// `staging_info.yml` as CF's launcher reads it; JSON is valid YAML and CF writes JSON.
#[derive(Debug, Serialize)]
pub struct StagingInfo<'a> {
    pub detected_buildpack: &'a str,
    pub start_command: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<&'a serde_json::Value>,
}

/// `ladle-staging.json` goes in the folder of result.json (`-outputMetadata`), so the builder
/// needs no flag of its own for it.
pub fn staging_details_path(output_metadata: &Path) -> PathBuf {
    output_metadata.with_file_name(ladle_contract::paths::STAGING_DETAILS_FILE)
}

/// Serializes as JSON with a trailing newline (Go's `json.Encoder` output), writing to a
/// sibling temp file first so a reader never sees half a file.
pub fn write_json_atomically<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer(&mut file, value)?;
    file.write_all(b"\n")?;
    // Temp files start as 0600; these are read by the launcher and the host as other users.
    file.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_name_version_config_and_output_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yml");
        std::fs::write(
            &path,
            "name: Supply OK\nversion: 1.2\nconfig: {entrypoint_prefix: tini --}\n\
             output_metadata: {sbom: none}\n",
        )
        .unwrap();
        let metadata = read_buildpack_metadata("supply-ok", &path);
        assert_eq!(metadata.name, "Supply OK");
        assert_eq!(metadata.version.as_deref(), Some("1.2"));
        assert_eq!(metadata.config.unwrap()["entrypoint_prefix"], "tini --");
        assert_eq!(metadata.output_metadata.unwrap()["sbom"], "none");
    }

    #[test]
    fn missing_or_broken_config_leaves_fields_empty() {
        let dir = tempfile::tempdir().unwrap();
        let missing = read_buildpack_metadata("k", &dir.path().join("nope.yml"));
        assert_eq!(
            missing,
            BuildpackMetadata {
                key: "k".into(),
                ..Default::default()
            }
        );
        let broken = dir.path().join("config.yml");
        std::fs::write(&broken, "name: [unclosed").unwrap();
        assert_eq!(read_buildpack_metadata("k", &broken).name, "");
    }

    #[test]
    fn staging_info_matches_cf_shape() {
        let info = StagingInfo {
            detected_buildpack: "Always Matching",
            start_command: "go",
            config: None,
        };
        assert_eq!(
            serde_json::to_string(&info).unwrap(),
            r#"{"detected_buildpack":"Always Matching","start_command":"go"}"#
        );
    }
}
