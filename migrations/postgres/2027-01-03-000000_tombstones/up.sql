-- A client's delete makes the row a `deleted` tombstone first; it may wait for the
-- sweeper (an object delete that failed, or a direct upload whose URL still
-- works). A tombstone costs its tenant nothing, neither bytes nor an attachment
-- (clasp_domain::quota::{charged_bytes, counted}), so a delete gives its quota
-- back at once. The functions below are that rule; the trigger is the one of
-- the quotas migration, now also counting attachments by state.
CREATE OR REPLACE FUNCTION clasp_charged_bytes(state text, size_bytes bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN state IN ('upload_failed', 'checksum_mismatch', 'verification_failed', 'deleted')
                THEN 0 ELSE size_bytes END
$$;

CREATE FUNCTION clasp_counted(state text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN state = 'deleted' THEN 0 ELSE 1 END
$$;

CREATE OR REPLACE FUNCTION clasp_account_quota() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    charge bigint;
    counted bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        charge := clasp_charged_bytes(NEW.state, NEW.size_bytes);
        counted := clasp_counted(NEW.state);
        INSERT INTO tenant_quotas (tenant_id) VALUES (NEW.tenant_id) ON CONFLICT DO NOTHING;
        UPDATE tenant_quotas SET used_bytes = used_bytes + charge,
                                 used_attachments = used_attachments + counted
        WHERE tenant_id = NEW.tenant_id
          AND (max_bytes IS NULL OR used_bytes + charge <= max_bytes)
          AND (max_attachments IS NULL OR used_attachments + counted <= max_attachments);
        IF NOT FOUND THEN
            RAISE EXCEPTION 'clasp_quota_exceeded' USING ERRCODE = 'CQ001';
        END IF;
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        charge := clasp_charged_bytes(NEW.state, NEW.size_bytes)
                - clasp_charged_bytes(OLD.state, OLD.size_bytes);
        counted := clasp_counted(NEW.state) - clasp_counted(OLD.state);
        IF charge <> 0 OR counted <> 0 THEN
            UPDATE tenant_quotas SET used_bytes = used_bytes + charge,
                                     used_attachments = used_attachments + counted
            WHERE tenant_id = NEW.tenant_id;
        END IF;
        RETURN NEW;
    ELSE
        UPDATE tenant_quotas
        SET used_bytes = used_bytes - clasp_charged_bytes(OLD.state, OLD.size_bytes),
            used_attachments = used_attachments - clasp_counted(OLD.state)
        WHERE tenant_id = OLD.tenant_id;
        RETURN OLD;
    END IF;
END
$$;

-- Tombstones already stored stop costing.
UPDATE tenant_quotas q
SET used_bytes = s.bytes, used_attachments = s.attachments
FROM (SELECT tenant_id,
             SUM(clasp_charged_bytes(state, size_bytes)) AS bytes,
             SUM(clasp_counted(state)) AS attachments
      FROM attachments GROUP BY tenant_id) s
WHERE q.tenant_id = s.tenant_id;
