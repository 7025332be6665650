-- Clasp's metadata on PostgreSQL: the schema of migrations/sqlite in native types.
-- Ids are `uuid`; timestamps are `timestamptz` (microsecond precision, which the
-- domain relies on); tags are a `text[]`.

CREATE TABLE tenants (
    id         uuid        PRIMARY KEY,
    slug       text        NOT NULL UNIQUE,
    created_at timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id         uuid        PRIMARY KEY,
    tenant_id  uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- the first characters of the key, in clear, to name it (`clasp admin key revoke`)
    prefix     text        NOT NULL,
    -- lowercase hex SHA-256 of the whole key: the only form the secret is kept in
    hash       text        NOT NULL UNIQUE,
    -- comma-separated scope names, e.g. `attachments:read,attachments:write`
    scopes     text        NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
-- revocation by prefix: `prefix LIKE 'abc%'`, whatever the database's collation
CREATE INDEX api_keys_by_prefix ON api_keys (prefix text_pattern_ops);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id);

CREATE TABLE sessions (
    id         uuid        PRIMARY KEY,
    tenant_id  uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    text        NOT NULL,
    -- lowercase hex SHA-256 of the cookie value
    hash       text        NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX sessions_by_tenant ON sessions (tenant_id);

-- No foreign key to tenants: the attachment port accepts any tenant id (its
-- contract suite uses tenants it never registers), so an embedder may keep its
-- tenants elsewhere.
CREATE TABLE attachments (
    -- the repository-assigned number (the chat dialect's numeric id); a sequence
    -- never hands out a number twice, even after the newest row is deleted
    number          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- globally unique, so this index also serves every lookup by (tenant_id, id)
    id              uuid        NOT NULL UNIQUE,
    tenant_id       uuid        NOT NULL,
    ticket_id       text,
    message_id      text,
    case_id         text,
    room_id         text,
    filename        text        NOT NULL,
    content_type    text        NOT NULL,
    sniffed_type    text,
    size_bytes      bigint      NOT NULL,
    sha256          text,
    declared_sha256 text,
    -- AttachmentState::as_str
    state           text        NOT NULL,
    description     text,
    tags            text[]      NOT NULL DEFAULT '{}',
    locale          text,
    uploaded_by     text        NOT NULL,
    thumbnail_key   text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
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
