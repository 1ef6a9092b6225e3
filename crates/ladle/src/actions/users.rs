//! users verbs.
