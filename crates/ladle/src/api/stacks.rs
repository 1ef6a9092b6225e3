//! `/v3/stacks`
