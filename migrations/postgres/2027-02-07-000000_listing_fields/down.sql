DROP INDEX attachments_sha256_by_created;
DROP INDEX attachments_stem_by_created;
ALTER TABLE attachments DROP COLUMN name_stem;
