//! Labels and annotations: a change asked for in a body, and how it merges into what is stored.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// Labels and annotations to set (`Some`) or remove (`None`), as CC's `metadata` bodies say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataPatch {
    pub labels: BTreeMap<String, Option<String>>,
    pub annotations: BTreeMap<String, Option<String>>,
}

impl MetadataPatch {
    /// The stored `{"labels":{..},"annotations":{..}}` JSON after this patch.
    pub fn apply(&self, stored: &str) -> String {
        let mut current: Value = serde_json::from_str(stored).unwrap_or(Value::Null);
        if !current.is_object() {
            current = json!({});
        }
        for (section, changes) in [("labels", &self.labels), ("annotations", &self.annotations)] {
            let entry = current
                .as_object_mut()
                .expect("object")
                .entry(section)
                .or_insert_with(|| json!({}));
            if !entry.is_object() {
                *entry = json!({});
            }
            let map = entry.as_object_mut().expect("object");
            for (key, value) in changes {
                match value {
                    Some(v) => map.insert(key.clone(), Value::String(v.clone())),
                    None => map.remove(key),
                };
            }
        }
        current.to_string()
    }
}
