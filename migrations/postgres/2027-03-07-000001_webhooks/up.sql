-- Webhooks (POST /admin/v1/tenants/{slug}/webhooks) and the outbox of their
-- deliveries: a change that announces an event inserts one pending delivery
-- per subscribed webhook in its own transaction, so that an event is never
-- lost nor sent for a change that rolled back. A delivery keeps the URL and
-- secret it was made with, so that a tenant's deletion still reaches the
-- endpoints it had.
CREATE TABLE webhooks (
    id         uuid PRIMARY KEY NOT NULL,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url        text NOT NULL,
    -- the kinds it receives, each between commas: ',attachment.ready,tenant.deleted,'
    events     text NOT NULL,
    -- the Standard Webhooks secret, whsec_ and base64: it signs, so it is kept
    secret     text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX webhooks_of_tenant ON webhooks (tenant_id, created_at);

CREATE TABLE webhook_deliveries (
    event_id    uuid NOT NULL,
    webhook_id  uuid NOT NULL,
    tenant_id   uuid NOT NULL,
    event_type  text NOT NULL,
    url         text NOT NULL,
    secret      text NOT NULL,
    -- the JSON body, the same bytes on every attempt
    payload     text NOT NULL,
    attempts    integer NOT NULL DEFAULT 0,
    -- pending, delivered or failed
    state       text NOT NULL,
    -- when a pending one is due (a claimed one's lease end)
    next_at     timestamptz NOT NULL,
    last_status integer,
    last_error  text,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (event_id, webhook_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_of ON webhook_deliveries (webhook_id, created_at);
