ALTER TABLE sessions DROP COLUMN rooms, DROP COLUMN all_rooms;
