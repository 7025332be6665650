ALTER TABLE resumable_uploads DROP COLUMN stored_by;
ALTER TABLE resumable_uploads DROP COLUMN attempts;
