-- The admin users list (users.Service.List) sorts by name or by creation
-- time, ties broken by id, and reads one page: these indexes give a page
-- in that order without sorting the whole table. (Sorting by email uses
-- its unique index; a search, a substring anywhere, reads every row.)

-- +goose Up
CREATE INDEX users_name_id_idx ON users (name, id);
CREATE INDEX users_created_at_id_idx ON users (created_at, id);

-- +goose Down
DROP INDEX users_created_at_id_idx;
DROP INDEX users_name_id_idx;
