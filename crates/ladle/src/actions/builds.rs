//! builds verbs.
