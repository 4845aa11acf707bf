-- Set-based group commits. "{schema}" is replaced by the configured schema name (already quoted). Runs in
-- place on a database created at any earlier version, in the migrator's transaction.
--
-- With group commit on, the store sends the commits of a group (orders and charges) as one statement per
-- kind of write for the whole group, each covering the rows of every member. A statement that finds a
-- member's read no longer holding (a wallet at another version, stock that would fall below its bound, a
-- key already taken) names the first such member in the group's order, so that the store can send the
-- group again without it: this raises CM409 (the code expect_rows raises) with the member's position.
CREATE FUNCTION {schema}.expect_member(failed integer) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF failed IS NOT NULL THEN
        RAISE EXCEPTION 'Commerce group commit conflict: member %', failed
            USING ERRCODE = 'CM409';
    END IF;
    RETURN true;
END
$$;
