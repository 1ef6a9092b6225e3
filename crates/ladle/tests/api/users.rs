//! Black-box tests: users.
