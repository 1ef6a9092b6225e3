//! The staging environment, merged the way Cloud Controller builds it
//! (`StagingEnvironmentBuilder`): later sources win, structured values are JSON-encoded.

use serde_json::{Map, Value};

pub struct StagingEnvInput {
    /// The environment the droplet records, already merged the way Cloud Controller merges it
    /// (staging group < app env < request env < `CF_STACK` < `VCAP_APPLICATION`): ladle
    /// merges it once, when the staging is asked for, and carries it merged.
    pub environment: Map<String, Value>,
    /// Staging memory; becomes `MEMORY_LIMIT=<N>m`.
    pub memory_mb: u64,
    /// Service bindings by label; `{}` when there are none.
    pub vcap_services: Value,
}

/// Variables every staging sees no matter what the user set: Diego's container variables.
/// There is no port during staging, so ADDR and PORT are present but empty (CATS checks this).
const CONTAINER_VARS: [(&str, &str); 5] = [
    ("CF_INSTANCE_IP", "127.0.0.1"),
    ("CF_INSTANCE_INTERNAL_IP", "127.0.0.1"),
    ("CF_INSTANCE_PORTS", "[]"),
    ("CF_INSTANCE_ADDR", ""),
    ("CF_INSTANCE_PORT", ""),
];

/// Cloud Controller's order, lowest priority first: `LANG` default < the droplet's merged
/// environment < `MEMORY_LIMIT` < `VCAP_SERVICES` < the container variables Diego sets. A key
/// keeps the position where it first appeared, as in a Ruby hash merge.
pub fn staging_environment(input: &StagingEnvInput) -> Vec<(String, String)> {
    let mut env = OrderedEnv::default();
    env.set("LANG", "en_US.UTF-8".to_string());
    for (key, value) in &input.environment {
        env.set(key, encode(value));
    }
    env.set("MEMORY_LIMIT", format!("{}m", input.memory_mb));
    env.set("VCAP_SERVICES", encode(&input.vcap_services));
    for (key, value) in CONTAINER_VARS {
        env.set(key, value.to_string());
    }
    env.0
}

/// Strings as they are, objects and arrays as JSON, everything else as Ruby's `to_s` would
/// print it (`nil` becomes the empty string).
fn encode(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(_) | Value::Object(_) => value.to_string(),
    }
}

#[derive(Default)]
struct OrderedEnv(Vec<(String, String)>);

impl OrderedEnv {
    fn set(&mut self, key: &str, value: String) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.to_string(), value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn input() -> StagingEnvInput {
        StagingEnvInput {
            environment: map(json!({
                "LANG": "de_DE.UTF-8",
                "SHARED": "from-request",
                "APP_ONLY": {"nested": [1, 2]},
                "FLAG": true,
                "NOTHING": null,
                "MEMORY_LIMIT": "1g",
                "VCAP_SERVICES": "user",
                "CF_INSTANCE_IP": "10.0.0.1",
                "COUNT": 3,
                "CF_STACK": "cflinuxfs4",
                "VCAP_APPLICATION": {"limits": {"mem": 1024}, "application_name": "app"},
            })),
            memory_mb: 1024,
            vcap_services: json!({}),
        }
    }

    fn get<'a>(env: &'a [(String, String)], key: &str) -> &'a str {
        let found: Vec<_> = env.iter().filter(|(k, _)| k == key).collect();
        assert_eq!(found.len(), 1, "{key} exactly once");
        &found[0].1
    }

    #[test]
    fn the_container_has_the_last_word() {
        let env = staging_environment(&input());
        assert_eq!(get(&env, "SHARED"), "from-request");
        assert_eq!(get(&env, "CF_STACK"), "cflinuxfs4");
        assert_eq!(
            get(&env, "MEMORY_LIMIT"),
            "1024m",
            "MEMORY_LIMIT beats the user's variables"
        );
        assert_eq!(
            get(&env, "VCAP_SERVICES"),
            "{}",
            "VCAP_SERVICES is applied last"
        );
        assert_eq!(get(&env, "CF_INSTANCE_IP"), "127.0.0.1");
        assert_eq!(get(&env, "LANG"), "de_DE.UTF-8", "LANG is only a default");
    }

    #[test]
    fn structured_values_are_json_and_the_container_vars_are_present() {
        let env = staging_environment(&input());
        assert_eq!(get(&env, "APP_ONLY"), r#"{"nested":[1,2]}"#);
        assert_eq!(get(&env, "FLAG"), "true");
        assert_eq!(get(&env, "COUNT"), "3");
        assert_eq!(get(&env, "NOTHING"), "");
        assert_eq!(
            get(&env, "VCAP_APPLICATION"),
            r#"{"limits":{"mem":1024},"application_name":"app"}"#
        );
        assert_eq!(get(&env, "CF_INSTANCE_INTERNAL_IP"), "127.0.0.1");
        assert_eq!(get(&env, "CF_INSTANCE_PORTS"), "[]");
        assert_eq!(get(&env, "CF_INSTANCE_ADDR"), "");
        assert_eq!(get(&env, "CF_INSTANCE_PORT"), "");
    }

    #[test]
    fn keys_keep_their_first_position() {
        let env = staging_environment(&input());
        let keys: Vec<_> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(&keys[..3], ["LANG", "SHARED", "APP_ONLY"]);
        let pos = |k: &str| keys.iter().position(|x| *x == k).unwrap();
        assert!(
            pos("MEMORY_LIMIT") < pos("COUNT"),
            "MEMORY_LIMIT came from the user"
        );
        assert!(pos("CF_STACK") < pos("VCAP_APPLICATION"));
    }
}
