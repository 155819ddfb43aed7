//! The deletion on SQLite: one Rust transaction, for every caller (a user's own, at once or
//! scheduled; an operator's; the purge's). SQLite has no statement that does all of it at once;
//! this is where its rules are written, once (`sql/delete/checks.sql` and its actions are Postgres's).

use super::Attempt;
use crate::pool::DbConnection;
use crate::schema::{sessions, users};
use crate::stores::accounts::{audit, emails_of, lock_user};
use crate::types::{Id, Timestamp};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use domain::audit::USER_DELETED;
use domain::events::EventKind;
use domain::ids::UserId;
use domain::model::Email;
use domain::ports::{DeletedUser, DeletionOutcome};

/// One attempt, inside the caller's transaction: lock the user, check the asking session (live,
/// and fresh for a step-up); then schedule (a grace period, or a user's own request under legal
/// hold), refuse (an operator or the purge meeting a hold), or cascade, audit `user_deleted` and
/// write the event `user.delete`.
pub(crate) fn delete(
    conn: &mut DbConnection,
    attempt: &Attempt,
) -> Result<DeletionOutcome, DieselError> {
    let deletion = &attempt.deletion;
    let user_id = Id(deletion.user_id.0);
    let at = Timestamp(attempt.at);
    // Lock the user first, so concurrent deleters queue here and then find them gone.
    let Some(held) = lock_user(conn, user_id, at)? else {
        // No user, so no session of theirs either: said as Postgres says it.
        return Ok(match attempt.session {
            Some(_) => DeletionOutcome::NoSession,
            None => DeletionOutcome::Gone,
        });
    };
    if let Some(session) = attempt.session {
        let created: Option<Timestamp> = sessions::table
            .find(Id(session.0))
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::expires_at.gt(at))
            .select(sessions::created_at)
            .first(conn)
            .optional()?;
        let Some(created) = created else {
            return Ok(DeletionOutcome::NoSession);
        };
        if attempt
            .created_after
            .is_some_and(|oldest| created.0 < oldest)
        {
            return Ok(DeletionOutcome::ReauthenticationRequired);
        }
    }
    let purge_after = match (
        attempt.purge_after,
        held && deletion.by.scheduled_under_hold(),
    ) {
        (Some(purge_after), _) => Some(purge_after),
        (None, true) => Some(attempt.at),
        (None, false) => None,
    };
    if let Some(purge_after) = purge_after {
        let scheduled = super::schedule::schedule_locked(conn, deletion, at, purge_after)?;
        return Ok(DeletionOutcome::Scheduled(scheduled));
    }
    if held {
        return Ok(DeletionOutcome::Held);
    }
    let emails: Vec<Email> = emails_of(conn, user_id)?
        .into_iter()
        .map(Email::from)
        .collect();
    // Emails, sessions and every other row of the user go by ON DELETE CASCADE.
    diesel::delete(users::table.find(user_id)).execute(conn)?;
    audit(
        conn,
        &deletion.audit,
        USER_DELETED,
        user_id,
        &emails,
        &deletion.context,
        deletion.by.details(),
        at,
    )?;
    let deleted = DeletedUser {
        id: UserId(user_id.0),
        emails,
        deleted_at: attempt.at,
    };
    crate::stores::events::append(
        conn,
        EventKind::UserDelete,
        &deleted,
        &deletion.recipients.deleted,
        at,
    )?;
    Ok(DeletionOutcome::Deleted(deleted))
}
