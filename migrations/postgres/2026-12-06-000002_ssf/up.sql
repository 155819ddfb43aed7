-- The Shared Signals transmitter (README, "Shared Signals"): receivers known by the hash of
-- their token, their streams, and the subjects a stream is limited to. A stream's deliveries
-- live in webhook_deliveries under the key 'ssf:<stream id>'.
CREATE TABLE ssf_receivers (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    audience    text NOT NULL,
    token_hash  text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL
);

CREATE TABLE ssf_streams (
    id             uuid PRIMARY KEY,
    receiver_id    uuid NOT NULL REFERENCES ssf_receivers (id) ON DELETE CASCADE,
    -- {delivery: {method, endpoint_url?, authorization_header?}, events_requested, description?}
    config         jsonb NOT NULL,
    -- The push endpoint, unique per receiver (two streams to one URL would send each event twice).
    push_endpoint  text,
    status         text NOT NULL,
    status_reason  text,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    UNIQUE (receiver_id, push_endpoint)
);
CREATE INDEX ssf_streams_receiver_idx ON ssf_streams (receiver_id);

CREATE TABLE ssf_stream_subjects (
    stream_id  uuid NOT NULL REFERENCES ssf_streams (id) ON DELETE CASCADE,
    subject    text NOT NULL,
    PRIMARY KEY (stream_id, subject)
);

CREATE INDEX webhook_deliveries_hook_idx ON webhook_deliveries (hook, event_id)
    WHERE delivered_at IS NULL AND NOT dead;
