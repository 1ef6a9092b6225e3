//! Black-box tests: spaces.
