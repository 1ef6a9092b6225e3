//! `/v3/packages`
