//! JSON view of a build.
