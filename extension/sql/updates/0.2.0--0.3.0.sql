-- elicense 0.2.0 -> 0.3.0: changes to objects of 0.2.0. The Makefile appends
-- the parts 0.3.0 added (PARTS_ADDED_IN_0.3.0) to make
-- elicense--0.2.0--0.3.0.sql; tests/integration/extension_upgrade.sh checks
-- that the result equals a fresh 0.3.0.
\echo Use "ALTER EXTENSION elicense UPDATE TO '0.3.0'" to load this file. \quit
