//! JSON view of a user.
