//! A user's own deletion with a grace period, on either backend (Diesel, one transaction): the
//! user marked, every session removed (every token refused at once, on every instance), the
//! audit entry `user_deletion_scheduled` and the event `user.delete.scheduled`.

use crate::pool::DbConnection;
use crate::schema::{sessions, users};
use crate::stores::accounts::{audit, emails_of, lock_user};
use crate::types::{db_time, Id, Timestamp};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use domain::audit::USER_DELETION_SCHEDULED;
use domain::events::EventKind;
use domain::model::Email;
use domain::ports::{DeletedBy, Deletion, DeletionOutcome, ScheduledUser};

/// Schedules `deletion` to be purged after `purge_after`, if the first live one of its
/// sessions is fresh enough (the same session rules as a deletion at once).
pub(crate) fn schedule(
    conn: &mut DbConnection,
    deletion: &Deletion,
    purge_after: DateTime<Utc>,
) -> Result<DeletionOutcome, DieselError> {
    let DeletedBy::User {
        sessions: candidates,
        created_after,
    } = &deletion.by
    else {
        // Only a user's own deletion waits; the others never carry `purge_after`.
        return Ok(DeletionOutcome::NoSession);
    };
    let user_id = Id(deletion.user_id.0);
    let at = Timestamp(db_time(deletion.at));
    let purge_after = db_time(purge_after);
    if lock_user(conn, user_id, at)?.is_none() {
        return Ok(DeletionOutcome::NoSession);
    }
    let mut speaking = None;
    for candidate in candidates {
        let created: Option<Timestamp> = sessions::table
            .find(Id(candidate.0))
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::expires_at.gt(at))
            .select(sessions::created_at)
            .first(conn)
            .optional()?;
        if let Some(created) = created {
            speaking = Some(created);
            break;
        }
    }
    let Some(created) = speaking else {
        return Ok(DeletionOutcome::NoSession);
    };
    if created_after.is_some_and(|oldest| created.0 < oldest) {
        return Ok(DeletionOutcome::ReauthenticationRequired);
    }
    diesel::update(users::table.find(user_id))
        .set((
            users::deletion_scheduled_at.eq(Some(at)),
            users::purge_after.eq(Some(Timestamp(purge_after))),
            users::updated_at.eq(at),
        ))
        .execute(conn)?;
    // Every token of the user dies with its session, on every instance at once.
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)?;
    let emails: Vec<Email> = emails_of(conn, user_id)?
        .into_iter()
        .map(Email::from)
        .collect();
    audit(
        conn,
        &deletion.audit,
        USER_DELETION_SCHEDULED,
        user_id,
        &emails,
        &deletion.context,
        serde_json::json!({
            "by": deletion.by.label(),
            "purge_after": domain::time::rfc3339_micros(&purge_after),
        }),
        at,
    )?;
    let scheduled = ScheduledUser {
        id: deletion.user_id,
        emails,
        purge_after,
    };
    crate::stores::events::append(
        conn,
        EventKind::UserDeleteScheduled,
        &scheduled,
        &deletion.recipients,
        at,
    )?;
    Ok(DeletionOutcome::Scheduled(scheduled))
}
