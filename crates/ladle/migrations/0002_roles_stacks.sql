-- A role is unique per (type, user, target). The table's UNIQUE constraint in 0001 never fires
-- because one of organization_guid/space_guid is always NULL, and NULLs are distinct; these
-- partial indexes (SQLite and PostgreSQL both have them) make a duplicate grant a unique
-- violation even when two arrive at once.
CREATE UNIQUE INDEX roles_unique_in_org ON roles (role_type, user_guid, organization_guid)
    WHERE space_guid IS NULL;
CREATE UNIQUE INDEX roles_unique_in_space ON roles (role_type, user_guid, space_guid)
    WHERE space_guid IS NOT NULL;
CREATE INDEX roles_space ON roles (space_guid);
