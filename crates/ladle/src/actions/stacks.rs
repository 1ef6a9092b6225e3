//! stacks verbs.
