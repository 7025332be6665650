-- Direct uploads and messages (the workspaces dialect).

-- When the upload URL of a Pending direct upload stops working (INTEGER
-- microseconds); NULL in every other state, so the index below holds only the
-- uploads the sweeper may have to remove.
ALTER TABLE attachments ADD COLUMN upload_expires_at BIGINT;
CREATE INDEX attachments_by_upload_expiry
    ON attachments (upload_expires_at) WHERE upload_expires_at IS NOT NULL;

-- Messages posted on a ticket. The attachments a message carries point at it
-- (attachments.message_id holds its id), so linking is one UPDATE.
CREATE TABLE messages (
    id         TEXT   PRIMARY KEY NOT NULL,
    tenant_id  TEXT   NOT NULL,
    ticket_id  TEXT   NOT NULL,
    body       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
