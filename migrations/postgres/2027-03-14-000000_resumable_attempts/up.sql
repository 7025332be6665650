-- Each request that stores a part of a resumable upload writes an object of
-- its own, uploads/<tenant>/<id>.attempt-NNNNN, numbered from `attempts`, so
-- two racing for one offset never touch each other's bytes. `stored_by` lists
-- the attempt holding each stored part, in order, comma-separated. Uploads
-- begun before this migration keep their first parts at .part-NNNNN.
ALTER TABLE resumable_uploads ADD COLUMN attempts integer NOT NULL DEFAULT 0;
ALTER TABLE resumable_uploads ADD COLUMN stored_by text NOT NULL DEFAULT '';
