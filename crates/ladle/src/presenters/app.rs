//! JSON view of a app.
