-- Resumable (tus) uploads: how far each has got. The attachment row is the
-- upload itself (Uploading, with its deadline); each part's bytes are an object
-- of the blob store, uploads/<tenant>/<id>.part-NNNNN. A PATCH moves an upload
-- on compare-and-set, so of two racing for the same offset one wins.
CREATE TABLE resumable_uploads (
    attachment_id TEXT PRIMARY KEY NOT NULL,
    tenant_id     TEXT NOT NULL,
    -- the length the client announced (Upload-Length)
    length        BIGINT NOT NULL,
    -- bytes stored so far (Upload-Offset), in this many parts
    received      BIGINT NOT NULL,
    parts         INTEGER NOT NULL
);
