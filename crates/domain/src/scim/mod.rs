//! SCIM 2.0 provisioning (RFC 7643, RFC 7644): what identity providers may ask of our users,
//! free of HTTP and SQL.
//!
//! - [`filter`]: the filter language of `GET /Users?filter=…`, parsed and evaluated.
//! - [`user`]: a provider's User and ours, both ways.
//! - [`patch`]: `PATCH` operations on a User.
//! - [`store`]: what SCIM needs of the database.
//!
//! Every SCIM failure is a [`ScimError`]: a status and, where RFC 7644 §3.12 defines one, a
//! `scimType`; the API writes it in the SCIM error form.

pub mod filter;
pub mod patch;
pub mod store;
pub mod user;

/// The core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// [`USER_SCHEMA`] lowercased, as attribute paths are compared.
pub const USER_SCHEMA_LOWER: &str = "urn:ietf:params:scim:schemas:core:2.0:user";
/// The enterprise User extension.
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The error message schema.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// The list response schema.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The PATCH request schema.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The `scimType` values of RFC 7644 §3.12 that we answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
}

impl ScimType {
    /// As written in an error body.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidFilter => "invalidFilter",
            Self::TooMany => "tooMany",
            Self::Uniqueness => "uniqueness",
            Self::Mutability => "mutability",
            Self::InvalidSyntax => "invalidSyntax",
            Self::InvalidPath => "invalidPath",
            Self::NoTarget => "noTarget",
            Self::InvalidValue => "invalidValue",
        }
    }
}

/// A SCIM request that cannot be done, as the client is to hear it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{status} {detail}")]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

impl ScimError {
    /// 400 with a `scimType`.
    pub fn bad(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self {
            status: 400,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    /// 409 `uniqueness`: a value that must be unique is not.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self {
            status: 409,
            scim_type: Some(ScimType::Uniqueness),
            detail: detail.into(),
        }
    }

    /// Any status, without a `scimType`.
    pub fn status(status: u16, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type: None,
            detail: detail.into(),
        }
    }
}

impl From<filter::InvalidFilter> for ScimError {
    fn from(e: filter::InvalidFilter) -> Self {
        Self::bad(ScimType::InvalidFilter, e.0)
    }
}
