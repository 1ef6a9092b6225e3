//! `/v3/roles`
