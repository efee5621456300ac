-- See the PostgreSQL migration of the same number: a component's url, host, icon (a built-in
-- name or an artifact id) and description, all optional.
ALTER TABLE components ADD COLUMN url TEXT;
ALTER TABLE components ADD COLUMN host TEXT;
ALTER TABLE components ADD COLUMN icon TEXT;
ALTER TABLE components ADD COLUMN description TEXT;
