-- The digest HA1 values over the whole address "user@domain" (MD5 and
-- SHA-256), beside those over the user part: Pidgin SIPE sends the sign-in
-- address as its digest username, and an HA1 hashes the username as sent
-- (RFC 7616 §3.4.2), so the user-part values cannot verify it.
--
-- They can only be made from the password, which Parley never keeps: a user
-- whose password was set before this migration has NULL here, and
-- authenticates only with the user-part username until an administrator sets
-- his password again ("parley user set-password").
ALTER TABLE users ADD COLUMN ha1b_md5 TEXT;
ALTER TABLE users ADD COLUMN ha1b_sha256 TEXT;
