//! Writing an event: the outbox row and one pending delivery per recipient hook, on the
//! connection of the transaction that makes the change the event announces.

use crate::pool::DbConnection;
use crate::rows::{DeliveryRow, OutboxRow};
use crate::schema::{webhook_deliveries, webhook_outbox};
use crate::types::{Id, Json, Timestamp};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use domain::events::{EventKind, Recipients};
use serde::Serialize;

/// Appends `kind` with `payload` for `recipients`, due at `at`. Call inside a transaction.
pub(crate) fn append(
    conn: &mut DbConnection,
    kind: EventKind,
    payload: &impl Serialize,
    recipients: &Recipients,
    at: Timestamp,
) -> Result<(), DieselError> {
    let (event, deliveries) = rows(kind, payload, recipients, at)?;
    diesel::insert_into(webhook_outbox::table)
        .values(&event)
        .execute(conn)?;
    // One statement per hook keeps the statement's shape fixed (prepared once per connection);
    // deployments have a handful of hooks at most.
    for delivery in &deliveries {
        diesel::insert_into(webhook_deliveries::table)
            .values(delivery)
            .execute(conn)?;
    }
    Ok(())
}

/// The outbox row of `kind` with `payload` and its pending deliveries, as [`append`] writes
/// them (for writes of many at once).
pub(crate) fn rows(
    kind: EventKind,
    payload: &impl Serialize,
    recipients: &Recipients,
    at: Timestamp,
) -> Result<(OutboxRow, Vec<DeliveryRow>), DieselError> {
    let payload =
        serde_json::to_value(payload).map_err(|e| DieselError::SerializationError(Box::new(e)))?;
    let id = Id(uuid::Uuid::new_v4());
    let deliveries = recipients
        .0
        .iter()
        .map(|hook| DeliveryRow {
            event_id: id,
            hook: hook.clone(),
            attempts: 0,
            next_attempt_at: at,
            delivered_at: None,
            last_error: None,
            dead: false,
        })
        .collect();
    Ok((
        OutboxRow {
            id,
            event: kind.name().to_owned(),
            payload: Json(payload),
            created_at: at,
        },
        deliveries,
    ))
}
