-- Why an attachment ended in a failed state (e.g. `infected: Eicar-Test-Signature`
-- from the virus scanner), shown in the metadata of dialects that show failed
-- attachments; NULL for every other attachment.
ALTER TABLE attachments ADD COLUMN failure_reason TEXT;
