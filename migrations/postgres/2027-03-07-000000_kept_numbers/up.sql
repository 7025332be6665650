-- A row that arrives with its number (`clasp migrate-store` moving a tenant's
-- attachments from another store) keeps it, so the numbers clients hold stay
-- valid; the tenant's counter moves past it, so no number is given twice.
-- Rows inserted without one are numbered as before.
CREATE OR REPLACE FUNCTION clasp_number_attachment() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tenant_quotas (tenant_id) VALUES (NEW.tenant_id) ON CONFLICT DO NOTHING;
    IF NEW.tenant_number IS NULL THEN
        UPDATE tenant_quotas SET last_number = last_number + 1
        WHERE tenant_id = NEW.tenant_id
        RETURNING last_number INTO NEW.tenant_number;
    ELSE
        UPDATE tenant_quotas SET last_number = GREATEST(last_number, NEW.tenant_number)
        WHERE tenant_id = NEW.tenant_id;
    END IF;
    RETURN NEW;
END
$$;
