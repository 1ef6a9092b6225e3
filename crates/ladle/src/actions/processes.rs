//! processes verbs.
