DROP TABLE attachments;
DROP TABLE sessions;
DROP TABLE api_keys;
DROP TABLE tenants;
