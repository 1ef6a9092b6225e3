//! droplets verbs.
