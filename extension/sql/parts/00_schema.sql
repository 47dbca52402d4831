-- elicense install script, part 00. `make` joins extension/sql/parts/*.sql in
-- name order into elicense--<version>.sql. Each part holds one subject. A
-- released version's script is never edited (extension/sql/released/): a
-- change to an object of version A also goes into extension/sql/updates/A--B.sql,
-- and a new part into the Makefile's PARTS_ADDED_IN_B.
\echo Use "CREATE EXTENSION elicense" to load this file. \quit

-- The extension owns its schema (no IF NOT EXISTS): DROP EXTENSION removes it.
CREATE SCHEMA elicense;
COMMENT ON SCHEMA elicense IS 'Electronic licences (电子证照) for the national construction quality and safety platform';
GRANT USAGE ON SCHEMA elicense TO PUBLIC;
