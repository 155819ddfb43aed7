//! What a provider reads to learn what we do (RFC 7644 §4): the service provider's
//! configuration, its one resource type (User; Groups are not ours), and the schemas of what
//! we keep of a user: the core User schema's attributes we store and the enterprise extension.

use super::{documents, scim, ScimCaller, ScimHttpError};
use crate::services::scim::MAX_RESULTS;
use crate::services::Services;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use domain::scim::{ScimError, ENTERPRISE_SCHEMA, LIST_SCHEMA, USER_SCHEMA};
use serde_json::{json, Value};

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

fn base(services: &Services) -> String {
    services
        .scim_location("")
        .trim_end_matches("/Users/")
        .to_owned()
}

fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": resources.len(),
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "Resources": resources,
    })
}

/// `GET /scim/v2/ServiceProviderConfig`
#[utoipa::path(get, path = "/scim/v2/ServiceProviderConfig", tag = "SCIM",
    security(("ScimBearer" = [])),
    responses((status = 200, description = "What this service provider supports (RFC 7643 §5)", content_type = "application/scim+json", body = Object),
              (status = 401, description = "No SCIM client token, or not one of ours", content_type = "application/scim+json", body = documents::Error)))]
pub async fn service_provider_config(
    _caller: ScimCaller,
    services: web::Data<Services>,
) -> HttpResponse {
    scim(
        StatusCode::OK,
        &json!({
            "schemas": [SPC_SCHEMA],
            "documentationUri": "https://github.com/teamhanko/hanko",
            "patch": { "supported": true },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
            "filter": { "supported": true, "maxResults": MAX_RESULTS },
            "changePassword": { "supported": false },
            "sort": { "supported": false },
            "etag": { "supported": true },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A SCIM client's token, from the admin API (POST /scim/clients)",
                "primary": true,
            }],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": format!("{}/ServiceProviderConfig", base(&services)),
            },
        }),
    )
}

fn user_type(services: &Services) -> Value {
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A user account",
        "schema": USER_SCHEMA,
        "schemaExtensions": [{ "schema": ENTERPRISE_SCHEMA, "required": false }],
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/User", base(services)),
        },
    })
}

/// `GET /scim/v2/ResourceTypes`
#[utoipa::path(get, path = "/scim/v2/ResourceTypes", tag = "SCIM",
    security(("ScimBearer" = [])),
    responses((status = 200, description = "The resource types: User only", content_type = "application/scim+json", body = Object),
              (status = 401, description = "No SCIM client token, or not one of ours", content_type = "application/scim+json", body = documents::Error)))]
pub async fn resource_types(_caller: ScimCaller, services: web::Data<Services>) -> HttpResponse {
    scim(StatusCode::OK, &list(vec![user_type(&services)]))
}

/// `GET /scim/v2/ResourceTypes/{name}`
#[utoipa::path(get, path = "/scim/v2/ResourceTypes/{name}", tag = "SCIM",
    security(("ScimBearer" = [])),
    params(("name" = String, Path, description = "User (the only one)")),
    responses((status = 200, description = "The User resource type", content_type = "application/scim+json", body = Object),
              (status = 401, description = "No SCIM client token, or not one of ours", content_type = "application/scim+json", body = documents::Error),
              (status = 404, description = "Not a resource type here", content_type = "application/scim+json", body = documents::Error)))]
pub async fn resource_type(
    _caller: ScimCaller,
    services: web::Data<Services>,
    name: web::Path<String>,
) -> Result<HttpResponse, ScimHttpError> {
    if name.as_str() != "User" {
        return Err(ScimError::status(404, "only User is a resource type here").into());
    }
    Ok(scim(StatusCode::OK, &user_type(&services)))
}

fn attribute(name: &str, kind: &str, description: &str) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": false, "description": description,
        "required": false, "caseExact": false, "mutability": "readWrite",
        "returned": "default", "uniqueness": "none",
    })
}

fn with(mut attr: Value, key: &str, value: Value) -> Value {
    if let Some(map) = attr.as_object_mut() {
        map.insert(key.into(), value);
    }
    attr
}

fn strings(names: &[(&str, &str)]) -> Vec<Value> {
    names
        .iter()
        .map(|(n, d)| attribute(n, "string", d))
        .collect()
}

fn user_schema(services: &Services) -> Value {
    let user_name = with(
        with(
            attribute(
                "userName",
                "string",
                "Unique identifier for the User, compared without case",
            ),
            "required",
            json!(true),
        ),
        "uniqueness",
        json!("server"),
    );
    let name = with(
        attribute("name", "complex", "The components of the user's name"),
        "subAttributes",
        json!(strings(&[
            ("formatted", "The full name"),
            ("familyName", "The family name"),
            ("givenName", "The given name"),
            ("middleName", "The middle name"),
            ("honorificPrefix", "The honorific prefix"),
            ("honorificSuffix", "The honorific suffix"),
        ])),
    );
    let emails = with(
        with(
            attribute(
                "emails",
                "complex",
                "E-mail addresses; the primary one is the user's primary address",
            ),
            "multiValued",
            json!(true),
        ),
        "subAttributes",
        json!([
            attribute("value", "string", "The address"),
            with(
                attribute("type", "string", "work, home, other"),
                "canonicalValues",
                json!(["work", "home", "other"])
            ),
            attribute("primary", "boolean", "The primary address"),
        ]),
    );
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "User Account (the attributes this service keeps)",
        "attributes": [
            user_name,
            name,
            attribute("displayName", "string", "The name to display"),
            attribute("active", "boolean", "Whether the user may sign in; false ends every session"),
            emails,
        ],
        "meta": {
            "resourceType": "Schema",
            "location": format!("{}/Schemas/{USER_SCHEMA}", base(services)),
        },
    })
}

fn enterprise_schema(services: &Services) -> Value {
    let manager = with(
        attribute("manager", "complex", "The user's manager"),
        "subAttributes",
        json!([
            attribute("value", "string", "The manager's id"),
            attribute("displayName", "string", "The manager's name"),
        ]),
    );
    let mut attributes = strings(&[
        ("employeeNumber", "The employee number"),
        ("costCenter", "The cost center"),
        ("organization", "The organization"),
        ("division", "The division"),
        ("department", "The department"),
    ]);
    attributes.push(manager);
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": ENTERPRISE_SCHEMA,
        "name": "EnterpriseUser",
        "description": "Enterprise User",
        "attributes": attributes,
        "meta": {
            "resourceType": "Schema",
            "location": format!("{}/Schemas/{ENTERPRISE_SCHEMA}", base(services)),
        },
    })
}

/// `GET /scim/v2/Schemas`
#[utoipa::path(get, path = "/scim/v2/Schemas", tag = "SCIM",
    security(("ScimBearer" = [])),
    responses((status = 200, description = "The core User schema (the attributes we keep) and the enterprise extension", content_type = "application/scim+json", body = Object),
              (status = 401, description = "No SCIM client token, or not one of ours", content_type = "application/scim+json", body = documents::Error)))]
pub async fn schemas(_caller: ScimCaller, services: web::Data<Services>) -> HttpResponse {
    scim(
        StatusCode::OK,
        &list(vec![user_schema(&services), enterprise_schema(&services)]),
    )
}

/// `GET /scim/v2/Schemas/{id}`
#[utoipa::path(get, path = "/scim/v2/Schemas/{id}", tag = "SCIM",
    security(("ScimBearer" = [])),
    params(("id" = String, Path, description = "A schema's URN")),
    responses((status = 200, description = "The schema", content_type = "application/scim+json", body = Object),
              (status = 401, description = "No SCIM client token, or not one of ours", content_type = "application/scim+json", body = documents::Error),
              (status = 404, description = "No such schema", content_type = "application/scim+json", body = documents::Error)))]
pub async fn schema(
    _caller: ScimCaller,
    services: web::Data<Services>,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimHttpError> {
    match id.as_str() {
        USER_SCHEMA => Ok(scim(StatusCode::OK, &user_schema(&services))),
        ENTERPRISE_SCHEMA => Ok(scim(StatusCode::OK, &enterprise_schema(&services))),
        _ => Err(ScimError::status(404, "no such schema").into()),
    }
}
