-- Directory sign-in (USER_LDAP): an account made by a sign-in against the
-- directory records the directory username it belongs to. NULL for local
-- accounts; such an account has no local password (password_hash is '').

-- +goose Up
ALTER TABLE users ADD COLUMN directory_name VARCHAR(255) NULL;
CREATE UNIQUE INDEX users_directory_name_idx ON users (directory_name);

-- +goose Down
DROP INDEX users_directory_name_idx;
ALTER TABLE users DROP COLUMN directory_name;
