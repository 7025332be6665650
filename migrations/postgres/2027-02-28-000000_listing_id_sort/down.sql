DROP INDEX attachments_list_by_id;
