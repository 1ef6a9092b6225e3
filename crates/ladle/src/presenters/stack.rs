//! JSON view of a stack.
