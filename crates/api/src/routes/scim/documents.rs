//! What the SCIM endpoints take and answer, as OpenAPI schemas. Documentation only: the
//! handlers read bodies as JSON and the domain ([`domain::scim`]) checks them, because providers
//! send more than RFC 7643 writes (Entra ID's `"True"`, capitalised ops, attributes we ignore);
//! these schemas describe the well-formed subset every provider also accepts, so a generated
//! request that fits them must succeed (schemathesis checks exactly that, e2e/openapi/run).

#![allow(dead_code, non_snake_case)] // the schemas are read by utoipa, and spelled as SCIM spells them

use serde::Serialize;
use utoipa::ToSchema;

/// A User as a provider writes it (`POST`, `PUT`; RFC 7643 §4.1). Other attributes are
/// accepted and ignored; `active` may also be Entra ID's `"True"`/`"False"`.
#[derive(ToSchema)]
#[schema(as = ScimUserRequest)]
pub struct UserRequest {
    /// `urn:ietf:params:scim:schemas:core:2.0:User` (and the enterprise extension's URN).
    schemas: Option<Vec<String>>,
    /// The username: unique among users, compared without case (409 `uniqueness`).
    #[schema(min_length = 1, max_length = 256, example = "bjensen@example.com")]
    userName: String,
    /// The provider's own id for the user; stored and filterable.
    #[schema(max_length = 256)]
    externalId: Option<String>,
    /// `false` deactivates: every session ends and no new one can be created.
    active: Option<bool>,
    #[schema(max_length = 256)]
    displayName: Option<String>,
    name: Option<Name>,
    /// At most one `primary`; no address twice (without case); none another user's (409).
    #[schema(max_items = 20)]
    emails: Option<Vec<EmailRequest>>,
}

/// `name` (RFC 7643 §4.1.1), kept as given.
#[derive(ToSchema)]
#[schema(as = ScimName)]
pub struct Name {
    #[schema(max_length = 256)]
    formatted: Option<String>,
    #[schema(max_length = 256)]
    familyName: Option<String>,
    #[schema(max_length = 256)]
    givenName: Option<String>,
    #[schema(max_length = 256)]
    middleName: Option<String>,
    #[schema(max_length = 256)]
    honorificPrefix: Option<String>,
    #[schema(max_length = 256)]
    honorificSuffix: Option<String>,
}

/// One address of a SCIM User.
#[derive(ToSchema)]
#[schema(as = ScimEmailRequest)]
pub struct EmailRequest {
    /// An e-mail address (the exact rule is the pattern below).
    #[schema(example = "bjensen@example.com")]
    value: String,
    /// `work`, `home`, `other`, … kept as given.
    #[schema(max_length = 256)]
    r#type: Option<String>,
    primary: Option<bool>,
}

/// A PatchOp (RFC 7644 §3.5.2).
#[derive(ToSchema)]
#[schema(as = ScimPatchRequest)]
pub struct PatchRequest {
    /// `urn:ietf:params:scim:api:messages:2.0:PatchOp`
    schemas: Option<Vec<String>>,
    #[schema(min_items = 1, max_items = 100)]
    Operations: Vec<PatchOperation>,
}

/// One operation (operation names are case-insensitive, as Entra ID writes them). Described
/// here: the common forms; also accepted: any attribute path of RFC 7644 §3.5.2, value filters
/// such as `emails[type eq "work"].value`, and the enterprise extension by its URN.
#[derive(ToSchema, Serialize)]
#[schema(as = ScimPatchOperation)]
#[serde(untagged)]
pub enum PatchOperation {
    /// `active`: `false` deactivates, `true` reactivates.
    Active {
        op: Setting,
        path: ActivePath,
        value: bool,
    },
    /// A text attribute set.
    Text {
        op: Setting,
        path: TextPath,
        #[schema(max_length = 256)]
        value: String,
    },
    /// An attribute removed.
    Remove { op: Removing, path: RemovablePath },
    /// Without a path: the value's members are paths (Okta's `{"active": false}`).
    Members { op: Setting, value: Members },
}

#[derive(ToSchema, Serialize)]
#[schema(as = ScimPatchSetting)]
#[serde(rename_all = "lowercase")]
pub enum Setting {
    Add,
    Replace,
}

#[derive(ToSchema, Serialize)]
#[schema(as = ScimPatchRemoving)]
#[serde(rename_all = "lowercase")]
pub enum Removing {
    Remove,
}

#[derive(ToSchema, Serialize)]
#[schema(as = ScimActivePath)]
#[serde(rename_all = "lowercase")]
pub enum ActivePath {
    Active,
}

#[derive(ToSchema, Serialize)]
#[schema(as = ScimTextPath)]
pub enum TextPath {
    #[serde(rename = "displayName")]
    DisplayName,
    #[serde(rename = "externalId")]
    ExternalId,
    #[serde(rename = "name.givenName")]
    GivenName,
    #[serde(rename = "name.familyName")]
    FamilyName,
    #[serde(rename = "name.formatted")]
    Formatted,
}

#[derive(ToSchema, Serialize)]
#[schema(as = ScimRemovablePath)]
pub enum RemovablePath {
    #[serde(rename = "displayName")]
    DisplayName,
    #[serde(rename = "externalId")]
    ExternalId,
    #[serde(rename = "name")]
    Name,
    #[serde(rename = "name.givenName")]
    GivenName,
    #[serde(rename = "emails")]
    Emails,
}

/// A path-less operation's value: each member a path and its value.
#[derive(ToSchema, Serialize)]
#[schema(as = ScimPatchMembers)]
pub struct Members {
    active: Option<bool>,
    #[schema(max_length = 256)]
    displayName: Option<String>,
    #[schema(max_length = 256)]
    externalId: Option<String>,
}

/// A SearchRequest (RFC 7644 §3.4.3): the query's parameters as a body.
#[derive(ToSchema)]
#[schema(as = ScimSearchRequest)]
pub struct SearchRequest {
    /// `urn:ietf:params:scim:api:messages:2.0:SearchRequest`
    schemas: Option<Vec<String>>,
    /// RFC 7644 §3.4.2.2, e.g. `userName eq "bjensen"`.
    #[schema(example = "userName eq \"bjensen\"")]
    filter: Option<String>,
    /// 1-based; less than 1 is read as 1 (RFC 7644 §3.4.2.4).
    startIndex: Option<i64>,
    /// At most this many (at most 200); less than 0 is read as 0.
    count: Option<i64>,
    attributes: Option<Vec<String>>,
    excludedAttributes: Option<Vec<String>>,
}

/// A User as we answer it: `schemas` and `id` always, the rest unless `attributes` or
/// `excludedAttributes` leave it out.
#[derive(ToSchema)]
#[schema(as = ScimUser)]
pub struct User {
    schemas: Vec<String>,
    #[schema(format = Uuid)]
    id: String,
    userName: Option<String>,
    externalId: Option<String>,
    /// Shown when `false` (deactivated), or when a provider set it `true`.
    active: Option<bool>,
    displayName: Option<String>,
    name: Option<Name>,
    emails: Option<Vec<Email>>,
    meta: Option<Meta>,
}

/// One address of a User, as we answer it.
#[derive(ToSchema)]
#[schema(as = ScimEmail)]
pub struct Email {
    value: String,
    r#type: Option<String>,
    primary: bool,
}

/// A resource's `meta`.
#[derive(ToSchema)]
#[schema(as = ScimMeta)]
pub struct Meta {
    #[schema(example = "User")]
    resourceType: String,
    #[schema(format = DateTime)]
    created: String,
    #[schema(format = DateTime)]
    lastModified: String,
    location: String,
    /// The weak ETag of this version (send it as `If-Match`).
    version: String,
}

/// A ListResponse (RFC 7644 §3.4.2).
#[derive(ToSchema)]
#[schema(as = ScimListResponse)]
pub struct ListResponse {
    schemas: Vec<String>,
    #[schema(minimum = 0)]
    totalResults: u64,
    #[schema(minimum = 0)]
    itemsPerPage: u64,
    #[schema(minimum = 1)]
    startIndex: u64,
    Resources: Vec<User>,
}

/// Every SCIM error (RFC 7644 §3.12).
#[derive(ToSchema)]
#[schema(as = ScimErrorBody)]
pub struct Error {
    /// `urn:ietf:params:scim:api:messages:2.0:Error`
    schemas: Vec<String>,
    /// The HTTP status, as a string.
    #[schema(example = "400")]
    status: String,
    /// `invalidFilter`, `invalidPath`, `invalidValue`, `invalidSyntax`, `mutability`,
    /// `uniqueness`, `tooMany`, `noTarget`, where RFC 7644 defines one for the error.
    scimType: Option<String>,
    detail: String,
}
