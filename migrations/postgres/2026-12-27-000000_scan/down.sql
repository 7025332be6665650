ALTER TABLE attachments DROP COLUMN failure_reason;
