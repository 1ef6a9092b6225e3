//! JSON view of a space.
