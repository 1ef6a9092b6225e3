//! `/v3/spaces`
