-- Progress table on PostgreSQL. Idempotent: run in one transaction holding an advisory lock
-- (so workers starting at once do not race on the catalogue) whenever the table's comment is not
-- the current schema version; the comment is set last. A later version adds its changes here
-- as idempotent statements (ADD COLUMN IF NOT EXISTS, ...) and bumps SCHEMA_VERSION.

CREATE TABLE IF NOT EXISTS reingest_progress (
    -- byte order, as SQLite: scan() pages by id > last, which must agree with ORDER BY id
    id text COLLATE "C" PRIMARY KEY,
    state integer NOT NULL DEFAULT 0,
    reason text,
    attempts integer NOT NULL DEFAULT 0,
    owner text,
    lease_until double precision,
    enqueued_version text,
    updated_at double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS reingest_progress_by_state ON reingest_progress (state, id);
CREATE INDEX IF NOT EXISTS reingest_progress_by_lease ON reingest_progress (lease_until)
    WHERE owner IS NOT NULL;

-- Ids per state, so counts() costs O(states), not O(rows). Each state has a few slots (chosen
-- by backend pid): concurrent writers mostly update different rows instead of queueing on one.
CREATE TABLE IF NOT EXISTS reingest_state_counts (
    state integer NOT NULL,
    slot integer NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (state, slot)
);

-- A table that predates the counters (or whose counters were dropped) is counted once here.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM reingest_state_counts) THEN
        INSERT INTO reingest_state_counts (state, slot, n)
        SELECT state, 0, COUNT(*) FROM reingest_progress GROUP BY state;
    END IF;
END $$;

-- Statement-level triggers: one counter update per state a statement touches, not per row.
-- Counter rows are locked in (state, slot) order, so two writers never deadlock on them.
CREATE OR REPLACE FUNCTION reingest_count_states() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    my_slot integer := pg_backend_pid() % 8;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO reingest_state_counts AS c (state, slot, n)
        SELECT state, my_slot, COUNT(*) FROM new_rows GROUP BY state ORDER BY state
        ON CONFLICT (state, slot) DO UPDATE SET n = c.n + excluded.n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO reingest_state_counts AS c (state, slot, n)
        SELECT state, my_slot, -COUNT(*) FROM old_rows GROUP BY state ORDER BY state
        ON CONFLICT (state, slot) DO UPDATE SET n = c.n + excluded.n;
    ELSE
        INSERT INTO reingest_state_counts AS c (state, slot, n)
        SELECT state, my_slot, SUM(delta) FROM (
            SELECT state, 1 AS delta FROM new_rows
            UNION ALL
            SELECT state, -1 FROM old_rows
        ) AS changes
        GROUP BY state HAVING SUM(delta) != 0 ORDER BY state
        ON CONFLICT (state, slot) DO UPDATE SET n = c.n + excluded.n;
    END IF;
    RETURN NULL;
END $$;

-- transition tables allow one event per trigger, hence three triggers
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgname = 'reingest_progress_count_insert'
                   AND tgrelid = 'reingest_progress'::regclass) THEN
        CREATE TRIGGER reingest_progress_count_insert AFTER INSERT ON reingest_progress
        REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION reingest_count_states();
    END IF;
    IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgname = 'reingest_progress_count_update'
                   AND tgrelid = 'reingest_progress'::regclass) THEN
        CREATE TRIGGER reingest_progress_count_update AFTER UPDATE ON reingest_progress
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION reingest_count_states();
    END IF;
    IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgname = 'reingest_progress_count_delete'
                   AND tgrelid = 'reingest_progress'::regclass) THEN
        CREATE TRIGGER reingest_progress_count_delete AFTER DELETE ON reingest_progress
        REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION reingest_count_states();
    END IF;
END $$;

COMMENT ON TABLE reingest_progress IS 'reingest progress schema 1';
