-- Shared by the SQL benchmarks: bench.measure(label, query, calls, baseline)
-- runs `query` 3 times, keeps the fastest run, and records calls/s. Results
-- land in bench.result; bench.report() prints them with the ratio to the
-- baseline measured in the same run.
CREATE SCHEMA IF NOT EXISTS bench;
CREATE TABLE IF NOT EXISTS bench.result (
  suite text, label text, calls bigint, seconds float8, calls_per_s float8, baseline text);

CREATE OR REPLACE FUNCTION bench.measure(suite text, label text, query text, calls bigint, baseline text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz;
  best float8 := 'infinity';
BEGIN
  FOR i IN 1..3 LOOP
    t0 := clock_timestamp();
    EXECUTE query;
    best := least(best, extract(epoch FROM clock_timestamp() - t0));
  END LOOP;
  INSERT INTO bench.result VALUES (suite, label, calls, best, calls / best, baseline);
END $$;

CREATE OR REPLACE VIEW bench.report AS
SELECT r.suite, r.label, r.calls, round(r.seconds::numeric, 4) AS seconds,
       round(r.calls_per_s::numeric) AS calls_per_s,
       CASE WHEN b.label IS NOT NULL THEN round((b.calls_per_s / r.calls_per_s)::numeric, 2) END AS time_vs_baseline,
       r.baseline
FROM bench.result r LEFT JOIN bench.result b ON b.suite = r.suite AND b.label = r.baseline;
