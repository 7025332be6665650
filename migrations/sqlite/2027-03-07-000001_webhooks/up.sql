-- Webhooks (POST /admin/v1/tenants/{slug}/webhooks) and the outbox of their
-- deliveries: a change that announces an event inserts one pending delivery
-- per subscribed webhook in its own transaction, so that an event is never
-- lost nor sent for a change that rolled back. A delivery keeps the URL and
-- secret it was made with, so that a tenant's deletion still reaches the
-- endpoints it had.
CREATE TABLE webhooks (
    id         TEXT PRIMARY KEY NOT NULL,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url        TEXT NOT NULL,
    -- the kinds it receives, each between commas: ',attachment.ready,tenant.deleted,'
    events     TEXT NOT NULL,
    -- the Standard Webhooks secret, whsec_ and base64: it signs, so it is kept
    secret     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhooks_of_tenant ON webhooks (tenant_id, created_at);

CREATE TABLE webhook_deliveries (
    event_id    TEXT NOT NULL,
    webhook_id  TEXT NOT NULL,
    tenant_id   TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    -- the JSON body, the same bytes on every attempt
    payload     TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    -- pending, delivered or failed
    state       TEXT NOT NULL,
    -- when a pending one is due (a claimed one's lease end)
    next_at     BIGINT NOT NULL,
    last_status INTEGER,
    last_error  TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (event_id, webhook_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_of ON webhook_deliveries (webhook_id, created_at);
