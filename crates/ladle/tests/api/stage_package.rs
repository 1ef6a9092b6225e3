//! Black-box tests: stage_package.
