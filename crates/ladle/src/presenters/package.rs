//! JSON view of a package.
