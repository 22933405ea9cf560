-- The Focus state of active meetings (focus.StateStore): one JSON snapshot
-- per conference, replaced after every change, so that a restarted server,
-- or another front end of the pool, can regenerate the meeting's Focus
-- with its roster and roles. The conventions of 0001 hold: SQL both SQLite
-- and PostgreSQL accept, BYTEA (a BLOB to SQLite) for opaque bytes, times
-- as BIGINT nanoseconds since 1970 UTC.
--
-- conference is the focus URI. The rows are not tied to meetings by a
-- foreign key: the Focus forgets a snapshot when its meeting ends, and
-- discards at resume one whose meeting has gone.
CREATE TABLE focus_state (
	conference TEXT NOT NULL PRIMARY KEY,
	snapshot   BYTEA NOT NULL,
	updated_at BIGINT NOT NULL
);
