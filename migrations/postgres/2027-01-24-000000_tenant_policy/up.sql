-- A tenant's own upload rules (clasp_domain::TenantPolicy): its allowed media
-- types and its largest file; NULL follows the instance's configuration.
ALTER TABLE tenants
    ADD COLUMN allowed_types text[],
    ADD COLUMN max_upload_bytes bigint;
