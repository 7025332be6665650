-- Queryable listings (the cases dialect): one page of a tenant's ready attachments,
-- sorted by creation time, filename or size, paged by keyset on (value, id), filtered
-- by equality on string fields. Every btree index below starts with the equalities a
-- listing fixes (tenant, maybe one filter, state) and ends with (sort value, id), so
-- a page of any depth is one index seek and a short range scan, in either order.

-- Derived from content_type and filename (Attachment::kind, Attachment::file_format),
-- kept in columns of their own so that filters on them use an index.
ALTER TABLE attachments ADD COLUMN kind text NOT NULL DEFAULT '';
ALTER TABLE attachments ADD COLUMN file_format text NOT NULL DEFAULT '';
UPDATE attachments SET
    kind = split_part(content_type, '/', 1),
    file_format = CASE WHEN strpos(filename, '.') = 0 THEN ''
        ELSE lower(regexp_replace(filename, '^.*\.', '')) END;

-- Names sort by code point (bytewise UTF-8), as in SQLite and in the domain,
-- whatever the database's collation.
ALTER TABLE attachments ALTER COLUMN filename TYPE text COLLATE "C";

-- Sorted, unfiltered.
CREATE INDEX attachments_list_by_created ON attachments (tenant_id, state, created_at, id);
CREATE INDEX attachments_list_by_name ON attachments (tenant_id, state, filename, id);
CREATE INDEX attachments_list_by_size ON attachments (tenant_id, state, size_bytes, id);
-- caseId (by creation time: attachments_by_case of the first migration)
CREATE INDEX attachments_case_by_name
    ON attachments (tenant_id, case_id, state, filename, id) WHERE case_id IS NOT NULL;
CREATE INDEX attachments_case_by_size
    ON attachments (tenant_id, case_id, state, size_bytes, id) WHERE case_id IS NOT NULL;
-- mimeType
CREATE INDEX attachments_type_by_created ON attachments (tenant_id, content_type, state, created_at, id);
CREATE INDEX attachments_type_by_name ON attachments (tenant_id, content_type, state, filename, id);
CREATE INDEX attachments_type_by_size ON attachments (tenant_id, content_type, state, size_bytes, id);
-- kind
CREATE INDEX attachments_kind_by_created ON attachments (tenant_id, kind, state, created_at, id);
CREATE INDEX attachments_kind_by_name ON attachments (tenant_id, kind, state, filename, id);
CREATE INDEX attachments_kind_by_size ON attachments (tenant_id, kind, state, size_bytes, id);
-- fileFormat
CREATE INDEX attachments_format_by_created ON attachments (tenant_id, file_format, state, created_at, id);
CREATE INDEX attachments_format_by_name ON attachments (tenant_id, file_format, state, filename, id);
CREATE INDEX attachments_format_by_size ON attachments (tenant_id, file_format, state, size_bytes, id);
-- name (sorted by name: attachments_list_by_name)
CREATE INDEX attachments_name_by_created ON attachments (tenant_id, filename, state, created_at, id);
CREATE INDEX attachments_name_by_size ON attachments (tenant_id, filename, state, size_bytes, id);
-- tag: `tags @> ARRAY[tag]`
CREATE INDEX attachments_by_tag ON attachments USING gin (tags);
