//! The one schema both backends share (see `migrations/postgres` and `migrations/sqlite`).

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{DbUuid, DbTimestamp};

    users (id) {
        id -> DbUuid,
        created_at -> DbTimestamp,
        updated_at -> DbTimestamp,
        deletion_scheduled_at -> Nullable<DbTimestamp>,
        purge_after -> Nullable<DbTimestamp>,
        hold -> Bool,
        hold_reason -> Nullable<Text>,
        username -> Nullable<Text>,
        username_key -> Nullable<Text>,
        external_id -> Nullable<Text>,
        scim_profile -> Nullable<Text>,
        deactivated_at -> Nullable<DbTimestamp>,
        last_active_at -> DbTimestamp,
        inactivity_warned_at -> Nullable<DbTimestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{DbUuid, DbTimestamp};

    emails (id) {
        id -> DbUuid,
        user_id -> DbUuid,
        address -> Text,
        verified -> Bool,
        is_primary -> Bool,
        created_at -> DbTimestamp,
        updated_at -> DbTimestamp,
        kind -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{DbUuid, DbTimestamp};

    sessions (id) {
        id -> DbUuid,
        user_id -> DbUuid,
        user_agent -> Nullable<Text>,
        ip_address -> Nullable<Text>,
        created_at -> DbTimestamp,
        expires_at -> DbTimestamp,
        last_used -> DbTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{DbUuid, DbTimestamp, DbJsonb};

    audit_logs (id) {
        id -> DbUuid,
        #[sql_name = "type"]
        kind -> Text,
        actor_user_id -> Nullable<DbUuid>,
        actor_email -> Nullable<Text>,
        meta_http_request_id -> Nullable<Text>,
        meta_source_ip -> Nullable<Text>,
        meta_user_agent -> Nullable<Text>,
        details -> DbJsonb,
        created_at -> DbTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{DbUuid, DbTimestamp};

    jwks (id) {
        id -> DbUuid,
        kid -> Text,
        alg -> Text,
        encrypted_key -> Text,
        created_at -> DbTimestamp,
        activates_at -> DbTimestamp,
        retired_at -> Nullable<DbTimestamp>,
        succeeds -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{DbUuid, DbTimestamp, DbJsonb};

    webhook_outbox (id) {
        id -> DbUuid,
        event -> Text,
        payload -> DbJsonb,
        created_at -> DbTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{DbUuid, DbTimestamp};

    webhook_deliveries (event_id, hook) {
        event_id -> DbUuid,
        hook -> Text,
        attempts -> Integer,
        next_attempt_at -> DbTimestamp,
        delivered_at -> Nullable<DbTimestamp>,
        last_error -> Nullable<Text>,
        dead -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{DbUuid, DbTimestamp};

    ssf_receivers (id) {
        id -> DbUuid,
        name -> Text,
        audience -> Text,
        token_hash -> Text,
        created_at -> DbTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{DbUuid, DbTimestamp, DbJsonb};

    ssf_streams (id) {
        id -> DbUuid,
        receiver_id -> DbUuid,
        config -> DbJsonb,
        push_endpoint -> Nullable<Text>,
        status -> Text,
        status_reason -> Nullable<Text>,
        created_at -> DbTimestamp,
        updated_at -> DbTimestamp,
        last_verification_at -> Nullable<DbTimestamp>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::DbUuid;

    ssf_stream_subjects (stream_id, subject) {
        stream_id -> DbUuid,
        subject -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::{DbUuid, DbTimestamp};

    scim_clients (id) {
        id -> DbUuid,
        name -> Text,
        token_hash -> Text,
        created_at -> DbTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::types::DbTimestamp;

    retention_pace (id) {
        id -> Integer,
        not_before -> DbTimestamp,
    }
}

diesel::joinable!(emails -> users (user_id));
diesel::joinable!(ssf_streams -> ssf_receivers (receiver_id));
diesel::joinable!(ssf_stream_subjects -> ssf_streams (stream_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(webhook_deliveries -> webhook_outbox (event_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    emails,
    sessions,
    audit_logs,
    jwks,
    webhook_outbox,
    webhook_deliveries,
    ssf_receivers,
    ssf_streams,
    ssf_stream_subjects,
    scim_clients,
    retention_pace
);
