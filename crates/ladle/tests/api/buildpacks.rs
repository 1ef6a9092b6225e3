//! Black-box tests: buildpacks.
