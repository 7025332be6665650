-- Per-tenant quotas (issue 7, item 6): limits set with `clasp admin quota set`, and
-- the usage they are checked against, kept exact by the triggers below in the same
-- transaction as every change of an attachment row (insert, update, delete), so no
-- code path can forget to account and concurrent writers cannot lose an update.
--
-- What a row costs is clasp_domain::quota::charged_bytes: its size_bytes, except
-- in a failed state (its bytes are deleted), where it costs nothing; every row,
-- whatever its state, counts as one attachment until it is deleted. The CASE
-- expressions below are that function; the repository contract suite checks
-- that usage equals it summed over the rows.
CREATE TABLE tenant_quotas (
    tenant_id        TEXT    PRIMARY KEY NOT NULL,
    -- NULL: unlimited
    max_bytes        BIGINT,
    max_attachments  BIGINT,
    used_bytes       BIGINT  NOT NULL DEFAULT 0,
    used_attachments BIGINT  NOT NULL DEFAULT 0
) WITHOUT ROWID;

INSERT INTO tenant_quotas (tenant_id, used_bytes, used_attachments)
SELECT tenant_id,
       SUM(CASE WHEN state IN ('upload_failed', 'checksum_mismatch', 'verification_failed')
                THEN 0 ELSE size_bytes END),
       COUNT(*)
FROM attachments GROUP BY tenant_id;

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
