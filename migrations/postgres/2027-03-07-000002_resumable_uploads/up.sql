-- Resumable (tus) uploads: how far each has got. The attachment row is the
-- upload itself (Uploading, with its deadline); each part's bytes are an object
-- of the blob store, uploads/<tenant>/<id>.part-NNNNN. A PATCH moves an upload
-- on compare-and-set, so of two racing for the same offset one wins.
CREATE TABLE resumable_uploads (
    attachment_id uuid PRIMARY KEY NOT NULL,
    tenant_id     uuid NOT NULL,
    -- the length the client announced (Upload-Length)
    length        bigint NOT NULL,
    -- bytes stored so far (Upload-Offset), in this many parts
    received      bigint NOT NULL,
    parts         integer NOT NULL
);
