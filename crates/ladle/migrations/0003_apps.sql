-- Labels and annotations of apps (today's `metadata`), as JSON text.
ALTER TABLE apps ADD COLUMN metadata TEXT NOT NULL DEFAULT '{"labels":{},"annotations":{}}';
