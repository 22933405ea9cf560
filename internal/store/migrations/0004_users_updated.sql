-- The user cache of each front end follows the directory by asking for the
-- users written since its last look (UsersUpdatedSince).
CREATE INDEX users_updated_at ON users (updated_at);
