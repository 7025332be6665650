-- The cases listing sorts by id (and objectId, {tenant}/{id}): pages of it are
-- one seek, as for every other sort.
CREATE INDEX attachments_list_by_id ON attachments (tenant_id, state, id);
