DROP TABLE messages;
DROP INDEX attachments_by_upload_expiry;
ALTER TABLE attachments DROP COLUMN upload_expires_at;
