-- The Shared Signals transmitter (README, "Shared Signals"): receivers known by the hash of
-- their token, their streams, and the subjects a stream is limited to. A stream's deliveries
-- live in webhook_deliveries under the key 'ssf:<stream id>'.
CREATE TABLE ssf_receivers (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    audience    TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE ssf_streams (
    id             TEXT PRIMARY KEY NOT NULL,
    receiver_id    TEXT NOT NULL REFERENCES ssf_receivers (id) ON DELETE CASCADE,
    -- {delivery: {method, endpoint_url?, authorization_header?}, events_requested, description?}
    config         TEXT NOT NULL,
    -- The push endpoint, unique per receiver (two streams to one URL would send each event twice).
    push_endpoint  TEXT,
    status         TEXT NOT NULL,
    status_reason  TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (receiver_id, push_endpoint)
);
CREATE INDEX ssf_streams_receiver_idx ON ssf_streams (receiver_id);

CREATE TABLE ssf_stream_subjects (
    stream_id  TEXT NOT NULL REFERENCES ssf_streams (id) ON DELETE CASCADE,
    subject    TEXT NOT NULL,
    PRIMARY KEY (stream_id, subject)
);

CREATE INDEX webhook_deliveries_hook_idx ON webhook_deliveries (hook, event_id)
    WHERE delivered_at IS NULL AND NOT dead;
