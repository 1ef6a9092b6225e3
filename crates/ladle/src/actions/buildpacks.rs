//! buildpacks verbs.
