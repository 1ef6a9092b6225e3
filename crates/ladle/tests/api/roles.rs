//! Black-box tests: roles.
