//! SCIM provisioning (docs/scim.md): the providers' clients, and what a provider may do to a
//! user: create, read, list, replace, patch, deactivate and reactivate (by `active`), delete
//! (the one deletion, `by: "scim"`). Refusals are [`ScimError`]s, in SCIM's terms.

use super::streams::{new_token_with, token_hash};
use super::{ServiceError, Services};
use chrono::Utc;
use domain::events::EventKind;
use domain::ids::UserId;
use domain::model::RequestContext;
use domain::ports::{DeletedBy, Deleter, Deletion, DeletionOutcome};
use domain::scim::filter::Filter;
use domain::scim::store::{
    Activity, Lookup, ScimChange, ScimClient, ScimRecipients, ScimStore, Written,
};
use domain::scim::user::{ScimUser, UserInput};
use domain::scim::{patch, ScimError};
use persistence::OffloadError;

/// The most resources one page holds (`count` beyond is cut to it; the discovery document
/// says so as `filter.maxResults`).
pub const MAX_RESULTS: usize = 200;
/// How often a `PATCH` without `If-Match` is tried again when another change came between
/// its read and its write.
const PATCH_TRIES: usize = 3;

/// A new client and its token, shown once.
pub struct CreatedClient {
    pub client: ScimClient,
    pub token: String,
}

/// One page of a listing.
pub struct Page {
    pub total: usize,
    /// 1-based, as asked.
    pub start_index: usize,
    pub users: Vec<ScimUser>,
}

/// A SCIM request's outcome: the answer, or a refusal in SCIM's terms.
pub type ScimResult<T> = Result<Result<T, ScimError>, ServiceError>;

fn not_found() -> ScimError {
    ScimError::status(404, "no such user")
}

fn written(outcome: Written) -> Result<(ScimUser, Activity), ScimError> {
    match outcome {
        Written::Done(user, activity) => Ok((user, activity)),
        Written::NotFound => Err(not_found()),
        Written::Stale => Err(ScimError::status(
            412,
            "the user changed since the version in If-Match",
        )),
        Written::UserNameTaken => Err(ScimError::uniqueness("another user has this userName")),
        Written::AddressTaken => Err(ScimError::uniqueness(
            "another user has one of these emails",
        )),
    }
}

impl Services {
    pub async fn create_scim_client(
        &self,
        name: String,
        context: RequestContext,
    ) -> Result<CreatedClient, ServiceError> {
        let token = new_token_with("scim_")
            .map_err(|e| ServiceError::internal("generating a SCIM client token", e))?;
        let hash = token_hash(&token);
        let (db, audit) = (self.db.clone(), self.config.audit_log.clone());
        let client = self
            .offload
            .run("creating a SCIM client", move || {
                db.create_scim_client(&name, &hash, &context, &audit, Utc::now())
            })
            .await?;
        Ok(CreatedClient { client, token })
    }

    pub async fn list_scim_clients(&self) -> Result<Vec<ScimClient>, ServiceError> {
        let db = self.db.clone();
        Ok(self
            .offload
            .run("listing SCIM clients", move || db.list_scim_clients())
            .await?)
    }

    /// Revokes a client: its token stops working at once.
    pub async fn revoke_scim_client(
        &self,
        id: uuid::Uuid,
        context: RequestContext,
    ) -> Result<bool, ServiceError> {
        let (db, audit) = (self.db.clone(), self.config.audit_log.clone());
        Ok(self
            .offload
            .run("revoking a SCIM client", move || {
                db.delete_scim_client(id, &context, &audit, Utc::now())
            })
            .await?)
    }

    /// The client holding `token`, compared by hash in constant time.
    pub async fn scim_client(&self, token: String) -> Result<Option<ScimClient>, ServiceError> {
        let presented = token_hash(&token);
        let (db, lookup) = (self.db.clone(), presented.clone());
        let found = self
            .offload
            .run("authenticating a SCIM client", move || {
                db.scim_client_by_token_hash(&lookup)
            })
            .await?;
        Ok(found.and_then(|(client, stored)| {
            aws_lc_rs::constant_time::verify_slices_are_equal(
                stored.as_bytes(),
                presented.as_bytes(),
            )
            .is_ok()
            .then_some(client)
        }))
    }

    fn scim_recipients(&self) -> ScimRecipients {
        ScimRecipients {
            deactivated: self.events.recipients(EventKind::UserDeactivated),
            reactivated: self.events.recipients(EventKind::UserReactivated),
            session_deleted: self.events.recipients(EventKind::SessionDelete),
        }
    }

    /// After a committed write: wake delivery for what it wrote, count it.
    fn announce(&self, activity: Activity) {
        match activity {
            Activity::Unchanged => {}
            Activity::Deactivated { sessions } => {
                if sessions > 0 {
                    self.events.committed(EventKind::SessionDelete);
                }
                self.events.committed(EventKind::UserDeactivated);
                self.metrics.scim_activity("deactivated");
            }
            Activity::Reactivated => {
                self.events.committed(EventKind::UserReactivated);
                self.metrics.scim_activity("reactivated");
            }
        }
    }

    /// Runs `write` on the store with this request's change.
    async fn scim_write(
        &self,
        context: &'static str,
        client: &ScimClient,
        request: RequestContext,
        write: impl FnOnce(
                &persistence::Database,
                &ScimChange<'_>,
            ) -> Result<Written, domain::ports::StoreError>
            + Send
            + 'static,
    ) -> ScimResult<ScimUser> {
        let (db, audit, recipients) = (
            self.db.clone(),
            self.config.audit_log.clone(),
            self.scim_recipients(),
        );
        let client = client.clone();
        let outcome = self
            .offload
            .run(context, move || {
                let change = ScimChange {
                    client: &client,
                    context: &request,
                    audit: &audit,
                    recipients: &recipients,
                    at: Utc::now(),
                };
                write(&db, &change)
            })
            .await?;
        Ok(written(outcome).map(|(user, activity)| {
            self.announce(activity);
            user
        }))
    }

    pub async fn scim_create_user(
        &self,
        client: &ScimClient,
        body: serde_json::Value,
        request: RequestContext,
    ) -> ScimResult<ScimUser> {
        let input = match UserInput::from_resource(&body) {
            Ok(input) => input,
            Err(e) => return Ok(Err(e)),
        };
        let created = self
            .scim_write(
                "creating a SCIM user",
                client,
                request,
                move |db, change| db.create_scim_user(&input, change),
            )
            .await?;
        if created.is_ok() {
            self.metrics.scim_activity("created");
        }
        Ok(created)
    }

    pub async fn scim_user(&self, id: UserId) -> Result<Option<ScimUser>, ServiceError> {
        let db = self.db.clone();
        Ok(self
            .offload
            .run("reading a SCIM user", move || db.scim_user(id))
            .await?)
    }

    /// The users `filter` selects, `count` of them from the `start_index`th (1-based).
    pub async fn scim_users(
        &self,
        filter: Option<Filter>,
        start_index: usize,
        count: usize,
    ) -> Result<Page, ServiceError> {
        let lookup = filter.as_ref().and_then(lookup_of);
        let db = self.db.clone();
        let candidates = self
            .offload
            .run("listing SCIM users", move || db.scim_users(lookup.as_ref()))
            .await?;
        let location = self.scim_location("");
        let matching: Vec<ScimUser> = match &filter {
            None => candidates,
            Some(filter) => candidates
                .into_iter()
                .filter(|u| filter.matches(&u.resource(&location)))
                .collect(),
        };
        let start_index = start_index.max(1);
        let total = matching.len();
        let users = matching
            .into_iter()
            .skip(start_index - 1)
            .take(count.min(MAX_RESULTS))
            .collect();
        Ok(Page {
            total,
            start_index,
            users,
        })
    }

    /// Where a user is, as `meta.location` says (the public base URL when configured).
    pub fn scim_location(&self, id: &str) -> String {
        let path = format!("/scim/v2/Users/{id}");
        match &self.config.server.public.base_url {
            Some(base) => base.join(&path),
            None => path,
        }
    }

    pub async fn scim_replace_user(
        &self,
        client: &ScimClient,
        id: UserId,
        body: serde_json::Value,
        if_match: Option<String>,
        request: RequestContext,
    ) -> ScimResult<ScimUser> {
        let input = match UserInput::from_resource(&body) {
            Ok(input) => input,
            Err(e) => return Ok(Err(e)),
        };
        self.scim_write(
            "replacing a SCIM user",
            client,
            request,
            move |db, change| db.replace_scim_user(id, &input, if_match.as_deref(), change),
        )
        .await
    }

    /// Applies a `PatchOp` to the user as it is now; without `If-Match`, a change that came in
    /// between is met by patching again (a few times), never by losing it.
    pub async fn scim_patch_user(
        &self,
        client: &ScimClient,
        id: UserId,
        body: serde_json::Value,
        if_match: Option<String>,
        request: RequestContext,
    ) -> ScimResult<ScimUser> {
        let mut tries = 0;
        loop {
            tries += 1;
            let Some(current) = self.scim_user(id).await? else {
                return Ok(Err(not_found()));
            };
            if if_match.as_deref().is_some_and(|v| v != current.version()) {
                return Ok(Err(written(Written::Stale).err().unwrap_or_else(not_found)));
            }
            let resource = current.resource(&self.scim_location(&id.0.to_string()));
            let input = match patch::apply(&resource, &body)
                .and_then(|r| UserInput::from_patched(&r, &current))
            {
                Ok(input) => input,
                Err(e) => return Ok(Err(e)),
            };
            let version = current.version();
            let outcome = self
                .scim_write(
                    "patching a SCIM user",
                    client,
                    request.clone(),
                    move |db, change| db.replace_scim_user(id, &input, Some(&version), change),
                )
                .await?;
            match outcome {
                Err(e) if e.status == 412 && if_match.is_none() && tries < PATCH_TRIES => continue,
                other => return Ok(other),
            }
        }
    }

    /// The one deletion, asked by a provider: scheduled with a grace period, and under a legal
    /// hold (the purge waits for its release), as a user's own request would be.
    pub async fn scim_delete_user(
        &self,
        client: &ScimClient,
        id: UserId,
        request: RequestContext,
    ) -> ScimResult<()> {
        if self.scim_user(id).await?.is_none() {
            return Ok(Err(not_found()));
        }
        let account = &self.config.account;
        let now = Utc::now();
        let deletion = Deletion {
            user_id: id,
            by: DeletedBy::Scim {
                client_id: client.id,
                client_name: client.name.clone(),
            },
            purge_after: account.deletion.grace_period.map(|g| now + g.chrono()),
            context: request,
            audit: self.config.audit_log.clone(),
            recipients: self.deletion_recipients(),
            at: now,
        };
        let outcome =
            self.deletions()
                .delete(deletion)
                .await
                .map_err(|source| OffloadError::Store {
                    context: "deleting a SCIM user",
                    source,
                })?;
        Ok(match outcome {
            DeletionOutcome::Deleted(deleted) => {
                log::info!("user {} deleted by SCIM client {}", deleted.id, client.name);
                self.metrics.user_deleted_by_scim();
                self.events.committed(EventKind::UserDelete);
                Ok(())
            }
            DeletionOutcome::Scheduled(scheduled) => {
                log::info!(
                    "user {} scheduled for deletion by SCIM client {}",
                    scheduled.id,
                    client.name
                );
                self.metrics.deletion_scheduled();
                self.events.committed(EventKind::UserDeleteScheduled);
                Ok(())
            }
            DeletionOutcome::Gone | DeletionOutcome::NoSession => Err(not_found()),
            DeletionOutcome::Held | DeletionOutcome::ReauthenticationRequired => {
                return Err(ServiceError::internal(
                    "deleting a SCIM user",
                    "a provider's deletion was refused by a hold or a session rule",
                ))
            }
        })
    }
}

/// The index lookup a filter allows, if any.
fn lookup_of(filter: &Filter) -> Option<Lookup> {
    if let Some(id) = filter.required_eq("id") {
        return Some(match uuid::Uuid::parse_str(id) {
            Ok(id) => Lookup::Id(UserId(id)),
            // No user has an id that is not a UUID: the nil one, which no one has.
            Err(_) => Lookup::Id(UserId(uuid::Uuid::nil())),
        });
    }
    if let Some(name) = filter.required_eq("username") {
        return Some(Lookup::UserName(name.to_owned()));
    }
    if let Some(external) = filter.required_eq("externalid") {
        return Some(Lookup::ExternalId(external.to_owned()));
    }
    filter
        .required_eq("emails")
        .map(|address| Lookup::Email(address.to_owned()))
}
