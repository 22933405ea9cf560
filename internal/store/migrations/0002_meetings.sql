-- Meetings (directory.Meeting): the pool database's conference table. The
-- conventions of 0001 hold: SQL both SQLite and PostgreSQL accept, times as
-- BIGINT nanoseconds since 1970 UTC (NULL for the zero time), NULL for an
-- unset optional string, unnamed constraints.
--
-- A meeting is keyed by its organizer and the key his client chose
-- ([MS-CONFPRO] §2.2.1.2 msci:conference-id). presenters and attendees are
-- newline-separated SIP URIs (a SIP URI cannot hold a newline), which keeps
-- the row small: the store expects millions of rows. access_key is the
-- sealed anonymous access key, never the key itself.
CREATE TABLE meetings (
	organizer         TEXT NOT NULL REFERENCES users (uri) ON DELETE CASCADE,
	key               TEXT NOT NULL,
	id                TEXT NOT NULL UNIQUE,
	pool              TEXT NOT NULL REFERENCES pools (fqdn),
	conference_id     TEXT UNIQUE,
	kind              TEXT NOT NULL,
	subject           TEXT,
	admission         TEXT NOT NULL,
	presenters        TEXT,
	attendees         TEXT,
	passcode_hash     TEXT,
	access_key        BYTEA,
	starts_at         BIGINT,
	ends_at           BIGINT,
	recurs_until      BIGINT,
	expires_at        BIGINT NOT NULL,
	last_activated_at BIGINT,
	active            BOOLEAN NOT NULL,
	version           BIGINT NOT NULL,
	created_at        BIGINT NOT NULL,
	updated_at        BIGINT NOT NULL,
	PRIMARY KEY (organizer, key)
);

-- The sweeper's scan (ExpiredMeetings): oldest expiry first.
CREATE INDEX meetings_expires_at ON meetings (expires_at);

-- The conference ID allocator's scan of one pool (ConferenceIDs); it also
-- serves the foreign key when a pool is deleted.
CREATE INDEX meetings_pool ON meetings (pool, conference_id);

-- At most one personal meeting ("My Meeting") per organizer. The columns
-- are in this order, and the index is named as PostgreSQL would name a
-- unique constraint on kind, so that both databases report a violation as
-- one of meetings.kind: SQLite names the first column, PostgreSQL the index.
CREATE UNIQUE INDEX meetings_kind_key ON meetings (kind, organizer) WHERE kind = 'personal';

-- Every meeting ID ever stored. Rows are never deleted, not even with the
-- meeting (nor by the cascade from users), so that a meeting ID is never
-- reused: a client or a stale invitation holding the ID of a deleted
-- meeting must not reach a new one.
CREATE TABLE meeting_ids_used (
	id TEXT NOT NULL PRIMARY KEY
);
