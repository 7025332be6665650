DROP INDEX attachments_list_by_stem;
DROP INDEX attachments_list_by_format;
DROP INDEX attachments_list_by_kind;
DROP INDEX attachments_list_by_type;
DROP INDEX attachments_list_by_updated;
ALTER TABLE attachments
    ALTER COLUMN content_type TYPE text COLLATE "default",
    ALTER COLUMN kind TYPE text COLLATE "default",
    ALTER COLUMN file_format TYPE text COLLATE "default",
    ALTER COLUMN name_stem TYPE text COLLATE "default";
