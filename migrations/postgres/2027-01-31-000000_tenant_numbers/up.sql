-- Attachment numbers counted per tenant (issue 18): the chat dialect shows them,
-- and a global sequence told every end user how many files the whole service
-- holds. `number` stays the row's key; `tenant_number` is the number clients see.
-- Numbers already handed out stay valid: existing rows keep theirs, and each
-- tenant counts on from its highest. A number is never given twice in a tenant,
-- also after a delete: the counter lives in the tenant's quota row, whose row
-- lock orders the inserts of one tenant (as it does for their charge).
ALTER TABLE tenant_quotas ADD COLUMN last_number bigint NOT NULL DEFAULT 0;
ALTER TABLE attachments ADD COLUMN tenant_number bigint;
UPDATE attachments SET tenant_number = number;
INSERT INTO tenant_quotas (tenant_id)
SELECT DISTINCT tenant_id FROM attachments ON CONFLICT DO NOTHING;
UPDATE tenant_quotas q SET last_number = top.number
FROM (SELECT tenant_id, MAX(number) AS number FROM attachments GROUP BY tenant_id) top
WHERE q.tenant_id = top.tenant_id;
ALTER TABLE attachments ALTER COLUMN tenant_number SET NOT NULL;
CREATE UNIQUE INDEX attachments_by_tenant_number ON attachments (tenant_id, tenant_number);

CREATE FUNCTION clasp_number_attachment() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tenant_quotas (tenant_id) VALUES (NEW.tenant_id) ON CONFLICT DO NOTHING;
    UPDATE tenant_quotas SET last_number = last_number + 1
    WHERE tenant_id = NEW.tenant_id
    RETURNING last_number INTO NEW.tenant_number;
    RETURN NEW;
END
$$;

CREATE TRIGGER attachments_number BEFORE INSERT ON attachments
FOR EACH ROW EXECUTE FUNCTION clasp_number_attachment();
