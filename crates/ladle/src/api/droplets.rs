//! `/v3/droplets`
