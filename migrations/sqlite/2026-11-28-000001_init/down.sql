DROP TABLE webhook_outbox;
DROP TABLE jwks;
DROP TABLE audit_logs;
DROP TABLE sessions;
DROP TABLE emails;
DROP TABLE users;
