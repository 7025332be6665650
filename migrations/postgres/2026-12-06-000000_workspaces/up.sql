-- Direct uploads and messages (the workspaces dialect).

-- When the upload URL of a Pending direct upload stops working; NULL in every
-- other state, so the index below holds only the uploads the sweeper may have
-- to remove.
ALTER TABLE attachments ADD COLUMN upload_expires_at timestamptz;
CREATE INDEX attachments_by_upload_expiry
    ON attachments (upload_expires_at) WHERE upload_expires_at IS NOT NULL;

-- Messages posted on a ticket. The attachments a message carries point at it
-- (attachments.message_id holds its id as text), so linking is one UPDATE.
CREATE TABLE messages (
    id         uuid        PRIMARY KEY,
    tenant_id  uuid        NOT NULL,
    ticket_id  text        NOT NULL,
    body       text        NOT NULL,
    created_at timestamptz NOT NULL
);
