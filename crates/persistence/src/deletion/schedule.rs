//! Scheduling on SQLite, inside the deletion's transaction once its session has spoken (Postgres
//! schedules in the deletion's statement): the user marked, every session removed (every token
//! refused at once, on every instance), the audit entry `user_deletion_scheduled` and the event
//! `user.delete.scheduled`.

use crate::pool::DbConnection;
use crate::schema::{sessions, users};
use crate::stores::accounts::{audit, emails_of};
use crate::types::{db_time, Id, Timestamp};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use domain::audit::USER_DELETION_SCHEDULED;
use domain::events::EventKind;
use domain::model::Email;
use domain::ports::{Deletion, ScheduledUser};

/// Schedules the locked user of `deletion` to be purged after `purge_after`.
pub(crate) fn schedule_locked(
    conn: &mut DbConnection,
    deletion: &Deletion,
    at: Timestamp,
    purge_after: DateTime<Utc>,
) -> Result<ScheduledUser, DieselError> {
    let user_id = Id(deletion.user_id.0);
    let purge_after = db_time(purge_after);
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
        {
            let mut details = deletion.by.details();
            if let Some(d) = details.as_object_mut() {
                d.insert(
                    "purge_after".into(),
                    domain::time::rfc3339_micros(&purge_after).into(),
                );
            }
            details
        },
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
        &deletion.recipients.scheduled,
        at,
    )?;
    Ok(scheduled)
}
