DROP TRIGGER attachments_quota_delete;
DROP TRIGGER attachments_quota_update;
DROP TRIGGER attachments_quota_insert;
DROP TABLE tenant_quotas;
