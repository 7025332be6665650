-- What a chat session reaches besides its user's own uploads
-- (clasp_domain::reach::Reach): the rooms the host says its user is in (a JSON
-- array of integer ids as text), or every chat attachment of the tenant
-- (`all_rooms`, a moderator or a service). Sessions made before this reach
-- their own uploads only.
ALTER TABLE sessions ADD COLUMN rooms TEXT NOT NULL DEFAULT '[]';
ALTER TABLE sessions ADD COLUMN all_rooms BOOLEAN NOT NULL DEFAULT 0;
