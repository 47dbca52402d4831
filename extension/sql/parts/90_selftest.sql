--------------------------------------------------------------------------------
-- Self-test of the C++ -> PostgreSQL error boundary (superuser only).
--------------------------------------------------------------------------------

CREATE FUNCTION elicense._selftest_throw(kind text) RETURNS void
AS 'MODULE_PATHNAME', 'elicense_selftest_throw' LANGUAGE C VOLATILE STRICT;
CREATE FUNCTION elicense._selftest_live_objects() RETURNS integer
AS 'MODULE_PATHNAME', 'elicense_selftest_live_objects' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION elicense._selftest_throw(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION elicense._selftest_live_objects() FROM PUBLIC;
COMMENT ON FUNCTION elicense._selftest_throw(text) IS
'Throws a C++ exception of the given kind (core_error, std_exception, bad_alloc, unknown) while C++ objects are alive';
COMMENT ON FUNCTION elicense._selftest_live_objects() IS
'How many objects of _selftest_throw are alive in this backend; 0 after every call means their destructors ran';
