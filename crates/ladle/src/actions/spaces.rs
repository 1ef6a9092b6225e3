//! spaces verbs.
