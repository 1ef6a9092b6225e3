//! `/v3/users`
