DROP INDEX attachments_list_by_sha256;
DROP INDEX attachments_list_by_locale;
DROP INDEX attachments_list_by_description;
DROP INDEX attachments_list_by_case;
ALTER TABLE attachments
    ALTER COLUMN case_id TYPE text COLLATE "default",
    ALTER COLUMN description TYPE text COLLATE "default",
    ALTER COLUMN locale TYPE text COLLATE "default",
    ALTER COLUMN sha256 TYPE text COLLATE "default";
