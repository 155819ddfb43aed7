//! The deletion on Postgres: one statement per deletion (`sql/delete/`: a head, the checks,
//! then the action: at once or scheduled), its parameters bound in one place
//! ([`Params::values`]), and its rows read back by number.
//! The pool (Diesel) and the workers' lanes (tokio-postgres) send the same text with the same
//! values ([`crate::prepared`] maps each value to either driver's type).

use super::Attempt;
use crate::prepared::{Prepared, Value};
use chrono::{DateTime, Utc};
use diesel::sql_types::{Bool, Nullable, Text, Timestamptz};
use diesel::{QueryableByName, RunQueryDsl};
use domain::model::Email;
use domain::ports::{DeletedUser, DeletionOutcome, ScheduledUser};
use tokio_postgres::types::Type;

/// A statement: `$head` (which deletions), the checks, `$action` (what is done).
macro_rules! statement {
    ($head:literal, $action:literal) => {
        concat!(
            "WITH asked AS MATERIALIZED (\n",
            include_str!(concat!("../sql/delete/", $head)),
            "),\n",
            include_str!("../sql/delete/checks.sql"),
            include_str!(concat!("../sql/delete/", $action))
        )
    };
}

/// One deletion at once (scalar parameters).
pub(crate) const DELETE_ONE: &str = statement!("asked_one.sql", "deleting.sql");
/// Several deletions at once (array parameters).
pub(crate) const DELETE_GROUP: &str = statement!("asked_group.sql", "deleting.sql");
/// One deletion scheduled.
pub(crate) const SCHEDULE_ONE: &str = statement!("asked_one.sql", "scheduling.sql");
/// Several deletions scheduled.
pub(crate) const SCHEDULE_GROUP: &str = statement!("asked_group.sql", "scheduling.sql");

/// The types of the one-deletion statements' parameters, `$1` to `$16` (tokio-postgres prepares with them).
pub(crate) const ONE_TYPES: [Type; 16] = [
    Type::UUID,
    Type::UUID,
    Type::TIMESTAMPTZ,
    Type::UUID,
    Type::BOOL,
    Type::BOOL,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::JSONB,
    Type::UUID,
    Type::TEXT,
    Type::TEXT_ARRAY,
    Type::TIMESTAMPTZ,
    Type::TEXT_ARRAY,
    Type::TIMESTAMPTZ,
];

/// The types of the group statements' parameters: arrays, but for the statement-wide ones.
pub(crate) const GROUP_TYPES: [Type; 16] = [
    Type::UUID_ARRAY,
    Type::UUID_ARRAY,
    Type::TIMESTAMPTZ_ARRAY,
    Type::UUID_ARRAY,
    Type::BOOL,
    Type::BOOL,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::JSONB_ARRAY,
    Type::UUID_ARRAY,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::TIMESTAMPTZ_ARRAY,
    Type::TEXT_ARRAY,
    Type::TIMESTAMPTZ_ARRAY,
];

/// The values of one statement, one column per per-deletion parameter (a single deletion is a
/// column of one), and the statement-wide ones.
pub(crate) struct Params {
    users: Vec<uuid::Uuid>,
    sessions: Vec<Option<uuid::Uuid>>,
    now: Vec<DateTime<Utc>>,
    audit_ids: Vec<uuid::Uuid>,
    audit_enabled: bool,
    mask_email: bool,
    request_ids: Vec<String>,
    source_ips: Vec<Option<String>>,
    user_agents: Vec<Option<String>>,
    details: Vec<serde_json::Value>,
    event_ids: Vec<uuid::Uuid>,
    deleted_at: Vec<String>,
    hooks: Vec<String>,
    created_after: Vec<Option<DateTime<Utc>>>,
    scheduled_hooks: Vec<String>,
    purge_after: Vec<Option<DateTime<Utc>>>,
    /// Scalars or arrays.
    shape: Shape,
    action: Action,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    One,
    Group,
}

/// What a statement does to the users it locks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Action {
    /// Deleted at once (`deleting.sql`).
    Delete,
    /// Marked for the purge (`scheduling.sql`).
    Schedule,
}

impl Params {
    /// The values for these deletions, which share the statement-wide ones and the action (see
    /// [`Attempt::shares_statement`]); never empty. `at` is each one's time at the database's
    /// precision.
    pub(crate) fn of(attempts: &[Attempt]) -> Self {
        let shape = if attempts.len() == 1 {
            Shape::One
        } else {
            Shape::Group
        };
        let first = attempts.first().map(|a| &*a.deletion);
        let action = attempts.first().map_or(Action::Delete, Attempt::action);
        Self {
            users: attempts.iter().map(|a| a.deletion.user_id.0).collect(),
            sessions: attempts.iter().map(|a| a.session.map(|s| s.0)).collect(),
            now: attempts.iter().map(|a| a.at).collect(),
            audit_ids: attempts.iter().map(|_| uuid::Uuid::new_v4()).collect(),
            audit_enabled: first.is_some_and(|d| d.audit.enabled),
            mask_email: first.is_some_and(|d| d.audit.mask_email),
            request_ids: attempts
                .iter()
                .map(|a| a.deletion.context.request_id.clone())
                .collect(),
            source_ips: attempts
                .iter()
                .map(|a| a.deletion.context.source_ip.clone())
                .collect(),
            user_agents: attempts
                .iter()
                .map(|a| a.deletion.context.user_agent.clone())
                .collect(),
            details: attempts.iter().map(|a| a.deletion.by.details()).collect(),
            event_ids: attempts.iter().map(|_| uuid::Uuid::new_v4()).collect(),
            deleted_at: attempts
                .iter()
                .map(|a| domain::time::rfc3339_micros(&a.at))
                .collect(),
            hooks: first
                .map(|d| d.recipients.deleted.0.clone())
                .unwrap_or_default(),
            created_after: attempts.iter().map(|a| a.created_after).collect(),
            scheduled_hooks: first
                .map(|d| d.recipients.scheduled.0.clone())
                .unwrap_or_default(),
            purge_after: attempts.iter().map(|a| a.purge_after).collect(),
            shape,
            action,
        }
    }

    /// The statement these values are for.
    pub(crate) fn sql(&self) -> &'static str {
        match (self.shape, self.action) {
            (Shape::One, Action::Delete) => DELETE_ONE,
            (Shape::Group, Action::Delete) => DELETE_GROUP,
            (Shape::One, Action::Schedule) => SCHEDULE_ONE,
            (Shape::Group, Action::Schedule) => SCHEDULE_GROUP,
        }
    }

    /// What the statement does.
    pub(crate) fn action(&self) -> Action {
        self.action
    }

    /// How many deletions the statement carries.
    pub(crate) fn len(&self) -> usize {
        self.users.len()
    }

    /// `$1` to `$16`, in order: the one place a deletion's values meet the statement's
    /// numbers (the header of `sql/delete/checks.sql` lists them).
    pub(crate) fn values(&self) -> [Value<'_>; 16] {
        match self.shape {
            Shape::One => [
                Value::Uuid(&self.users[0]),
                Value::MaybeUuid(&self.sessions[0]),
                Value::Time(&self.now[0]),
                Value::Uuid(&self.audit_ids[0]),
                Value::Bool(&self.audit_enabled),
                Value::Bool(&self.mask_email),
                Value::Text(&self.request_ids[0]),
                Value::MaybeText(&self.source_ips[0]),
                Value::MaybeText(&self.user_agents[0]),
                Value::Json(&self.details[0]),
                Value::Uuid(&self.event_ids[0]),
                Value::Text(&self.deleted_at[0]),
                Value::Texts(&self.hooks),
                Value::MaybeTime(&self.created_after[0]),
                Value::Texts(&self.scheduled_hooks),
                Value::MaybeTime(&self.purge_after[0]),
            ],
            Shape::Group => [
                Value::Uuids(&self.users),
                Value::MaybeUuids(&self.sessions),
                Value::Times(&self.now),
                Value::Uuids(&self.audit_ids),
                Value::Bool(&self.audit_enabled),
                Value::Bool(&self.mask_email),
                Value::Texts(&self.request_ids),
                Value::MaybeTexts(&self.source_ips),
                Value::MaybeTexts(&self.user_agents),
                Value::Jsons(&self.details),
                Value::Uuids(&self.event_ids),
                Value::Texts(&self.deleted_at),
                Value::Texts(&self.hooks),
                Value::MaybeTimes(&self.created_after),
                Value::Texts(&self.scheduled_hooks),
                Value::MaybeTimes(&self.purge_after),
            ],
        }
    }
}

/// The deletion statements' keys for [`Prepared`] (the pool's connections: one deletion, or
/// the inactivity policy's batch; other groups form only on the workers' lanes): [`DELETE_ONE`]
/// and [`SCHEDULE_ONE`].
pub(crate) struct Deleting;
/// See [`Deleting`].
pub(crate) struct Scheduling;
/// See [`Deleting`]: [`DELETE_GROUP`].
pub(crate) struct DeletingGroup;
/// See [`Deleting`]: [`SCHEDULE_GROUP`].
pub(crate) struct SchedulingGroup;

/// One row of the statement's answer.
#[derive(QueryableByName)]
pub(crate) struct Row {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub(crate) n: i64,
    #[diesel(sql_type = Bool)]
    pub(crate) found: bool,
    #[diesel(sql_type = Bool)]
    pub(crate) held: bool,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub(crate) purge_after: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub(crate) emails: Option<String>,
    #[diesel(sql_type = Bool)]
    pub(crate) session_live: bool,
    #[diesel(sql_type = Bool)]
    pub(crate) session_fresh: bool,
}

impl Row {
    pub(crate) fn from_pg(row: &tokio_postgres::Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            n: row.try_get("n")?,
            found: row.try_get("found")?,
            held: row.try_get("held")?,
            purge_after: row.try_get("purge_after")?,
            emails: row.try_get("emails")?,
            session_live: row.try_get("session_live")?,
            session_fresh: row.try_get("session_fresh")?,
        })
    }

    /// What the row says of `attempt`.
    fn outcome(self, attempt: &Attempt) -> Result<DeletionOutcome, serde_json::Error> {
        let asked_by_session = attempt.session.is_some();
        if asked_by_session && !self.session_live {
            return Ok(DeletionOutcome::NoSession);
        }
        if asked_by_session && !self.session_fresh {
            return Ok(DeletionOutcome::ReauthenticationRequired);
        }
        if !self.found {
            return Ok(DeletionOutcome::Gone);
        }
        let emails: Vec<Email> = serde_json::from_str(self.emails.as_deref().unwrap_or("[]"))?;
        if let Some(purge_after) = self.purge_after {
            return Ok(DeletionOutcome::Scheduled(ScheduledUser {
                id: attempt.deletion.user_id,
                emails,
                purge_after,
            }));
        }
        if self.held {
            return Ok(DeletionOutcome::Held);
        }
        Ok(DeletionOutcome::Deleted(DeletedUser {
            id: attempt.deletion.user_id,
            emails,
            deleted_at: attempt.at,
        }))
    }
}

/// Why a row could not be given to its deletion.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RowError {
    #[error("the statement answered no row numbered {0}")]
    Missing(usize),
    #[error("the e-mails of row {0} are not the expected JSON")]
    Emails(usize, #[source] serde_json::Error),
}

/// The outcome of each attempt, from the rows: each row goes to the attempt its number names,
/// and an attempt with no row (a row count that does not match) gets an error. The statement
/// has committed by now, so an error here is never a reason to run anything again.
pub(crate) fn outcomes(
    attempts: &[Attempt],
    rows: Vec<Row>,
) -> Vec<Result<DeletionOutcome, RowError>> {
    let mut by_number: Vec<Option<Row>> = attempts.iter().map(|_| None).collect();
    for row in rows {
        let slot = usize::try_from(row.n)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| by_number.get_mut(i));
        match slot {
            Some(slot @ None) => *slot = Some(row),
            // A number out of range or twice: the row answers nothing of ours.
            _ => log::error!(
                "deletion statement answered an unexpected row number {}",
                row.n
            ),
        }
    }
    attempts
        .iter()
        .zip(by_number)
        .enumerate()
        .map(|(i, (attempt, row))| match row {
            Some(row) => row.outcome(attempt).map_err(|e| RowError::Emails(i + 1, e)),
            None => Err(RowError::Missing(i + 1)),
        })
        .collect()
}

/// One deletion on a pooled Diesel connection, in one statement (autocommit, or inside the
/// caller's transaction: the purge's); a user's own met by a legal hold, in a second one that
/// schedules it.
pub(crate) fn run_one(
    pg: &mut diesel::PgConnection,
    attempt: &Attempt,
) -> Result<Result<DeletionOutcome, RowError>, diesel::result::Error> {
    let outcome = run_alone(pg, attempt)?;
    match outcome
        .as_ref()
        .ok()
        .and_then(|o| attempt.scheduled_under_hold(o))
    {
        Some(again) => run_alone(pg, &again),
        None => Ok(outcome),
    }
}

/// Several deletions on a pooled Diesel connection, in one statement, inside the caller's
/// transaction (the inactivity policy's batch). They share the statement-wide values
/// ([`Attempt::shares_statement`]) and none is met by a hold it should be scheduled under (no
/// user's own): the outcome of each, in order.
pub(crate) fn run_group(
    pg: &mut diesel::PgConnection,
    attempts: &[Attempt],
) -> Result<Vec<Result<DeletionOutcome, RowError>>, diesel::result::Error> {
    match attempts {
        [] => return Ok(Vec::new()),
        [one] => return Ok(vec![run_alone(pg, one)?]),
        _ => {}
    }
    let params = Params::of(attempts);
    let rows: Vec<Row> = match params.action() {
        Action::Delete => {
            Prepared::<DeletingGroup>::new(params.sql(), &params.values()).load(pg)?
        }
        Action::Schedule => {
            Prepared::<SchedulingGroup>::new(params.sql(), &params.values()).load(pg)?
        }
    };
    Ok(outcomes(attempts, rows))
}

fn run_alone(
    pg: &mut diesel::PgConnection,
    attempt: &Attempt,
) -> Result<Result<DeletionOutcome, RowError>, diesel::result::Error> {
    let attempts = std::slice::from_ref(attempt);
    let params = Params::of(attempts);
    let rows: Vec<Row> = match params.action() {
        Action::Delete => Prepared::<Deleting>::new(params.sql(), &params.values()).load(pg)?,
        Action::Schedule => Prepared::<Scheduling>::new(params.sql(), &params.values()).load(pg)?,
    };
    let mut outcomes = outcomes(attempts, rows);
    Ok(outcomes.pop().unwrap_or(Err(RowError::Missing(1))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::audit::AuditLogConfig;
    use domain::ids::{SessionId, UserId};
    use domain::model::RequestContext;
    use domain::ports::DeletionRecipients;
    use domain::ports::{DeletedBy, Deletion};
    use std::sync::Arc;

    fn attempt(user: UserId) -> Attempt {
        let at = Utc::now();
        Attempt {
            deletion: Arc::new(Deletion {
                user_id: user,
                by: DeletedBy::User {
                    sessions: vec![SessionId::new_random()],
                    created_after: None,
                },
                purge_after: None,
                context: RequestContext::default(),
                audit: AuditLogConfig::default(),
                at,
                recipients: DeletionRecipients::default(),
            }),
            session: Some(SessionId::new_random()),
            created_after: None,
            purge_after: None,
            at,
        }
    }

    fn row(n: i64, found: bool) -> Row {
        Row {
            n,
            found,
            held: false,
            purge_after: None,
            emails: Some("[]".into()),
            session_live: true,
            session_fresh: true,
        }
    }

    /// Rows go to the attempt their number names, whatever their order; an attempt with no row
    /// (or whose number came twice, or out of range) gets an error of its own, never another's
    /// answer.
    #[test]
    fn rows_are_matched_by_number_and_a_missing_one_is_an_error() {
        let users: Vec<UserId> = (0..4).map(|_| UserId::new_random()).collect();
        let attempts: Vec<Attempt> = users.iter().map(|u| attempt(*u)).collect();
        let rows = vec![row(3, false), row(1, true), row(9, true), row(1, false)];
        let outcomes = outcomes(&attempts, rows);
        assert!(
            matches!(&outcomes[0], Ok(DeletionOutcome::Deleted(d)) if d.id == users[0]),
            "{:?}",
            outcomes[0]
        );
        assert!(matches!(outcomes[1], Err(RowError::Missing(2))));
        assert!(matches!(outcomes[2], Ok(DeletionOutcome::Gone)));
        assert!(matches!(outcomes[3], Err(RowError::Missing(4))));
    }
}
