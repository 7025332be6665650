-- What a chat session reaches besides its user's own uploads
-- (clasp_domain::reach::Reach): the rooms the host says its user is in, or
-- every chat attachment of the tenant (`all_rooms`, a moderator or a service).
-- Sessions made before this reach their own uploads only.
ALTER TABLE sessions
    ADD COLUMN rooms text[] NOT NULL DEFAULT '{}',
    ADD COLUMN all_rooms boolean NOT NULL DEFAULT false;
