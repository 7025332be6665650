DROP INDEX tenants_being_deleted;
ALTER TABLE tenants DROP COLUMN deleting_since;
