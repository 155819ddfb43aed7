DROP TABLE scim_clients;
ALTER TABLE emails DROP COLUMN kind;
DROP INDEX users_external_id_idx;
DROP INDEX users_username_key;
ALTER TABLE users DROP COLUMN deactivated_at;
ALTER TABLE users DROP COLUMN scim_profile;
ALTER TABLE users DROP COLUMN external_id;
ALTER TABLE users DROP COLUMN username_key;
ALTER TABLE users DROP COLUMN username;
