ALTER TABLE sessions DROP COLUMN all_rooms;
ALTER TABLE sessions DROP COLUMN rooms;
