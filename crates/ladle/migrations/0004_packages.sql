-- Docker packages keep the registry credentials they were created with (the password is never
-- shown back), and admin buildpack names are unique per stack, a null stack counting as one
-- more stack, so that two concurrent creates cannot both win.
ALTER TABLE packages ADD COLUMN docker_username TEXT;
ALTER TABLE packages ADD COLUMN docker_password TEXT;
CREATE UNIQUE INDEX buildpacks_name_stack ON buildpacks (name, COALESCE(stack, ''));
-- Labels and annotations (today's `metadata`), as JSON text.
ALTER TABLE packages ADD COLUMN metadata TEXT NOT NULL DEFAULT '{"labels":{},"annotations":{}}';
ALTER TABLE buildpacks ADD COLUMN metadata TEXT NOT NULL DEFAULT '{"labels":{},"annotations":{}}';
