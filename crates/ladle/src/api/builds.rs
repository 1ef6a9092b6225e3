//! `/v3/builds`
