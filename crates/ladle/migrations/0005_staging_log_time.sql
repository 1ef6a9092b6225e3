-- Log-cache reads ask for an app's lines in a time range: each droplet's lines by time, without
-- reading all of them.
CREATE INDEX staging_logs_time ON staging_logs (droplet_guid, created_at);
