-- Queryable listings (the cases dialect): one page of a tenant's ready attachments,
-- sorted by creation time, filename or size, paged by keyset on (value, id), filtered
-- by equality on string fields. Every index below starts with the equalities a
-- listing fixes (tenant, maybe one filter, state) and ends with (sort value, id), so
-- a page of any depth is one index seek and a short range scan, in either order.

-- Derived from content_type and filename (Attachment::kind, Attachment::file_format),
-- kept in columns of their own so that filters on them use an index.
ALTER TABLE attachments ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE attachments ADD COLUMN file_format TEXT NOT NULL DEFAULT '';
UPDATE attachments SET
    kind = CASE WHEN instr(content_type, '/') > 0
        THEN substr(content_type, 1, instr(content_type, '/') - 1) ELSE content_type END,
    -- after the last dot: rtrim drops every trailing character but dots
    file_format = CASE WHEN instr(filename, '.') = 0 THEN ''
        ELSE lower(substr(filename, length(rtrim(filename, replace(filename, '.', ''))) + 1)) END;

-- Sorted, unfiltered. (Text compares bytewise: UTF-8 in code point order.)
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

-- One row per (attachment, distinct tag), kept by the triggers below from the JSON
-- array in attachments.tags, so that a tag filter seeks instead of parsing every row.
CREATE TABLE attachment_tags (
    tenant_id TEXT    NOT NULL,
    tag       TEXT    NOT NULL,
    number    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, tag, number)
) WITHOUT ROWID;
CREATE INDEX attachment_tags_by_number ON attachment_tags (number);

INSERT OR IGNORE INTO attachment_tags (tenant_id, tag, number)
    SELECT a.tenant_id, t.value, a.number FROM attachments a, json_each(a.tags) t;

CREATE TRIGGER attachment_tags_on_insert AFTER INSERT ON attachments BEGIN
    INSERT OR IGNORE INTO attachment_tags (tenant_id, tag, number)
        SELECT NEW.tenant_id, value, NEW.number FROM json_each(NEW.tags);
END;
CREATE TRIGGER attachment_tags_on_update AFTER UPDATE OF tags ON attachments BEGIN
    DELETE FROM attachment_tags WHERE number = OLD.number;
    INSERT OR IGNORE INTO attachment_tags (tenant_id, tag, number)
        SELECT NEW.tenant_id, value, NEW.number FROM json_each(NEW.tags);
END;
CREATE TRIGGER attachment_tags_on_delete AFTER DELETE ON attachments BEGIN
    DELETE FROM attachment_tags WHERE number = OLD.number;
END;
