//! JSON view of a process.
