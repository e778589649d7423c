-- Directory sign-in (USER_LDAP): an account made by a sign-in against the
-- directory records the directory username it belongs to. NULL for local
-- accounts; such an account has no local password (password_hash is '').
-- The name compares byte for byte (utf8mb4_bin on MySQL), as the directory
-- tells josé from jose.

-- +goose Up
ALTER TABLE users ADD COLUMN directory_name VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;
CREATE UNIQUE INDEX users_directory_name_idx ON users (directory_name);

-- +goose Down
DROP INDEX users_directory_name_idx ON users;
ALTER TABLE users DROP COLUMN directory_name;
