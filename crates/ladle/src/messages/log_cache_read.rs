//! The query of a log-cache read (`GET /api/v1/read/:source_id`), checked as log-cache checks
//! it: times in nanoseconds since the epoch, `[start_time, end_time)`, at most 1000 envelopes
//! (100 unless asked), oldest first unless `descending`. Parameters log-cache does not know
//! are ignored, as its HTTP gateway ignores them.

use super::MessageError;

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

/// Envelope types log-cache knows; staging logs are `LOG` envelopes.
const ENVELOPE_TYPES: [&str; 6] = ["ANY", "LOG", "COUNTER", "GAUGE", "TIMER", "EVENT"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogCacheRead {
    /// Inclusive, nanoseconds since the epoch.
    pub start_time: i64,
    /// Exclusive; `None` for "now".
    pub end_time: Option<i64>,
    /// Whether the envelope types asked for include logs (none asked: every type).
    pub logs_wanted: bool,
    pub limit: i64,
    pub descending: bool,
}

impl LogCacheRead {
    pub fn parse(query: Option<&str>) -> Result<Self, MessageError> {
        let (mut start_time, mut end_time, mut limit) = (0, 0, 0);
        let mut descending = false;
        let mut types = Vec::new();
        let mut problems = Vec::new();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match key.as_ref() {
                "start_time" => start_time = integer("start_time", &value, &mut problems),
                "end_time" => end_time = integer("end_time", &value, &mut problems),
                "limit" => limit = integer("limit", &value, &mut problems),
                "descending" => match parse_bool(&value) {
                    Some(value) => descending = value,
                    None => {
                        problems.push(format!("descending must be true or false, not '{value}'"))
                    }
                },
                "envelope_types" => match envelope_type(&value) {
                    Some(name) => types.push(name),
                    None => problems.push(format!(
                        "envelope_types must be one of {}, not '{value}'",
                        ENVELOPE_TYPES.join(", ")
                    )),
                },
                _ => {}
            }
        }
        if problems.is_empty() {
            if end_time != 0 && start_time > end_time {
                problems.push(format!(
                    "StartTime ({start_time}) must be before EndTime ({end_time})"
                ));
            }
            if limit > MAX_LIMIT {
                problems.push(format!("Limit ({limit}) must be {MAX_LIMIT} or less"));
            }
            if limit < 0 {
                problems.push(format!("Limit ({limit}) must be greater than zero"));
            }
        }
        if !problems.is_empty() {
            return Err(MessageError::bad_query(problems));
        }
        Ok(LogCacheRead {
            start_time,
            end_time: (end_time != 0).then_some(end_time),
            logs_wanted: types.is_empty() || types.iter().any(|t| matches!(*t, "ANY" | "LOG")),
            limit: if limit == 0 { DEFAULT_LIMIT } else { limit },
            descending,
        })
    }
}

fn integer(name: &str, value: &str, problems: &mut Vec<String>) -> i64 {
    value.parse().unwrap_or_else(|_| {
        problems.push(format!("{name} must be an integer, not '{value}'"));
        0
    })
}

/// Go's `strconv.ParseBool`, which log-cache's gateway uses.
fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// A type by name or by its number in log-cache's enum.
fn envelope_type(value: &str) -> Option<&'static str> {
    ENVELOPE_TYPES
        .iter()
        .enumerate()
        .find(|(number, name)| **name == value || number.to_string() == value)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<LogCacheRead, Vec<String>> {
        LogCacheRead::parse(Some(query)).map_err(|e| e.problems)
    }

    #[test]
    fn defaults_as_log_cache_has_them() {
        assert_eq!(
            parse("").unwrap(),
            LogCacheRead {
                start_time: 0,
                end_time: None,
                logs_wanted: true,
                limit: 100,
                descending: false
            }
        );
        let read = parse("start_time=5&end_time=9&limit=1000&descending=t&name_filter=x").unwrap();
        assert_eq!((read.start_time, read.end_time), (5, Some(9)));
        assert_eq!((read.limit, read.descending), (1000, true));
    }

    #[test]
    fn envelope_types_select_logs_by_name_or_number() {
        assert!(parse("envelope_types=LOG").unwrap().logs_wanted);
        assert!(
            parse("envelope_types=GAUGE&envelope_types=ANY")
                .unwrap()
                .logs_wanted
        );
        assert!(!parse("envelope_types=COUNTER").unwrap().logs_wanted);
        assert!(parse("envelope_types=1").unwrap().logs_wanted);
        assert!(!parse("envelope_types=2").unwrap().logs_wanted);
        assert!(parse("envelope_types=log").unwrap_err()[0].contains("'log'"));
    }

    #[test]
    fn bad_values_are_refused_in_log_caches_words() {
        assert_eq!(
            parse("limit=1001").unwrap_err(),
            ["Limit (1001) must be 1000 or less"]
        );
        assert_eq!(
            parse("limit=-1").unwrap_err(),
            ["Limit (-1) must be greater than zero"]
        );
        assert_eq!(
            parse("start_time=10&end_time=5").unwrap_err(),
            ["StartTime (10) must be before EndTime (5)"]
        );
        assert_eq!(
            parse("start_time=soon").unwrap_err(),
            ["start_time must be an integer, not 'soon'"]
        );
        assert!(parse("descending=yes").unwrap_err()[0].contains("'yes'"));
        // end_time 0 is "now", so any start is before it.
        assert!(parse("start_time=10&end_time=0").is_ok());
    }
}
