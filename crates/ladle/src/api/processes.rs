//! `/v3/processes`
