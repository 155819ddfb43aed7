//! The API described by the code (OpenAPI 3.1): one document per listener, generated from the
//! handlers' own annotations and types, served at `/openapi.json`, and printed by
//! `api openapi public|admin` (the committed copies under `docs/` are that output).

use crate::http::error::ErrorBody;
use crate::routes::{admin, console, health, public, scim, ssf, views};
use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

/// The public listener's API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Hanko Public API (hanko-rs)",
        description = "The public API of hanko-rs: `DELETE /user` (the Hanko operation) and what it stands on. \
            Session tokens are JWTs (RS256, ES256 or EdDSA, the algorithm of the key their `kid` names), verified with the keys published at `/.well-known/jwks.json`, \
            accepted in the `hanko` cookie (CookieAuth) or as `Authorization: Bearer <JWT>` (BearerTokenAuth). \
            Every error is `{code, message}`.",
        license(name = "AGPL-3.0-or-later")
    ),
    paths(
        public::delete_user,
        public::me,
        public::get_user,
        public::export,
        public::logout,
        public::well_known_config,
        public::jwks_json,
        ssf::metadata,
        ssf::create_stream,
        ssf::get_streams,
        ssf::update_stream,
        ssf::replace_stream,
        ssf::delete_stream,
        ssf::get_status,
        ssf::set_status,
        ssf::add_subject,
        ssf::remove_subject,
        ssf::verify,
        ssf::poll,
        scim::discovery::service_provider_config,
        scim::discovery::resource_types,
        scim::discovery::resource_type,
        scim::discovery::schemas,
        scim::discovery::schema,
        scim::users::create_user,
        scim::users::list_users,
        scim::users::search_users,
        scim::users::search_everything,
        scim::users::get_user,
        scim::users::replace_user,
        scim::users::patch_user,
        scim::users::delete_user,
        health::alive,
        health::ready,
        openapi_json,
    ),
    components(schemas(ErrorBody)),
    modifiers(&PublicSecurity),
    tags(
        (name = "User Management", description = "The current user"),
        (name = "Authentication", description = "Sessions"),
        (name = "Well-Known", description = "Published keys"),
        (name = "Configuration", description = "What frontends need"),
        (name = "Shared Signals", description = "The OpenID Shared Signals transmitter (with ssf.enabled)"),
        (name = "SCIM", description = "SCIM 2.0 provisioning (with scim.enabled); answers and errors are application/scim+json"),
        (name = "Health", description = "Probes"),
        (name = "API description", description = "This document"),
    )
)]
pub struct PublicApi;

/// The admin listener's API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "hanko-rs Admin API",
        description = "For operators and tests, on its own listener. When `server.admin.api_key` is set every \
            request but the health checks needs `Authorization: Bearer <api_key>` (ApiKeyAuth). Every error is \
            `{code, message}`.",
        license(name = "AGPL-3.0-or-later")
    ),
    paths(
        admin::users::create_user,
        admin::users::list_users,
        admin::users::get_user,
        admin::users::delete_user,
        admin::users::restore_user,
        admin::users::hold_user,
        admin::users::export_user,
        admin::retention::preview,
        admin::sessions::create_session,
        admin::sessions::list_sessions,
        admin::sessions::delete_session,
        admin::sessions::delete_sessions,
        admin::audit::list_audit_logs,
        admin::deliveries::list_deliveries,
        admin::deliveries::retry_deliveries,
        admin::keys::rotate_key,
        admin::keys::list_keys,
        admin::operations::metrics,
        admin::receivers::create,
        admin::receivers::list,
        admin::receivers::delete,
        admin::scim_clients::create,
        admin::scim_clients::list,
        admin::scim_clients::revoke,
        console::page,
        console::script,
        console::style,
        health::alive,
        health::ready,
        openapi_json,
    ),
    components(schemas(ErrorBody, views::UserView, admin::users::UserStatusParam, admin::deliveries::DeliveryStatusParam)),
    modifiers(&AdminSecurity),
    tags(
        (name = "Users"), (name = "Sessions"), (name = "Audit"), (name = "Webhooks"),
        (name = "Keys"), (name = "Shared Signals"), (name = "SCIM"), (name = "Operations"), (name = "Console"), (name = "Health"),
        (name = "API description"),
    )
)]
pub struct AdminApi;

struct PublicSecurity;

impl Modify for PublicSecurity {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "CookieAuth",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "hanko",
                "The session JWT in the `hanko` cookie",
            ))),
        );
        components.add_security_scheme(
            "ReceiverAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An SSF receiver's token (admin `POST /ssf/receivers`)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "ScimBearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A SCIM client's token (admin `POST /scim/clients`)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "BearerTokenAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("`Authorization: Bearer <JWT>`"))
                    .build(),
            ),
        );
    }
}

struct AdminSecurity;

impl Modify for AdminSecurity {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "ApiKeyAuth",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`Authorization: Bearer <server.admin.api_key>`"))
                    .build(),
            ),
        );
    }
}

/// Which listener's document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    Public,
    Admin,
}

/// The whole document of a listener, as committed under `docs/`.
pub fn document(listener: Listener) -> Document {
    match listener {
        Listener::Public => PublicApi::openapi(),
        Listener::Admin => AdminApi::openapi(),
    }
}

/// What a public listener mounts beyond its fixed routes.
#[derive(Clone, Copy, Debug)]
pub struct Mounted {
    pub allow_deletion: bool,
    pub ssf: bool,
    pub scim: bool,
}

impl Mounted {
    /// Everything (the admin listener's document, the committed ones).
    pub const ALL: Self = Self {
        allow_deletion: true,
        ssf: true,
        scim: true,
    };
}

/// The document a running listener serves: without `DELETE /user`, the Shared Signals
/// transmitter or SCIM when they are not mounted.
pub fn served(listener: Listener, mounted: Mounted) -> Document {
    let mut doc = document(listener);
    let allow_deletion = mounted.allow_deletion;
    if listener == Listener::Public && !mounted.ssf {
        doc.paths.paths.retain(|path, _| {
            !(path.starts_with("/ssf/") || path == "/.well-known/ssf-configuration")
        });
    }
    if listener == Listener::Public && !mounted.scim {
        doc.paths
            .paths
            .retain(|path, _| !path.starts_with("/scim/"));
    }
    if listener == Listener::Public && !allow_deletion {
        if let Some(item) = doc.paths.paths.get_mut("/user") {
            item.delete = None;
        }
        doc.paths.paths.retain(|_, item| {
            item.get.is_some() || item.post.is_some() || item.put.is_some() || item.delete.is_some()
        });
    }
    doc
}

/// Pretty JSON, as committed and served.
pub fn to_json(doc: &Document) -> String {
    let rendered = serde_json::to_value(doc).map(|mut value| {
        add_json_schema_rules(&mut value);
        value
    });
    rendered
        .and_then(|value| serde_json::to_string_pretty(&value))
        .unwrap_or_else(|e| format!("{{\"error\": \"cannot render the document: {e}\"}}"))
}

/// Two validation rules of a new user that utoipa's schema model cannot hold (it keeps only
/// `x-` extensions), written into the JSON: an address matches exactly what
/// [`domain::email::is_email`] accepts, and at most one address is primary (JSON Schema
/// 2020-12 `contains` with `maxContains`).
fn add_json_schema_rules(doc: &mut serde_json::Value) {
    let schemas = &mut doc["components"]["schemas"];
    if let Some(address) = schemas
        .pointer_mut("/CreateEmail/properties/address")
        .and_then(serde_json::Value::as_object_mut)
    {
        address.insert("pattern".into(), domain::email::EMAIL_PATTERN.into());
        address.insert("maxLength".into(), domain::email::MAX_EMAIL_LEN.into());
    }
    if let Some(emails) = schemas
        .pointer_mut("/CreateUser/properties/emails")
        .and_then(serde_json::Value::as_object_mut)
    {
        emails.insert(
            "contains".into(),
            serde_json::json!({
                "type": "object",
                "properties": {"is_primary": {"const": true}},
                "required": ["is_primary"]
            }),
        );
        emails.insert("minContains".into(), 0.into());
        emails.insert("maxContains".into(), 1.into());
    }
    add_scim_rules(doc);
}

/// The same for SCIM's documents (`routes::scim::documents`): addresses and at most one
/// primary as above, a `userName` with something other than white space, and attribute paths
/// as [`domain::scim::filter::attr_path`] reads them.
fn add_scim_rules(doc: &mut serde_json::Value) {
    use serde_json::{json, Value};
    let path = domain::scim::filter::ATTR_PATH_PATTERN;
    let one_path = format!("^{path}$");
    // Empty (no selection), or paths separated by commas, spaces around each.
    let path_list = format!("^( *{path} *(, *{path} *)*)?$");
    let set = |doc: &mut Value, pointer: &str, rules: Value| {
        if let (Some(target), Value::Object(rules)) = (
            doc.pointer_mut(pointer).and_then(Value::as_object_mut),
            rules,
        ) {
            target.extend(rules);
        }
    };
    let schemas = "/components/schemas";
    set(
        doc,
        &format!("{schemas}/ScimEmailRequest/properties/value"),
        json!({"pattern": domain::email::EMAIL_PATTERN, "maxLength": domain::email::MAX_EMAIL_LEN}),
    );
    set(
        doc,
        &format!("{schemas}/ScimUserRequest/properties/userName"),
        json!({"pattern": "\\S"}),
    );
    set(
        doc,
        &format!("{schemas}/ScimUserRequest/properties/emails"),
        json!({
            "contains": {"type": "object", "properties": {"primary": {"const": true}}, "required": ["primary"]},
            "minContains": 0,
            "maxContains": 1
        }),
    );
    for list in ["attributes", "excludedAttributes"] {
        set(
            doc,
            &format!("{schemas}/ScimSearchRequest/properties/{list}/items"),
            json!({"pattern": one_path}),
        );
    }
    set(
        doc,
        &format!("{schemas}/ScimPatchMembers"),
        json!({"propertyNames": {"pattern": format!("^{}$", domain::scim::filter::MEMBER_PATH_PATTERN)}}),
    );
    // The query's `attributes` and `excludedAttributes`, wherever an operation takes them.
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        for operation in item.values_mut() {
            let Some(params) = operation
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            for param in params {
                let name = param.get("name").and_then(Value::as_str);
                if matches!(name, Some("attributes" | "excludedAttributes")) {
                    if let Some(schema) = param.get_mut("schema").and_then(Value::as_object_mut) {
                        schema.insert("pattern".into(), path_list.clone().into());
                    }
                }
            }
        }
    }
}

/// The serialised document of a listener, rendered once at start-up.
#[derive(Clone)]
pub struct ServedDocument(pub web::Bytes);

/// `GET /openapi.json`: the listener's own document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "getOpenApi",
    tag = "API description",
    summary = "This listener's OpenAPI 3.1 document",
    responses((status = 200, description = "The document", content_type = "application/json", body = Object))
)]
pub async fn openapi_json(doc: web::Data<ServedDocument>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}
