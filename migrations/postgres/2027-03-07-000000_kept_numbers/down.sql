CREATE OR REPLACE FUNCTION clasp_number_attachment() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tenant_quotas (tenant_id) VALUES (NEW.tenant_id) ON CONFLICT DO NOTHING;
    UPDATE tenant_quotas SET last_number = last_number + 1
    WHERE tenant_id = NEW.tenant_id
    RETURNING last_number INTO NEW.tenant_number;
    RETURN NEW;
END
$$;
