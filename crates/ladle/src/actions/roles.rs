//! roles verbs.
