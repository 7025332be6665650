-- Attachment numbers counted per tenant (issue 18): the chat dialect shows them,
-- and a global sequence told every end user how many files the whole service
-- holds. `number` stays the row's key; `tenant_number` is the number clients see.
-- Numbers already handed out stay valid: existing rows keep theirs, and each
-- tenant counts on from its highest. A number is never given twice in a tenant,
-- also after a delete: the counter lives in the tenant's quota row. SQLite
-- writes one statement at a time, and its triggers cannot change the row being
-- inserted, so this one numbers the row just after (the repository reads the
-- number back: RETURNING shows the row as inserted).
ALTER TABLE tenant_quotas ADD COLUMN last_number BIGINT NOT NULL DEFAULT 0;
ALTER TABLE attachments ADD COLUMN tenant_number BIGINT;
UPDATE attachments SET tenant_number = number;
INSERT INTO tenant_quotas (tenant_id)
SELECT DISTINCT tenant_id FROM attachments WHERE true ON CONFLICT DO NOTHING;
UPDATE tenant_quotas SET last_number = (
    SELECT COALESCE(MAX(number), 0) FROM attachments a WHERE a.tenant_id = tenant_quotas.tenant_id
);
CREATE UNIQUE INDEX attachments_by_tenant_number ON attachments (tenant_id, tenant_number);

CREATE TRIGGER attachments_number AFTER INSERT ON attachments
BEGIN
    INSERT INTO tenant_quotas (tenant_id) VALUES (NEW.tenant_id) ON CONFLICT DO NOTHING;
    UPDATE tenant_quotas SET last_number = last_number + 1 WHERE tenant_id = NEW.tenant_id;
    UPDATE attachments SET tenant_number =
        (SELECT last_number FROM tenant_quotas WHERE tenant_id = NEW.tenant_id)
    WHERE number = NEW.number;
END;
