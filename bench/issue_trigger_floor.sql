-- The floor of bench/issue_trigger.sh: a trigger that makes the same writes
-- as elicense.issue_from_trigger for the fixture's W032 rows (sequence
-- counter, certificate row, then elicense._record_version: history row,
-- first outbox step, NOTIFY) with no argument parsing and no validation.
-- What the issuing trigger costs above this is the price of its checks.
CREATE TABLE approval_floor (LIKE approval_issuing INCLUDING ALL);
CREATE FUNCTION issue_floor() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  c elicense.certificate;
  n bigint;
BEGIN
  INSERT INTO elicense.sequence_counter AS sc (type_code, authority_uscc, last_value)
  VALUES ('11100000000013338W032', NEW.authority, 1)
  ON CONFLICT ON CONSTRAINT sequence_counter_pkey DO UPDATE SET last_value = sc.last_value + 1
  RETURNING sc.last_value INTO n;
  c.type_code := '11100000000013338W032';
  c.sequence := lpad(n::text, 7, '0');
  c.version := 1;
  c.identifier := elicense.build_identifier(c.type_code, NEW.authority, c.sequence, 1);
  c.original_identifier := c.identifier;
  c.licence_number := NEW.cert_no;
  c.holder_name := NEW.person;
  c.holder_id_type := 'RESIDENT_ID';
  c.holder_id := NEW.idno;
  c.authority_name := '福建省住房和城乡建设厅';
  c.authority_uscc := NEW.authority;
  c.authority_division := '350000';
  c.issue_date := NEW.decided;
  c.valid_from := NEW.start_date;
  c.valid_to := NEW.end_date;
  c.status := '01';
  c.operate_type := '01';
  c.business_data := jsonb_build_object('gender', NEW.sex, 'category', NEW.work);
  c.created_at := now();
  c.created_by := NEW.clerk;
  INSERT INTO elicense.certificate VALUES (c.*);
  PERFORM elicense._record_version(c, NULL, 'issued', NEW.clerk);
  RETURN NULL;
END
$$;
CREATE TRIGGER issue_licence_floor AFTER INSERT ON approval_floor FOR EACH ROW EXECUTE FUNCTION issue_floor();
