ALTER TABLE tenants DROP COLUMN max_upload_bytes;
ALTER TABLE tenants DROP COLUMN allowed_types;
