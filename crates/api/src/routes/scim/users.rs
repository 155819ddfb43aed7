//! `/scim/v2/Users`: create, read, list (filter, paging, attribute selection), replace, patch,
//! delete. `meta.version` is the ETag; `If-Match` with another version is 412.

use super::{documents, scim, user_id, ScimBody, ScimCaller, ScimHttpError};
use crate::http::request_id::request_context;
use crate::services::scim::MAX_RESULTS;
use crate::services::Services;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use domain::scim::filter::{attr_path, AttrPath, Filter};
use domain::scim::user::ScimUser;
use domain::scim::{ScimError, ScimType, ENTERPRISE_SCHEMA, LIST_SCHEMA, USER_SCHEMA_LOWER};
use serde_json::{json, Map, Value};

/// `If-Match`, unless absent or `*` (any version).
fn if_match(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::IF_MATCH)?.to_str().ok()?.trim();
    (value != "*").then(|| value.to_owned())
}

/// Which attributes a response carries (`attributes` or `excludedAttributes`).
enum Selection {
    All,
    Only(Vec<AttrPath>),
    Except(Vec<AttrPath>),
}

/// A comma-separated list of attribute paths (spaces around each allowed).
fn paths(list: &str) -> Result<Vec<AttrPath>, ScimError> {
    list.split(',')
        .map(|p| p.trim_matches(' '))
        .map(|p| attr_path(p).map_err(|e| ScimError::bad(ScimType::InvalidPath, e.0)))
        .collect()
}

impl Selection {
    /// An empty list is no list, as an empty filter is no filter. Both lists are read (and a
    /// bad path in either refused); `attributes` wins when both are given.
    fn of(params: &[(String, String)]) -> Result<Self, ScimError> {
        let given = |name| {
            param(params, name)
                .filter(|l| !l.trim_matches(' ').is_empty())
                .map(paths)
                .transpose()
        };
        let only = given("attributes")?;
        let except = given("excludedAttributes")?;
        Ok(match (only, except) {
            (Some(only), _) => Self::Only(only),
            (None, Some(except)) => Self::Except(except),
            (None, None) => Self::All,
        })
    }

    /// `resource` with what is selected; `id`, `schemas` and `meta` always stay (RFC 7643
    /// §7: returned "always"), as does `userName` when it is asked for by path only.
    fn apply(&self, resource: Value) -> Value {
        let Value::Object(resource) = resource else {
            return resource;
        };
        let always = ["id", "schemas", "meta"];
        let keep = |key: &str, sub: Option<&str>, list: &[AttrPath]| {
            list.iter().any(|p| {
                let core = p.schema.as_deref().is_none_or(|s| s == USER_SCHEMA_LOWER);
                let name_matches = if key.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) {
                    p.schema.as_deref() == Some(&ENTERPRISE_SCHEMA.to_ascii_lowercase())
                        && sub.is_none_or(|s| p.name.eq_ignore_ascii_case(s))
                } else {
                    core && p.name.eq_ignore_ascii_case(key)
                };
                name_matches
            })
        };
        let mut out = Map::new();
        for (key, value) in resource {
            if always.contains(&key.as_str()) {
                out.insert(key, value);
                continue;
            }
            match self {
                Self::All => {
                    out.insert(key, value);
                }
                Self::Only(list) => {
                    if keep(&key, None, list) {
                        out.insert(key, value);
                    }
                }
                Self::Except(list) => {
                    // Excluding a whole attribute only (a sub-attribute path keeps its parent).
                    let whole: Vec<AttrPath> =
                        list.iter().filter(|p| p.sub.is_none()).cloned().collect();
                    if key.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) {
                        if let Value::Object(ext) = value {
                            let kept: Map<String, Value> = ext
                                .into_iter()
                                .filter(|(k, _)| !keep(&key, Some(k), &whole))
                                .collect();
                            if !kept.is_empty() {
                                out.insert(key, Value::Object(kept));
                            }
                        }
                    } else if !keep(&key, None, &whole) {
                        out.insert(key, value);
                    }
                }
            }
        }
        Value::Object(out)
    }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn query(req: &HttpRequest) -> Result<Vec<(String, String)>, ScimError> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|_| ScimError::bad(ScimType::InvalidValue, "the query string does not read"))
}

fn number(params: &[(String, String)], name: &str, default: usize) -> Result<usize, ScimError> {
    match param(params, name) {
        None => Ok(default),
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(n) => Ok(usize::try_from(n.max(0)).unwrap_or(0)),
            Err(_) => Err(ScimError::bad(
                ScimType::InvalidValue,
                format!("{name} must be an integer"),
            )),
        },
    }
}

/// The user's resource, with `Location` and `ETag`.
fn one(
    status: StatusCode,
    services: &Services,
    user: &ScimUser,
    selection: &Selection,
) -> HttpResponse {
    let location = services.scim_location(&user.id.0.to_string());
    let mut response = scim(status, &selection.apply(user.resource(&location)));
    if let Ok(etag) = HeaderValue::from_str(&user.version()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    if status == StatusCode::CREATED {
        if let Ok(location) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, location);
        }
    }
    response
}

fn scim_refusal<T>(outcome: Result<T, ScimError>) -> Result<T, ScimHttpError> {
    outcome.map_err(ScimHttpError::from)
}

/// `POST /scim/v2/Users`
#[utoipa::path(post, path = "/scim/v2/Users", tag = "SCIM", security(("ScimBearer" = [])),
    request_body(content = documents::UserRequest, content_type = "application/scim+json", description = "A User (RFC 7643 §4.1); userName required"),
    responses((status = 201, description = "Created; Location and ETag name it", content_type = "application/scim+json", body = documents::User),
              (status = 400, description = "Not a User (scimType invalidValue, invalidSyntax, tooMany)", content_type = "application/scim+json", body = documents::Error),
              (status = 401, description = "No SCIM client token, or not one of ours", content_type = "application/scim+json", body = documents::Error),
              (status = 409, description = "userName or an address is another user's (scimType uniqueness)", content_type = "application/scim+json", body = documents::Error),
              (status = 413, description = "The body is larger than 1 MiB", content_type = "application/scim+json", body = documents::Error)))]
pub async fn create_user(
    req: HttpRequest,
    caller: ScimCaller,
    services: web::Data<Services>,
    body: ScimBody,
) -> Result<HttpResponse, ScimHttpError> {
    let user = scim_refusal(
        services
            .scim_create_user(&caller.0, body.0, request_context(&req))
            .await?,
    )?;
    Ok(one(StatusCode::CREATED, &services, &user, &Selection::All))
}

/// `GET /scim/v2/Users/{id}`
#[utoipa::path(get, path = "/scim/v2/Users/{id}", tag = "SCIM", security(("ScimBearer" = [])),
    params(("id" = String, Path, description = "The user's id"),
           ("attributes" = Option<String>, Query, description = "Only these attributes (comma-separated)"),
           ("excludedAttributes" = Option<String>, Query, description = "All but these attributes")),
    responses((status = 200, description = "The user; ETag is its version", content_type = "application/scim+json", body = documents::User),
              (status = 400, description = "An attribute name that is not one (scimType invalidPath)", content_type = "application/scim+json", body = documents::Error),
              (status = 401, description = "No SCIM client token, or not one of ours", content_type = "application/scim+json", body = documents::Error),
              (status = 404, description = "No such user (or one being deleted)", content_type = "application/scim+json", body = documents::Error)))]
pub async fn get_user(
    req: HttpRequest,
    _caller: ScimCaller,
    services: web::Data<Services>,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimHttpError> {
    let id = user_id(&id)?;
    let selection = Selection::of(&query(&req)?)?;
    match services.scim_user(id).await? {
        Some(user) => Ok(one(StatusCode::OK, &services, &user, &selection)),
        None => Err(ScimError::status(404, "no such user").into()),
    }
}

/// `GET /scim/v2/Users`
#[utoipa::path(get, path = "/scim/v2/Users", tag = "SCIM", security(("ScimBearer" = [])),
    params(("filter" = Option<String>, Query, description = "RFC 7644 §3.4.2.2, e.g. userName eq \"bjensen\""),
           ("startIndex" = Option<i64>, Query, description = "1-based index of the first result"),
           ("count" = Option<i64>, Query, description = "At most this many results (at most 200)"),
           ("attributes" = Option<String>, Query, description = "Only these attributes (comma-separated)"),
           ("excludedAttributes" = Option<String>, Query, description = "All but these attributes")),
    responses((status = 200, description = "A ListResponse", content_type = "application/scim+json", body = documents::ListResponse),
              (status = 400, description = "A filter that does not parse (scimType invalidFilter), a bad number (invalidValue)", content_type = "application/scim+json", body = documents::Error),
              (status = 401, description = "No SCIM client token, or not one of ours", content_type = "application/scim+json", body = documents::Error)))]
pub async fn list_users(
    req: HttpRequest,
    _caller: ScimCaller,
    services: web::Data<Services>,
) -> Result<HttpResponse, ScimHttpError> {
    listing(&services, &query(&req)?).await
}

/// Whether an integral `f`, a JSON number that was no i64 as written, is an int64: strictly
/// between -2^63 and 2^63. -2^63 is left out: an integer beyond int64 (say -2^63 - 1) rounds to
/// it as an f64, while -2^63 itself, written as an integer, was already taken as an i64.
fn in_int64(f: f64) -> bool {
    const TWO_POW_63: f64 = 9.223_372_036_854_776e18;
    f > -TWO_POW_63 && f < TWO_POW_63
}

/// What a SearchRequest may say.
const SEARCH_MEMBERS: [&str; 5] = [
    "filter",
    "startIndex",
    "count",
    "attributes",
    "excludedAttributes",
];

/// `POST /scim/v2/Users/.search` and `POST /scim/v2/.search` (RFC 7644 §3.4.3): the query of
/// `GET /Users` as a `SearchRequest` body (Users are the only resources, so the root search is
/// theirs).
#[utoipa::path(post, path = "/scim/v2/Users/.search", tag = "SCIM", security(("ScimBearer" = [])),
    request_body(content = documents::SearchRequest, content_type = "application/scim+json", description = "A SearchRequest: filter, startIndex, count, attributes, excludedAttributes"),
    responses((status = 200, description = "A ListResponse", content_type = "application/scim+json", body = documents::ListResponse),
              (status = 400, description = "A filter that does not parse (scimType invalidFilter), a bad value (invalidValue)", content_type = "application/scim+json", body = documents::Error),
              (status = 401, description = "No SCIM client token, or not one of ours", content_type = "application/scim+json", body = documents::Error)))]
pub async fn search_users(
    _caller: ScimCaller,
    services: web::Data<Services>,
    body: ScimBody,
) -> Result<HttpResponse, ScimHttpError> {
    let Value::Object(request) = body.0 else {
        return Err(
            ScimError::bad(ScimType::InvalidSyntax, "a SearchRequest is a JSON object").into(),
        );
    };
    domain::scim::user::check_schemas(&request)?;
    // The members RFC 7644 §3.4.3 defines, as query parameters; any other is ignored.
    let mut params = Vec::new();
    for name in SEARCH_MEMBERS {
        let Some(value) = domain::scim::user::member(&request, name) else {
            continue;
        };
        let wrong = || ScimError::bad(ScimType::InvalidValue, format!("{name}: not a value here"));
        let text = match (name, value) {
            (_, Value::Null) => continue,
            ("filter", Value::String(s)) => s.clone(),
            // JSON numbers: `2` and `2.0` are the same integer (JSON Schema's `integer` takes
            // both), within int64 as the OpenAPI document says; beyond it, 400.
            ("startIndex" | "count", Value::Number(n)) => match n.as_i64() {
                Some(i) => i.to_string(),
                None => match n.as_f64().filter(|f| f.fract() == 0.0 && in_int64(*f)) {
                    Some(f) => (f as i64).to_string(),
                    None => return Err(wrong().into()),
                },
            },
            // Each item one path (the query's comma-separated form is made of them).
            ("attributes" | "excludedAttributes", Value::Array(items)) => {
                let mut list = Vec::with_capacity(items.len());
                for item in items {
                    let path = item.as_str().ok_or_else(wrong)?;
                    if path.contains(',') || attr_path(path).is_err() {
                        return Err(ScimError::bad(
                            ScimType::InvalidPath,
                            format!("{name}: {path:?} is not an attribute path"),
                        )
                        .into());
                    }
                    list.push(path);
                }
                list.join(",")
            }
            _ => return Err(wrong().into()),
        };
        params.push((name.to_owned(), text));
    }
    listing(&services, &params).await
}

/// `POST /scim/v2/.search`: the root search, which is the Users' one.
#[utoipa::path(post, path = "/scim/v2/.search", tag = "SCIM", security(("ScimBearer" = [])),
    request_body(content = documents::SearchRequest, content_type = "application/scim+json", description = "A SearchRequest, as for /Users/.search"),
    responses((status = 200, description = "A ListResponse of Users", content_type = "application/scim+json", body = documents::ListResponse),
              (status = 400, description = "A filter that does not parse (scimType invalidFilter), a bad value (invalidValue)", content_type = "application/scim+json", body = documents::Error),
              (status = 401, description = "No SCIM client token, or not one of ours", content_type = "application/scim+json", body = documents::Error)))]
pub async fn search_everything(
    caller: ScimCaller,
    services: web::Data<Services>,
    body: ScimBody,
) -> Result<HttpResponse, ScimHttpError> {
    search_users(caller, services, body).await
}

/// The `ListResponse` for a query's parameters.
async fn listing(
    services: &Services,
    params: &[(String, String)],
) -> Result<HttpResponse, ScimHttpError> {
    let params = params.to_vec();
    // An empty filter is no filter.
    let filter = param(&params, "filter")
        .filter(|f| !f.trim().is_empty())
        .map(Filter::parse)
        .transpose()
        .map_err(ScimError::from)?;
    let start_index = number(&params, "startIndex", 1)?;
    let count = number(&params, "count", MAX_RESULTS)?;
    let selection = Selection::of(&params)?;
    let page = services.scim_users(filter, start_index, count).await?;
    let resources: Vec<Value> = page
        .users
        .iter()
        .map(|u| selection.apply(u.resource(&services.scim_location(&u.id.0.to_string()))))
        .collect();
    Ok(scim(
        StatusCode::OK,
        &json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": page.total,
            "itemsPerPage": resources.len(),
            "startIndex": page.start_index,
            "Resources": resources,
        }),
    ))
}

/// `PUT /scim/v2/Users/{id}`
#[utoipa::path(put, path = "/scim/v2/Users/{id}", tag = "SCIM", security(("ScimBearer" = [])),
    params(("id" = String, Path, description = "The user's id"),
           ("If-Match" = Option<String>, Header, description = "The version replaced (412 if it is no longer the user's)")),
    request_body(content = documents::UserRequest, content_type = "application/scim+json", description = "The whole User; active false deactivates"),
    responses((status = 200, description = "Replaced", content_type = "application/scim+json", body = documents::User),
              (status = 400, description = "Not a User", content_type = "application/scim+json", body = documents::Error),
              (status = 401, description = "No SCIM client token, or not one of ours", content_type = "application/scim+json", body = documents::Error),
              (status = 404, description = "No such user", content_type = "application/scim+json", body = documents::Error),
              (status = 409, description = "userName or an address is another user's (scimType uniqueness)", content_type = "application/scim+json", body = documents::Error),
              (status = 412, description = "If-Match names another version", content_type = "application/scim+json", body = documents::Error)))]
pub async fn replace_user(
    req: HttpRequest,
    caller: ScimCaller,
    services: web::Data<Services>,
    id: web::Path<String>,
    body: ScimBody,
) -> Result<HttpResponse, ScimHttpError> {
    let id = user_id(&id)?;
    let user = scim_refusal(
        services
            .scim_replace_user(&caller.0, id, body.0, if_match(&req), request_context(&req))
            .await?,
    )?;
    Ok(one(StatusCode::OK, &services, &user, &Selection::All))
}

/// `PATCH /scim/v2/Users/{id}`
#[utoipa::path(patch, path = "/scim/v2/Users/{id}", tag = "SCIM", security(("ScimBearer" = [])),
    params(("id" = String, Path, description = "The user's id"),
           ("If-Match" = Option<String>, Header, description = "The version patched (412 if it is no longer the user's)")),
    request_body(content = documents::PatchRequest, content_type = "application/scim+json", description = "A PatchOp (RFC 7644 §3.5.2): add, replace, remove, with or without path"),
    responses((status = 200, description = "Patched", content_type = "application/scim+json", body = documents::User),
              (status = 400, description = "A bad operation (scimType invalidSyntax, invalidPath, noTarget, mutability, invalidValue)", content_type = "application/scim+json", body = documents::Error),
              (status = 401, description = "No SCIM client token, or not one of ours", content_type = "application/scim+json", body = documents::Error),
              (status = 404, description = "No such user", content_type = "application/scim+json", body = documents::Error),
              (status = 409, description = "userName or an address is another user's (scimType uniqueness)", content_type = "application/scim+json", body = documents::Error),
              (status = 412, description = "If-Match names another version", content_type = "application/scim+json", body = documents::Error)))]
pub async fn patch_user(
    req: HttpRequest,
    caller: ScimCaller,
    services: web::Data<Services>,
    id: web::Path<String>,
    body: ScimBody,
) -> Result<HttpResponse, ScimHttpError> {
    let id = user_id(&id)?;
    let user = scim_refusal(
        services
            .scim_patch_user(&caller.0, id, body.0, if_match(&req), request_context(&req))
            .await?,
    )?;
    Ok(one(StatusCode::OK, &services, &user, &Selection::All))
}

/// `DELETE /scim/v2/Users/{id}`
#[utoipa::path(delete, path = "/scim/v2/Users/{id}", tag = "SCIM", security(("ScimBearer" = [])),
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 204, description = "Deleted, or scheduled (grace period, legal hold); the user is then 404 here"),
              (status = 401, description = "No SCIM client token, or not one of ours", content_type = "application/scim+json", body = documents::Error),
              (status = 404, description = "No such user", content_type = "application/scim+json", body = documents::Error)))]
pub async fn delete_user(
    req: HttpRequest,
    caller: ScimCaller,
    services: web::Data<Services>,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimHttpError> {
    let id = user_id(&id)?;
    scim_refusal(
        services
            .scim_delete_user(&caller.0, id, request_context(&req))
            .await?,
    )?;
    Ok(HttpResponse::NoContent().finish())
}
