//! JSON view of a droplet.
