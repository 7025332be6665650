-- Tombstones cost what they did before: their size and one attachment.
CREATE OR REPLACE FUNCTION clasp_charged_bytes(state text, size_bytes bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN state IN ('upload_failed', 'checksum_mismatch', 'verification_failed')
                THEN 0 ELSE size_bytes END
$$;

CREATE OR REPLACE FUNCTION clasp_account_quota() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    charge bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        charge := clasp_charged_bytes(NEW.state, NEW.size_bytes);
        INSERT INTO tenant_quotas (tenant_id) VALUES (NEW.tenant_id) ON CONFLICT DO NOTHING;
        UPDATE tenant_quotas SET used_bytes = used_bytes + charge,
                                 used_attachments = used_attachments + 1
        WHERE tenant_id = NEW.tenant_id
          AND (max_bytes IS NULL OR used_bytes + charge <= max_bytes)
          AND (max_attachments IS NULL OR used_attachments + 1 <= max_attachments);
        IF NOT FOUND THEN
            RAISE EXCEPTION 'clasp_quota_exceeded' USING ERRCODE = 'CQ001';
        END IF;
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        charge := clasp_charged_bytes(NEW.state, NEW.size_bytes)
                - clasp_charged_bytes(OLD.state, OLD.size_bytes);
        IF charge <> 0 THEN
            UPDATE tenant_quotas SET used_bytes = used_bytes + charge
            WHERE tenant_id = NEW.tenant_id;
        END IF;
        RETURN NEW;
    ELSE
        UPDATE tenant_quotas
        SET used_bytes = used_bytes - clasp_charged_bytes(OLD.state, OLD.size_bytes),
            used_attachments = used_attachments - 1
        WHERE tenant_id = OLD.tenant_id;
        RETURN OLD;
    END IF;
END
$$;

DROP FUNCTION clasp_counted(text);

UPDATE tenant_quotas q
SET used_bytes = s.bytes, used_attachments = s.attachments
FROM (SELECT tenant_id, SUM(clasp_charged_bytes(state, size_bytes)) AS bytes, COUNT(*) AS attachments
      FROM attachments GROUP BY tenant_id) s
WHERE q.tenant_id = s.tenant_id;
