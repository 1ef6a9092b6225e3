//! JSON view of a role.
