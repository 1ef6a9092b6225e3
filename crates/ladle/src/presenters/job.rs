//! JSON view of a job.
