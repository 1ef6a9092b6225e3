//! jobs verbs.
