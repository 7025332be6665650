-- Per-tenant quotas (issue 7, item 6): limits set with `clasp admin quota set`, and
-- the usage they are checked against, kept exact by the trigger below in the same
-- transaction as every change of an attachment row (insert, update, delete), so no
-- code path can forget to account. Concurrent writers of one tenant queue on its
-- usage row (an UPDATE takes its row lock and re-reads it), so none is lost.
--
-- What a row costs is clasp_domain::quota::charged_bytes: its size_bytes, except
-- in a failed state (its bytes are deleted), where it costs nothing; every row,
-- whatever its state, counts as one attachment until it is deleted. The function
-- clasp_charged_bytes is that rule; the repository contract suite checks that
-- usage equals it summed over the rows.
CREATE TABLE tenant_quotas (
    tenant_id        uuid   PRIMARY KEY,
    -- NULL: unlimited
    max_bytes        bigint,
    max_attachments  bigint,
    used_bytes       bigint NOT NULL DEFAULT 0,
    used_attachments bigint NOT NULL DEFAULT 0
);

CREATE FUNCTION clasp_charged_bytes(state text, size_bytes bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN state IN ('upload_failed', 'checksum_mismatch', 'verification_failed')
                THEN 0 ELSE size_bytes END
$$;

INSERT INTO tenant_quotas (tenant_id, used_bytes, used_attachments)
SELECT tenant_id, SUM(clasp_charged_bytes(state, size_bytes)), COUNT(*)
FROM attachments GROUP BY tenant_id;

-- Inserts are charged only within the limits (the conditional UPDATE, which waits
-- for and re-reads a row another transaction is changing); otherwise the insert
-- fails with SQLSTATE CQ001, which the repository recognises. Updates are charged
-- the difference (uploads settle to their real size, failures release their
-- bytes), deletes give back what the row was charged.
CREATE FUNCTION clasp_account_quota() RETURNS trigger
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

CREATE TRIGGER attachments_quota
AFTER INSERT OR DELETE OR UPDATE OF state, size_bytes ON attachments
FOR EACH ROW EXECUTE FUNCTION clasp_account_quota();
