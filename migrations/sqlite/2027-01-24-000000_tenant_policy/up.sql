-- A tenant's own upload rules (clasp_domain::TenantPolicy): its allowed media
-- types (a JSON array) and its largest file; NULL follows the instance's
-- configuration.
ALTER TABLE tenants ADD COLUMN allowed_types TEXT;
ALTER TABLE tenants ADD COLUMN max_upload_bytes BIGINT;
