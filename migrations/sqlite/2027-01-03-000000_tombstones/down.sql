-- Tombstones cost what they did before: their size and one attachment.
DROP TRIGGER attachments_quota_insert;
DROP TRIGGER attachments_quota_update;
DROP TRIGGER attachments_quota_delete;

-- A new row is charged; when that takes the tenant past a limit, the insert fails
-- (the message is what the repository recognises).
CREATE TRIGGER attachments_quota_insert AFTER INSERT ON attachments
BEGIN
    INSERT INTO tenant_quotas (tenant_id) VALUES (NEW.tenant_id) ON CONFLICT DO NOTHING;
    UPDATE tenant_quotas SET
        used_bytes = used_bytes + (CASE WHEN NEW.state IN
            ('upload_failed', 'checksum_mismatch', 'verification_failed')
            THEN 0 ELSE NEW.size_bytes END),
        used_attachments = used_attachments + 1
    WHERE tenant_id = NEW.tenant_id;
    SELECT RAISE(ABORT, 'clasp_quota_exceeded') FROM tenant_quotas
    WHERE tenant_id = NEW.tenant_id
      AND ((max_bytes IS NOT NULL AND used_bytes > max_bytes)
        OR (max_attachments IS NOT NULL AND used_attachments > max_attachments));
END;

-- A changed row is charged the difference (uploads settle to their real size,
-- failures release their bytes); limits are checked when rows are added, not here.
CREATE TRIGGER attachments_quota_update AFTER UPDATE OF state, size_bytes ON attachments
WHEN (CASE WHEN OLD.state IN ('upload_failed', 'checksum_mismatch', 'verification_failed')
           THEN 0 ELSE OLD.size_bytes END)
  <> (CASE WHEN NEW.state IN ('upload_failed', 'checksum_mismatch', 'verification_failed')
           THEN 0 ELSE NEW.size_bytes END)
BEGIN
    UPDATE tenant_quotas SET used_bytes = used_bytes
        - (CASE WHEN OLD.state IN ('upload_failed', 'checksum_mismatch', 'verification_failed')
                THEN 0 ELSE OLD.size_bytes END)
        + (CASE WHEN NEW.state IN ('upload_failed', 'checksum_mismatch', 'verification_failed')
                THEN 0 ELSE NEW.size_bytes END)
    WHERE tenant_id = NEW.tenant_id;
END;

-- A deleted row gives back what it was charged.
CREATE TRIGGER attachments_quota_delete AFTER DELETE ON attachments
BEGIN
    UPDATE tenant_quotas SET
        used_bytes = used_bytes - (CASE WHEN OLD.state IN
            ('upload_failed', 'checksum_mismatch', 'verification_failed')
            THEN 0 ELSE OLD.size_bytes END),
        used_attachments = used_attachments - 1
    WHERE tenant_id = OLD.tenant_id;
END;

UPDATE tenant_quotas SET
    used_bytes = COALESCE((SELECT SUM(CASE WHEN a.state IN ('upload_failed', 'checksum_mismatch', 'verification_failed') THEN 0 ELSE a.size_bytes END)
                           FROM attachments a WHERE a.tenant_id = tenant_quotas.tenant_id), 0),
    used_attachments = (SELECT COUNT(*) FROM attachments a
                        WHERE a.tenant_id = tenant_quotas.tenant_id);
