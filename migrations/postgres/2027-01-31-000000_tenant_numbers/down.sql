DROP TRIGGER attachments_number ON attachments;
DROP FUNCTION clasp_number_attachment();
DROP INDEX attachments_by_tenant_number;
ALTER TABLE attachments DROP COLUMN tenant_number;
ALTER TABLE tenant_quotas DROP COLUMN last_number;
