//! Black-box tests: droplets.
