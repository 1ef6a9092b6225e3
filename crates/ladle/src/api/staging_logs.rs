//! What `GET /v3/builds/:guid/logs` and `GET /v3/droplets/:guid/logs` share: the query and
//! headers a log request may carry, and the two ways of answering it. With
//! `Accept: text/event-stream` the log is a stream of server-sent events that follows the
//! staging until it ends (`Last-Event-ID` resumes after that line); otherwise it is plain text,
//! all of it so far or, with `follow=true`, until the staging ends.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use super::error::{ApiError, ApiResult};
use crate::actions::staging_logs::{LogCursor, LogEvent, LogEvents};
use crate::presenters::staging_log;

/// How the client asked to read a log.
pub struct LogRequest {
    pub cursor: LogCursor,
    events: bool,
}

impl LogRequest {
    pub fn parse(headers: &HeaderMap, query: Option<&str>) -> ApiResult<Self> {
        let follow = follow_param(query)?;
        let events = wants_events(headers);
        let after = match headers.get("last-event-id").filter(|_| events) {
            None => -1,
            Some(value) => value
                .to_str()
                .ok()
                .and_then(|id| id.trim().parse::<i64>().ok())
                .filter(|id| *id >= -1)
                .ok_or_else(|| {
                    ApiError::bad_request("Last-Event-ID must be the id of a log event")
                })?,
        };
        Ok(LogRequest {
            cursor: LogCursor {
                after,
                // Events always follow: the end event is how a client learns the outcome.
                follow: follow || events,
            },
            events,
        })
    }

    pub fn respond(&self, log: LogEvents) -> Response {
        if self.events {
            let body = log.map(|event| {
                event.map(|event| match event {
                    LogEvent::Lines(rows) => staging_log::sse_lines(&rows),
                    LogEvent::Idle => staging_log::sse_keepalive(),
                    LogEvent::End(end) => staging_log::sse_end(&end.state, end.error.as_deref()),
                })
            });
            return (
                [
                    (header::CONTENT_TYPE, "text/event-stream"),
                    (header::CACHE_CONTROL, "no-cache"),
                    // Proxies that buffer responses (nginx) pass events on as they come.
                    (HeaderName::from_static("x-accel-buffering"), "no"),
                ],
                Body::from_stream(body),
            )
                .into_response();
        }
        let text = log.filter_map(|event| async move {
            match event {
                Ok(LogEvent::Lines(rows)) => Some(Ok(staging_log::present(&rows))),
                Ok(LogEvent::Idle | LogEvent::End(_)) => None,
                Err(err) => Some(Err(err)),
            }
        });
        (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            Body::from_stream(text),
        )
            .into_response()
    }
}

fn wants_events(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|media| {
            media
                .split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/event-stream"))
        })
}

fn follow_param(query: Option<&str>) -> ApiResult<bool> {
    let mut follow = false;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match (key.as_ref(), value.as_ref()) {
            ("follow", "true") => follow = true,
            ("follow", "false") => follow = false,
            ("follow", other) => {
                return Err(ApiError::bad_query(format!(
                    "Follow must be true or false, not '{other}'"
                )))
            }
            (other, _) => {
                return Err(ApiError::bad_query(format!(
                    "Unknown query parameter(s): '{other}'. Valid parameters are: 'follow'"
                )))
            }
        }
    }
    Ok(follow)
}
