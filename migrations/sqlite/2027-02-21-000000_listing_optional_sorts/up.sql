-- The cases listing also sorts by caseId, description, locale and sha256, which
-- may be absent: absent sorts as the empty text (COALESCE(col, '')), the
-- expression each index below holds, so that the listing's ORDER BY and bounds
-- use it.
CREATE INDEX attachments_list_by_case ON attachments (tenant_id, state, COALESCE(case_id, ''), id);
CREATE INDEX attachments_list_by_description ON attachments (tenant_id, state, COALESCE(description, ''), id);
CREATE INDEX attachments_list_by_locale ON attachments (tenant_id, state, COALESCE(locale, ''), id);
CREATE INDEX attachments_list_by_sha256 ON attachments (tenant_id, state, COALESCE(sha256, ''), id);
