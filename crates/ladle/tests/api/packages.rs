//! Black-box tests: packages.
