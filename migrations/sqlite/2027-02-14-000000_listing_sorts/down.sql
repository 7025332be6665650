DROP INDEX attachments_list_by_stem;
DROP INDEX attachments_list_by_format;
DROP INDEX attachments_list_by_kind;
DROP INDEX attachments_list_by_type;
DROP INDEX attachments_list_by_updated;
