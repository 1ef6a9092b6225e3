//! packages verbs.
