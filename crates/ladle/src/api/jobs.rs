//! `/v3/jobs`
