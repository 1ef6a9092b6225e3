//! Black-box tests: builds.
