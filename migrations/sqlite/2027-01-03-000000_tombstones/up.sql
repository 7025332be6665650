-- A client's delete makes the row a `deleted` tombstone first; it may wait for the
-- sweeper (an object delete that failed, or a direct upload whose URL still
-- works). A tombstone costs its tenant nothing, neither bytes nor an attachment
-- (clasp_domain::quota::{charged_bytes, counted}), so a delete gives its quota
-- back at once. The triggers are those of the quotas migration with that rule:
-- the CASE expressions below.
DROP TRIGGER attachments_quota_insert;
DROP TRIGGER attachments_quota_update;
DROP TRIGGER attachments_quota_delete;

CREATE TRIGGER attachments_quota_insert AFTER INSERT ON attachments
BEGIN
    INSERT INTO tenant_quotas (tenant_id) VALUES (NEW.tenant_id) ON CONFLICT DO NOTHING;
    UPDATE tenant_quotas SET
        used_bytes = used_bytes + (CASE WHEN NEW.state IN ('upload_failed', 'checksum_mismatch', 'verification_failed', 'deleted') THEN 0 ELSE NEW.size_bytes END),
        used_attachments = used_attachments + (CASE WHEN NEW.state = 'deleted' THEN 0 ELSE 1 END)
    WHERE tenant_id = NEW.tenant_id;
    SELECT RAISE(ABORT, 'clasp_quota_exceeded') FROM tenant_quotas
    WHERE tenant_id = NEW.tenant_id
      AND ((max_bytes IS NOT NULL AND used_bytes > max_bytes)
        OR (max_attachments IS NOT NULL AND used_attachments > max_attachments));
END;

CREATE TRIGGER attachments_quota_update AFTER UPDATE OF state, size_bytes ON attachments
WHEN (CASE WHEN OLD.state IN ('upload_failed', 'checksum_mismatch', 'verification_failed', 'deleted') THEN 0 ELSE OLD.size_bytes END) <> (CASE WHEN NEW.state IN ('upload_failed', 'checksum_mismatch', 'verification_failed', 'deleted') THEN 0 ELSE NEW.size_bytes END)
  OR (CASE WHEN OLD.state = 'deleted' THEN 0 ELSE 1 END) <> (CASE WHEN NEW.state = 'deleted' THEN 0 ELSE 1 END)
BEGIN
    UPDATE tenant_quotas SET
        used_bytes = used_bytes - (CASE WHEN OLD.state IN ('upload_failed', 'checksum_mismatch', 'verification_failed', 'deleted') THEN 0 ELSE OLD.size_bytes END) + (CASE WHEN NEW.state IN ('upload_failed', 'checksum_mismatch', 'verification_failed', 'deleted') THEN 0 ELSE NEW.size_bytes END),
        used_attachments = used_attachments - (CASE WHEN OLD.state = 'deleted' THEN 0 ELSE 1 END) + (CASE WHEN NEW.state = 'deleted' THEN 0 ELSE 1 END)
    WHERE tenant_id = NEW.tenant_id;
END;

CREATE TRIGGER attachments_quota_delete AFTER DELETE ON attachments
BEGIN
    UPDATE tenant_quotas SET
        used_bytes = used_bytes - (CASE WHEN OLD.state IN ('upload_failed', 'checksum_mismatch', 'verification_failed', 'deleted') THEN 0 ELSE OLD.size_bytes END),
        used_attachments = used_attachments - (CASE WHEN OLD.state = 'deleted' THEN 0 ELSE 1 END)
    WHERE tenant_id = OLD.tenant_id;
END;

-- Tombstones already stored stop costing.
UPDATE tenant_quotas SET
    used_bytes = COALESCE((SELECT SUM((CASE WHEN a.state IN ('upload_failed', 'checksum_mismatch', 'verification_failed', 'deleted') THEN 0 ELSE a.size_bytes END)) FROM attachments a
                           WHERE a.tenant_id = tenant_quotas.tenant_id), 0),
    used_attachments = COALESCE((SELECT SUM((CASE WHEN a.state = 'deleted' THEN 0 ELSE 1 END)) FROM attachments a
                                 WHERE a.tenant_id = tenant_quotas.tenant_id), 0);
