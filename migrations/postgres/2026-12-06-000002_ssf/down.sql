DROP INDEX webhook_deliveries_hook_idx;
DELETE FROM webhook_deliveries WHERE hook LIKE 'ssf:%';
DROP TABLE ssf_stream_subjects;
DROP TABLE ssf_streams;
DROP TABLE ssf_receivers;
