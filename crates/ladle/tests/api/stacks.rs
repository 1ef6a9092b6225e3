//! Black-box tests: stacks.
