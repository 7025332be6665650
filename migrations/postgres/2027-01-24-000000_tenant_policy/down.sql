ALTER TABLE tenants DROP COLUMN allowed_types, DROP COLUMN max_upload_bytes;
