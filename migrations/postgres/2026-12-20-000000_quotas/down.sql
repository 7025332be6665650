DROP TRIGGER attachments_quota ON attachments;
DROP FUNCTION clasp_account_quota();
DROP FUNCTION clasp_charged_bytes(text, bigint);
DROP TABLE tenant_quotas;
