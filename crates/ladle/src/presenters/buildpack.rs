//! JSON view of a buildpack.
