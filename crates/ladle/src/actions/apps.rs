//! apps verbs.
