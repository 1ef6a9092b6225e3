-- A package in PROCESSING_UPLOAD belongs to the one upload storing its bits: `upload_owner` names
-- that upload and `upload_heartbeat_at` is renewed while its blob is stored. The periodic sweep
-- puts a package whose heartbeat stopped for longer than the job lease (its node died) back to
-- AWAITING_UPLOAD, so that the client can upload again; the old upload, should it still be
-- running, can no longer mark the package READY.
ALTER TABLE packages ADD COLUMN upload_owner TEXT;
ALTER TABLE packages ADD COLUMN upload_heartbeat_at TEXT;
CREATE INDEX packages_state ON packages (state);
