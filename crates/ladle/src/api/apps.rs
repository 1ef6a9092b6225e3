//! `/v3/apps`
