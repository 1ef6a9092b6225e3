//! Process types from the three places CF reads them (supply/final `launch.yml`, `bin/release`
//! YAML, the app's Procfile) and the merge rule between them: a later entry of the same type
//! replaces the earlier one in place, new types are appended. Order of appearance in each file is
//! kept, which makes the result reproducible (Go's builder iterates maps in random order).

use std::collections::BTreeMap;

use ladle_contract::{ProcessEntry, SidecarEntry};
use serde::Deserialize;
use serde_yaml_ng::Value;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Process {
    #[serde(rename = "type", default)]
    pub process_type: String,
    #[serde(default)]
    pub command: String,
    #[serde(default)]
    pub platforms: Platforms,
    #[serde(default)]
    pub limits: Limits,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Platforms {
    #[serde(default)]
    pub cloudfoundry: CloudFoundry,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct CloudFoundry {
    #[serde(default)]
    pub sidecar_for: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Limits {
    #[serde(default)]
    pub memory: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct LaunchYml {
    #[serde(default)]
    processes: Vec<Process>,
}

/// `deps/<idx>/launch.yml`: `processes: [{type, command, platforms, limits}]`.
pub fn parse_launch_yml(text: &str) -> Result<Vec<Process>, String> {
    let parsed: Option<LaunchYml> = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    Ok(parsed.unwrap_or_default().processes)
}

/// `bin/release` stdout: only `default_process_types` is read. Empty output is valid.
pub fn parse_release(text: &str) -> Result<Vec<Process>, String> {
    let document: Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    match document {
        Value::Null => Ok(Vec::new()),
        Value::Mapping(map) => match map.get("default_process_types") {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(types) => type_command_map(types),
        },
        other => Err(format!(
            "expected a YAML mapping, found {}",
            kind_of(&other)
        )),
    }
}

/// The app's Procfile, a YAML map of type → command. `None` means CF's "invalid YAML".
pub fn parse_procfile(text: &str) -> Option<Vec<Process>> {
    let document: Value = serde_yaml_ng::from_str(text).ok()?;
    match document {
        Value::Null => Some(Vec::new()),
        mapping @ Value::Mapping(_) => type_command_map(&mapping).ok(),
        _ => None,
    }
}

/// A `type: command` map; scalar commands are taken as their text, as Go's YAML decoder does.
fn type_command_map(value: &Value) -> Result<Vec<Process>, String> {
    let Value::Mapping(map) = value else {
        return Err(format!(
            "default_process_types is a {}, not a mapping",
            kind_of(value)
        ));
    };
    map.iter()
        .map(|(process_type, command)| {
            let process_type = scalar_text(process_type)
                .ok_or_else(|| format!("process type {process_type:?} is not text"))?;
            let command = scalar_text(command)
                .ok_or_else(|| format!("command of {process_type:?} is not text"))?;
            Ok(Process {
                process_type,
                command,
                ..Process::default()
            })
        })
        .collect()
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Sequence(_) => "list",
        Value::Mapping(_) => "mapping",
        Value::Tagged(_) => "tagged value",
    }
}

/// CF's `MergeProcesses`: entries of `later` replace same-type entries of `earlier` in place;
/// other entries are appended.
pub fn merge(mut earlier: Vec<Process>, later: Vec<Process>) -> Vec<Process> {
    let original_len = earlier.len();
    for process in later {
        let mut replaced = false;
        for existing in earlier[..original_len].iter_mut() {
            if existing.process_type == process.process_type {
                *existing = process.clone();
                replaced = true;
            }
        }
        if !replaced {
            earlier.push(process);
        }
    }
    earlier
}

/// The result.json view: plain processes (and the type → command map) versus sidecars.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessSummary {
    pub process_types: BTreeMap<String, String>,
    pub processes: Vec<ProcessEntry>,
    pub sidecars: Vec<SidecarEntry>,
}

pub fn summarize(processes: Vec<Process>) -> ProcessSummary {
    let mut summary = ProcessSummary::default();
    for process in processes {
        let sidecar_for = process.platforms.cloudfoundry.sidecar_for;
        if sidecar_for.is_empty() {
            summary
                .process_types
                .insert(process.process_type.clone(), process.command.clone());
            summary.processes.push(ProcessEntry {
                process_type: process.process_type,
                command: process.command,
            });
        } else {
            summary.sidecars.push(SidecarEntry {
                name: process.process_type,
                process_types: sidecar_for,
                command: process.command,
                memory: process.limits.memory,
            });
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(processes: &[Process]) -> Vec<(&str, &str)> {
        processes
            .iter()
            .map(|p| (p.process_type.as_str(), p.command.as_str()))
            .collect()
    }

    #[test]
    fn release_reads_default_process_types_in_order() {
        let yaml =
            "---\nconfig_vars: {A: b}\ndefault_process_types:\n  web: ./run\n  worker: ./work\n";
        let processes = parse_release(yaml).unwrap();
        assert_eq!(
            types(&processes),
            vec![("web", "./run"), ("worker", "./work")]
        );
        assert!(parse_release("").unwrap().is_empty());
        assert!(parse_release("addons: []\n").unwrap().is_empty());
    }

    #[test]
    fn release_rejects_non_yaml_and_non_maps() {
        assert!(parse_release("default_process_types: [\n").is_err());
        assert!(parse_release("just words").is_err());
        assert!(parse_release("default_process_types: [a, b]\n").is_err());
    }

    #[test]
    fn procfile_is_a_yaml_map() {
        let processes = parse_procfile("web: bundle exec rackup -p $PORT\nworker: 7\n").unwrap();
        assert_eq!(
            types(&processes),
            vec![("web", "bundle exec rackup -p $PORT"), ("worker", "7")]
        );
        assert_eq!(parse_procfile(""), Some(vec![]));
        assert_eq!(parse_procfile("web: [unclosed\n"), None);
        assert_eq!(parse_procfile("no colon here"), None);
    }

    #[test]
    fn launch_yml_with_sidecars_and_limits() {
        let yaml = "processes:\n- type: web\n  command: ./web\n- type: side\n  command: ./side\n  \
                    platforms: {cloudfoundry: {sidecar_for: [web]}}\n  limits: {memory: 64}\n";
        let summary = summarize(parse_launch_yml(yaml).unwrap());
        assert_eq!(summary.process_types["web"], "./web");
        assert_eq!(summary.processes.len(), 1);
        assert_eq!(summary.sidecars[0].name, "side");
        assert_eq!(summary.sidecars[0].process_types, vec!["web"]);
        assert_eq!(summary.sidecars[0].memory, Some(64));
    }

    #[test]
    fn merge_replaces_same_type_and_appends_new() {
        let first = parse_release("default_process_types: {web: a, worker: b}").unwrap();
        let second = parse_procfile("worker: c\nclock: d\n").unwrap();
        let merged = merge(first, second);
        assert_eq!(
            types(&merged),
            vec![("web", "a"), ("worker", "c"), ("clock", "d")]
        );
    }
}
