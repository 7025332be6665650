-- A tenant being deleted (DELETE /admin/v1/tenants/{slug}): its credentials are
-- revoked and its attachments purged batch by batch; a purge cut off by a crash
-- is resumed by the sweeper from this mark (microseconds since the epoch).
ALTER TABLE tenants ADD COLUMN deleting_since BIGINT;
CREATE INDEX tenants_being_deleted ON tenants (slug) WHERE deleting_since IS NOT NULL;
