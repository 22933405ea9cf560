-- The directory: every type of internal/directory. Written in the SQL that
-- both SQLite and PostgreSQL accept: TEXT, INTEGER, BIGINT, BOOLEAN and
-- BYTEA (a BLOB to SQLite); timestamps are BIGINT nanoseconds since 1970,
-- UTC. Optional strings are NULL when unset, so that UNIQUE columns may be
-- unset in many rows. Constraints are left unnamed on purpose: PostgreSQL's
-- generated names (<table>_<column>_key) tell the store which key a
-- violation hit.

-- The one organization (id is always 1). domains is comma-separated, the
-- primary domain first.
CREATE TABLE organization (
	id               INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	name             TEXT NOT NULL,
	domains          TEXT NOT NULL,
	conference_key   BYTEA,
	web_internal_url TEXT,
	web_external_url TEXT,
	updated_at       BIGINT NOT NULL
);

CREATE TABLE pools (
	fqdn             TEXT NOT NULL PRIMARY KEY,
	pool_id          TEXT NOT NULL UNIQUE,
	min_pin_length   INTEGER NOT NULL,
	max_pin_attempts INTEGER NOT NULL,
	pin_expiry_days  INTEGER NOT NULL,
	web_internal_url TEXT,
	web_external_url TEXT
);

CREATE TABLE servers (
	fqdn TEXT NOT NULL PRIMARY KEY,
	pool TEXT NOT NULL REFERENCES pools (fqdn)
);
CREATE INDEX servers_pool ON servers (pool);

CREATE TABLE trusted_services (
	fqdn TEXT NOT NULL,
	type TEXT NOT NULL,
	port INTEGER NOT NULL,
	PRIMARY KEY (fqdn, type)
);

CREATE TABLE location_profiles (
	name        TEXT NOT NULL PRIMARY KEY,
	description TEXT
);

-- A profile's normalization rules; position is the 0-based order in which
-- they are tried.
CREATE TABLE location_profile_rules (
	profile     TEXT NOT NULL REFERENCES location_profiles (name) ON DELETE CASCADE,
	position    INTEGER NOT NULL,
	pattern     TEXT NOT NULL,
	translation TEXT NOT NULL,
	description TEXT,
	PRIMARY KEY (profile, position)
);

CREATE TABLE regions (
	name             TEXT NOT NULL PRIMARY KEY,
	location_profile TEXT NOT NULL REFERENCES location_profiles (name)
);
CREATE INDEX regions_location_profile ON regions (location_profile);

CREATE TABLE meeting_policies (
	name              TEXT NOT NULL PRIMARY KEY,
	pstn_dial_in      BOOLEAN NOT NULL,
	passcode_required BOOLEAN NOT NULL,
	max_meeting_size  INTEGER NOT NULL,
	anonymous_allowed BOOLEAN NOT NULL
);

-- Conferencing Attendant contact objects. secondary_languages is
-- comma-separated, in the order they are offered.
CREATE TABLE access_numbers (
	line_uri            TEXT NOT NULL PRIMARY KEY,
	display_name        TEXT,
	uri                 TEXT NOT NULL UNIQUE,
	pool                TEXT NOT NULL REFERENCES pools (fqdn),
	region              TEXT NOT NULL REFERENCES regions (name),
	primary_language    TEXT NOT NULL,
	secondary_languages TEXT
);
CREATE INDEX access_numbers_pool ON access_numbers (pool);
CREATE INDEX access_numbers_region ON access_numbers (region);

-- Users. line_number is line_uri without its parameters (tel:+14255550100
-- for tel:+14255550100;ext=100), the key of UserByLineURI.
CREATE TABLE users (
	uri                 TEXT NOT NULL PRIMARY KEY,
	display_name        TEXT,
	pool                TEXT NOT NULL REFERENCES pools (fqdn),
	enabled             BOOLEAN NOT NULL,
	enterprise_voice    BOOLEAN NOT NULL,
	line_uri            TEXT UNIQUE,
	line_number         TEXT,
	extension           TEXT UNIQUE,
	location_profile    TEXT REFERENCES location_profiles (name),
	meeting_policy      TEXT REFERENCES meeting_policies (name),
	conference_id       TEXT UNIQUE,
	realm               TEXT,
	ha1_md5             TEXT,
	ha1_sha256          TEXT,
	pin_hash            TEXT,
	pin_set_at          BIGINT,
	pin_failed_attempts INTEGER NOT NULL,
	pin_locked_out      BOOLEAN NOT NULL,
	created_at          BIGINT NOT NULL,
	updated_at          BIGINT NOT NULL
);
CREATE INDEX users_line_number ON users (line_number);
CREATE INDEX users_pool ON users (pool);
CREATE INDEX users_location_profile ON users (location_profile);
CREATE INDEX users_meeting_policy ON users (meeting_policy);
