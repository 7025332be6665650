-- Clasp's metadata on SQLite.
-- Ids are lowercase hyphenated UUID text; timestamps are INTEGER microseconds since
-- the Unix epoch (UTC), which keeps the microsecond precision the domain relies on.

CREATE TABLE tenants (
    id         TEXT   PRIMARY KEY NOT NULL,
    slug       TEXT   NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT   PRIMARY KEY NOT NULL,
    tenant_id  TEXT   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- the first characters of the key, in clear, to name it (`clasp admin key revoke`)
    prefix     TEXT   NOT NULL,
    -- lowercase hex SHA-256 of the whole key: the only form the secret is kept in
    hash       TEXT   NOT NULL UNIQUE,
    -- comma-separated scope names, e.g. `attachments:read,attachments:write`
    scopes     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
-- revocation by prefix (a GLOB with a literal prefix uses it as a range)
CREATE INDEX api_keys_by_prefix ON api_keys (prefix);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id);

CREATE TABLE sessions (
    id         TEXT   PRIMARY KEY NOT NULL,
    tenant_id  TEXT   NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    TEXT   NOT NULL,
    -- lowercase hex SHA-256 of the cookie value
    hash       TEXT   NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_by_tenant ON sessions (tenant_id);

-- No foreign key to tenants: the attachment port accepts any tenant id (its
-- contract suite uses tenants it never registers), so an embedder may keep its
-- tenants elsewhere.
CREATE TABLE attachments (
    -- the repository-assigned number (the chat dialect's numeric id); AUTOINCREMENT
    -- so a number is never reused, even after the newest row is deleted
    number          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- globally unique, so this index also serves every lookup by (tenant_id, id)
    id              TEXT    NOT NULL UNIQUE,
    tenant_id       TEXT    NOT NULL,
    ticket_id       TEXT,
    message_id      TEXT,
    case_id         TEXT,
    room_id         TEXT,
    filename        TEXT    NOT NULL,
    content_type    TEXT    NOT NULL,
    sniffed_type    TEXT,
    size_bytes      BIGINT  NOT NULL,
    sha256          TEXT,
    declared_sha256 TEXT,
    -- AttachmentState::as_str
    state           TEXT    NOT NULL,
    description     TEXT,
    -- JSON array of strings
    tags            TEXT    NOT NULL DEFAULT '[]',
    locale          TEXT,
    uploaded_by     TEXT    NOT NULL,
    thumbnail_key   TEXT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);

-- Listing the ready attachments of one subject, oldest first: equality on the first
-- three columns, then already in (created_at, id) order. Partial, since most
-- attachments hang on one or two kinds of subject only.
CREATE INDEX attachments_by_ticket
    ON attachments (tenant_id, ticket_id, state, created_at, id) WHERE ticket_id IS NOT NULL;
CREATE INDEX attachments_by_message
    ON attachments (tenant_id, message_id, state, created_at, id) WHERE message_id IS NOT NULL;
CREATE INDEX attachments_by_case
    ON attachments (tenant_id, case_id, state, created_at, id) WHERE case_id IS NOT NULL;
CREATE INDEX attachments_by_room
    ON attachments (tenant_id, room_id, state, created_at, id) WHERE room_id IS NOT NULL;
