//! Black-box tests: apps.
