//! Where the client's words go: progress and logs on stdout, or on stderr when stdout carries
//! JSON; plain lines, no colours, so scripts and log files read them.

use serde_json::Value;

pub struct Output {
    json: bool,
}

impl Output {
    pub fn new(json: bool) -> Output {
        Output { json }
    }

    pub fn line(&self, text: &str) {
        if self.json {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }

    /// The result: the JSON value with `--json`, else one `name: value` line per pair.
    pub fn summary(&self, json: &Value, pairs: &[(&str, String)]) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(json).unwrap_or_default());
            return;
        }
        let width = pairs.iter().map(|(name, _)| name.len()).max().unwrap_or(0) + 1;
        println!();
        for (name, value) in pairs {
            println!("{:width$} {value}", format!("{name}:"));
        }
    }
}
