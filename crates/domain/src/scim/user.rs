//! The SCIM User and ours: what a provider's body becomes ([`UserInput`]) and what we answer
//! ([`ScimUser::resource`]). `userName` is the username, `emails` the user's addresses (the one
//! marked `primary`, if any, is the primary), `externalId`, `active` (false deactivates; absent
//! or true is active, and shown only when given); `name`, `displayName` and the enterprise
//! extension are kept as given ([`Profile`]). Every other attribute is accepted and ignored.
//! Booleans may come as the strings `"True"`/`"False"` (Entra ID).

use super::{ScimError, ScimType, ENTERPRISE_SCHEMA, USER_SCHEMA};
use crate::email::{is_email, validate_new_emails, EmailsRefused};
use crate::ids::UserId;
use crate::model::NewEmail;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// The longest `userName`, `externalId` or `displayName` we keep, in characters.
pub const MAX_TEXT_LEN: usize = 256;
/// The most addresses a SCIM user may have.
pub const MAX_EMAILS: usize = 20;
/// The largest profile (`name`, `displayName`, enterprise extension), serialised.
pub const MAX_PROFILE_BYTES: usize = 16 * 1024;

/// The core attributes with sub-attributes we keep in the profile, as RFC 7643 spells them.
const NAME_PARTS: [&str; 6] = [
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
];
/// The enterprise extension's attributes, as RFC 7643 §4.3 spells them.
const ENTERPRISE_PARTS: [&str; 6] = [
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "manager",
];
const MANAGER_PARTS: [&str; 3] = ["value", "$ref", "displayName"];

/// An address of a SCIM user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimEmail {
    pub address: String,
    pub primary: bool,
    /// `work`, `home`, … as given.
    pub kind: Option<String>,
}

/// `name`, `displayName` and the enterprise extension, as given (only the sub-attributes RFC
/// 7643 defines; strings only), and `active: true` when it was given, serialised as one JSON
/// object (`active: false` is the user's deactivation, kept apart).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile(pub Map<String, Value>);

/// A User as a provider sends it (`POST`, `PUT`, or a resource after a `PATCH`), checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInput {
    /// Always set by `POST` and `PUT`; absent only after a `PATCH` of a user who never had one
    /// (a user not provisioned over SCIM).
    pub user_name: Option<String>,
    pub external_id: Option<String>,
    pub active: bool,
    pub emails: Vec<ScimEmail>,
    pub profile: Profile,
}

/// A user as SCIM sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimUser {
    pub id: UserId,
    pub user_name: Option<String>,
    pub external_id: Option<String>,
    pub active: bool,
    pub emails: Vec<ScimEmail>,
    pub profile: Profile,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidValue, detail)
}

/// A boolean, or Entra ID's `"True"`/`"False"`.
pub fn boolean(value: &Value, what: &str) -> Result<bool, ScimError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(invalid(format!("{what} must be a boolean"))),
    }
}

/// A member of an object by name, compared without case (attribute names are
/// case-insensitive).
pub fn member<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// A request's `schemas`, when given, is a list of URNs (its content is not checked: providers
/// list what they send, and we read what we keep).
pub fn check_schemas(body: &Map<String, Value>) -> Result<(), ScimError> {
    match member(body, "schemas") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => Ok(()),
        Some(_) => Err(ScimError::bad(
            ScimType::InvalidSyntax,
            "schemas must be a list of URNs",
        )),
    }
}

fn text(value: Option<&Value>, what: &str) -> Result<Option<String>, ScimError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() > MAX_TEXT_LEN => Err(invalid(format!(
            "{what} may be at most {MAX_TEXT_LEN} characters"
        ))),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("{what} must be a string"))),
    }
}

/// The sub-attributes of `value` (an object) that are in `parts`, strings only, spelled as
/// `parts` spells them; `None` when none is set.
fn complex(value: Option<&Value>, parts: &[&str], what: &str) -> Result<Option<Value>, ScimError> {
    let object = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(invalid(format!("{what} must be an object"))),
    };
    let mut kept = Map::new();
    for part in parts {
        if let Some(v) = text(member(object, part), &format!("{what}.{part}"))? {
            kept.insert((*part).to_owned(), Value::String(v));
        }
    }
    Ok((!kept.is_empty()).then_some(Value::Object(kept)))
}

impl Profile {
    /// What of `body` the profile keeps.
    fn of(body: &Map<String, Value>) -> Result<Self, ScimError> {
        let mut profile = Map::new();
        if let Some(name) = complex(member(body, "name"), &NAME_PARTS, "name")? {
            profile.insert("name".into(), name);
        }
        if let Some(display) = text(member(body, "displayName"), "displayName")? {
            profile.insert("displayName".into(), Value::String(display));
        }
        let enterprise = match member(body, ENTERPRISE_SCHEMA) {
            None | Some(Value::Null) => None,
            Some(Value::Object(ext)) => {
                let mut kept = Map::new();
                for part in ENTERPRISE_PARTS {
                    let value = member(ext, part);
                    let kept_value = if part == "manager" {
                        // Providers send the manager as an object or as its id alone.
                        match value {
                            Some(Value::String(id)) => {
                                complex(Some(&json!({ "value": id })), &MANAGER_PARTS, "manager")?
                            }
                            other => complex(other, &MANAGER_PARTS, "manager")?,
                        }
                    } else {
                        text(value, part)?.map(Value::String)
                    };
                    if let Some(v) = kept_value {
                        kept.insert(part.to_owned(), v);
                    }
                }
                (!kept.is_empty()).then_some(Value::Object(kept))
            }
            Some(_) => return Err(invalid("the enterprise extension must be an object")),
        };
        if let Some(ext) = enterprise {
            profile.insert(ENTERPRISE_SCHEMA.into(), ext);
        }
        if let Some(v) = member(body, "active").filter(|v| !v.is_null()) {
            if boolean(v, "active")? {
                profile.insert("active".into(), Value::Bool(true));
            }
        }
        let profile = Self(profile);
        if profile.to_json().len() > MAX_PROFILE_BYTES {
            return Err(invalid(
                "name, displayName and the enterprise extension are too large",
            ));
        }
        Ok(profile)
    }

    /// Serialised, as stored.
    pub fn to_json(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }

    /// As stored (an unreadable or absent profile is empty: it only ever holds what we wrote).
    pub fn from_json(stored: Option<&str>) -> Self {
        match stored.and_then(|s| serde_json::from_str(s).ok()) {
            Some(Value::Object(map)) => Self(map),
            _ => Self::default(),
        }
    }
}

impl UserInput {
    /// A `POST` or `PUT` body: `userName` is required.
    pub fn from_resource(body: &Value) -> Result<Self, ScimError> {
        Self::read(body, true)
    }

    /// A resource after a `PATCH` of `before`: `userName` is required if `before` had one, so a
    /// user created elsewhere can be deactivated without being given a username.
    pub fn from_patched(body: &Value, before: &ScimUser) -> Result<Self, ScimError> {
        Self::read(body, before.user_name.is_some())
    }

    fn read(body: &Value, user_name_required: bool) -> Result<Self, ScimError> {
        let Value::Object(body) = body else {
            return Err(ScimError::bad(
                ScimType::InvalidSyntax,
                "a User must be a JSON object",
            ));
        };
        check_schemas(body)?;
        let user_name = text(member(body, "userName"), "userName")?;
        if user_name.is_none() && user_name_required {
            return Err(invalid("userName is required"));
        }
        let external_id = text(member(body, "externalId"), "externalId")?;
        let active = match member(body, "active") {
            None | Some(Value::Null) => true,
            Some(v) => boolean(v, "active")?,
        };
        let emails = emails(member(body, "emails"))?;
        Ok(Self {
            user_name,
            external_id,
            active,
            emails,
            profile: Profile::of(body)?,
        })
    }

    /// The addresses as our users hold them (none verified: a provider's word is not a proof
    /// of ownership), the primary one first marked.
    pub fn new_emails(&self) -> Vec<NewEmail> {
        self.emails
            .iter()
            .map(|e| NewEmail {
                address: e.address.clone(),
                is_primary: e.primary,
                is_verified: false,
            })
            .collect()
    }
}

fn emails(value: Option<&Value>) -> Result<Vec<ScimEmail>, ScimError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid("emails must be a list")),
    };
    if items.len() > MAX_EMAILS {
        return Err(ScimError::bad(
            ScimType::TooMany,
            format!("at most {MAX_EMAILS} emails"),
        ));
    }
    let mut emails = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(item) = item else {
            return Err(invalid("each email must be an object"));
        };
        let address = text(member(item, "value"), "emails.value")?
            .ok_or_else(|| invalid("each email needs a value"))?;
        if !is_email(&address) {
            return Err(invalid(format!("{address:?} is not an e-mail address")));
        }
        let primary = match member(item, "primary") {
            None | Some(Value::Null) => false,
            Some(v) => boolean(v, "emails.primary")?,
        };
        let kind = text(member(item, "type"), "emails.type")?;
        emails.push(ScimEmail {
            address,
            primary,
            kind,
        });
    }
    let as_new: Vec<NewEmail> = emails
        .iter()
        .map(|e| NewEmail {
            address: e.address.clone(),
            is_primary: e.primary,
            is_verified: false,
        })
        .collect();
    validate_new_emails(&as_new).map_err(|e| match e {
        EmailsRefused::NotAnAddress => invalid("an email is not an e-mail address"),
        EmailsRefused::SeveralPrimaries => invalid("at most one email may be primary"),
        // As the admin API answers it: the second address collides with the first.
        EmailsRefused::Duplicate => ScimError::uniqueness("the same email appears twice"),
    })?;
    Ok(emails)
}

impl ScimUser {
    /// The weak ETag of this version: its last modification, to the microsecond.
    pub fn version(&self) -> String {
        format!("W/\"{}\"", self.last_modified.timestamp_micros())
    }

    /// The resource, as RFC 7643 writes it; `location` is its URL.
    pub fn resource(&self, location: &str) -> Value {
        let mut resource = Map::new();
        let mut schemas = vec![Value::String(USER_SCHEMA.into())];
        if self.profile.0.contains_key(ENTERPRISE_SCHEMA) {
            schemas.push(Value::String(ENTERPRISE_SCHEMA.into()));
        }
        resource.insert("schemas".into(), Value::Array(schemas));
        resource.insert("id".into(), Value::String(self.id.0.to_string()));
        if let Some(external_id) = &self.external_id {
            resource.insert("externalId".into(), Value::String(external_id.clone()));
        }
        if let Some(user_name) = &self.user_name {
            resource.insert("userName".into(), Value::String(user_name.clone()));
        }
        for (key, value) in &self.profile.0 {
            resource.insert(key.clone(), value.clone());
        }
        if !self.active {
            resource.insert("active".into(), Value::Bool(false));
        }
        if !self.emails.is_empty() {
            let emails = self
                .emails
                .iter()
                .map(|e| {
                    let mut email = json!({ "value": e.address, "primary": e.primary });
                    if let (Some(kind), Some(email)) = (&e.kind, email.as_object_mut()) {
                        email.insert("type".into(), Value::String(kind.clone()));
                    }
                    email
                })
                .collect();
            resource.insert("emails".into(), Value::Array(emails));
        }
        resource.insert(
            "meta".into(),
            json!({
                "resourceType": "User",
                "created": crate::time::rfc3339_micros(&self.created),
                "lastModified": crate::time::rfc3339_micros(&self.last_modified),
                "location": location,
                "version": self.version(),
            }),
        );
        Value::Object(resource)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_ids_create_body_is_read() {
        // Microsoft's "Tutorial: Develop and plan provisioning for a SCIM endpoint", create user.
        let body = json!({
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
            "active": true,
            "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
            "meta": {"resourceType": "User"},
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
            "roles": []
        });
        let input = UserInput::from_resource(&body).unwrap();
        assert_eq!(
            input.user_name.as_deref(),
            Some("Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1")
        );
        assert!(input.active);
        assert_eq!(input.emails.len(), 1);
        assert_eq!(input.emails[0].kind.as_deref(), Some("work"));
        assert_eq!(input.profile.0["name"]["givenName"], "givenName");
    }

    #[test]
    fn booleans_may_be_entras_strings() {
        let body = json!({"userName": "a", "active": "False"});
        assert!(!UserInput::from_resource(&body).unwrap().active);
        let body = json!({"userName": "a", "active": "perhaps"});
        let e = UserInput::from_resource(&body).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    }

    #[test]
    fn a_user_name_is_required_and_unknown_attributes_are_ignored() {
        let e = UserInput::from_resource(&json!({"displayName": "x"})).unwrap_err();
        assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidValue)));
        let input = UserInput::from_resource(
            &json!({"userName": "a", "title": "boss", "phoneNumbers": [{"value": "1"}], "x": {"y": 1}}),
        )
        .unwrap();
        assert_eq!(input.profile, Profile::default());
    }

    #[test]
    fn primaries_are_as_given_and_at_most_one() {
        let input = UserInput::from_resource(&json!({"userName": "a", "emails": [
            {"value": "a@b.io"}, {"value": "c@d.io", "type": "home", "primary": true}]}))
        .unwrap();
        assert!(!input.emails[0].primary && input.emails[1].primary);
        let input =
            UserInput::from_resource(&json!({"userName": "a", "emails": [{"value": "a@b.io"}]}))
                .unwrap();
        assert!(!input.emails[0].primary);
        let e = UserInput::from_resource(&json!({"userName": "a", "emails": [
            {"value": "a@b.io", "primary": true}, {"value": "c@d.io", "primary": "True"}]}))
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    }

    #[test]
    fn the_resource_round_trips_through_the_input() {
        let body = json!({
            "userName": "bjensen", "externalId": "E1", "active": false,
            "displayName": "Babs", "name": {"givenName": "Barbara"},
            "emails": [{"value": "b@example.com", "primary": true, "type": "work"}],
            ENTERPRISE_SCHEMA: {"department": "Tour", "manager": "26118915-6090-4610-87e4-49d8ca9f808d"}
        });
        let input = UserInput::from_resource(&body).unwrap();
        let now = Utc::now();
        let user = ScimUser {
            id: UserId::new_random(),
            user_name: input.user_name.clone(),
            external_id: input.external_id.clone(),
            active: input.active,
            emails: input.emails.clone(),
            profile: input.profile.clone(),
            created: now,
            last_modified: now,
        };
        let resource = user.resource("https://x/scim/v2/Users/1");
        assert_eq!(UserInput::from_resource(&resource).unwrap(), input);
        assert_eq!(
            resource[ENTERPRISE_SCHEMA]["manager"]["value"],
            "26118915-6090-4610-87e4-49d8ca9f808d"
        );
        assert_eq!(resource["schemas"].as_array().map(Vec::len), Some(2));
    }
}
