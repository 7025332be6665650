-- Every string field of the cases dialect's attachment object is a filter (seed
-- 002: "supported (string based) file fields"). nameWithoutExtension is derived
-- from the filename (Attachment::name_without_extension) and kept in a column of
-- its own, like kind and file_format, so that its filter can use an index.
ALTER TABLE attachments ADD COLUMN name_stem text NOT NULL DEFAULT '';
UPDATE attachments SET name_stem = CASE WHEN strpos(filename, '.') = 0 THEN filename
    ELSE regexp_replace(filename, '\.[^.]*$', '') END;
CREATE INDEX attachments_stem_by_created ON attachments (tenant_id, name_stem, state, created_at, id);
CREATE INDEX attachments_sha256_by_created ON attachments (tenant_id, sha256, state, created_at, id);
