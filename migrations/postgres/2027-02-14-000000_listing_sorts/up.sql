-- The cases listing sorts by every never-null field of its record: besides
-- createdDate, name and sizeBytes, by updatedDate, mimeType, kind, fileFormat and
-- nameWithoutExtension. One index each, shaped like the others: the equalities a
-- listing fixes (tenant, state), then (sort value, id), so that a page of any
-- depth is one seek. Text columns sort by code point (COLLATE "C"), as the
-- filename does, so that every backend orders them alike whatever the
-- database's collation.
ALTER TABLE attachments
    ALTER COLUMN content_type TYPE text COLLATE "C",
    ALTER COLUMN kind TYPE text COLLATE "C",
    ALTER COLUMN file_format TYPE text COLLATE "C",
    ALTER COLUMN name_stem TYPE text COLLATE "C";
CREATE INDEX attachments_list_by_updated ON attachments (tenant_id, state, updated_at, id);
CREATE INDEX attachments_list_by_type ON attachments (tenant_id, state, content_type, id);
CREATE INDEX attachments_list_by_kind ON attachments (tenant_id, state, kind, id);
CREATE INDEX attachments_list_by_format ON attachments (tenant_id, state, file_format, id);
CREATE INDEX attachments_list_by_stem ON attachments (tenant_id, state, name_stem, id);
