//! `PATCH /Users/{id}` (RFC 7644 §3.5.2): operations applied to the resource as we show it, in
//! order; the result is read again as a whole User ([`super::user::UserInput`]), so a patch can
//! never leave what a `PUT` could not. Operation names are case-insensitive (Entra ID sends
//! `"Replace"`); an operation without a path takes an object whose members are paths (Okta's
//! `{"op":"replace","value":{"active":false}}`, Entra's `"name.givenName"` keys). An attribute
//! we do not keep is accepted and ignored.

use super::filter::{attr_path, AttrPath, CompValue, CompareOp, Filter};
use super::user::{check_schemas, member};
use super::{ScimError, ScimType, ENTERPRISE_SCHEMA, USER_SCHEMA_LOWER};
use serde_json::{Map, Value};

/// The most operations one request may carry.
pub const MAX_OPERATIONS: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Add,
    Replace,
    Remove,
}

/// Where an operation points: an attribute, the elements a value filter selects, a
/// sub-attribute of those (or of a complex attribute).
#[derive(Clone, Debug)]
struct Target {
    attr: AttrPath,
    filter: Option<Filter>,
    sub: Option<String>,
}

/// The attributes we keep, lowercased → as RFC 7643 spells them; the enterprise extension's
/// apart. What is not here is ignored.
const CORE: [(&str, &str); 6] = [
    ("username", "userName"),
    ("externalid", "externalId"),
    ("active", "active"),
    ("displayname", "displayName"),
    ("name", "name"),
    ("emails", "emails"),
];
const ENTERPRISE: [(&str, &str); 6] = [
    ("employeenumber", "employeeNumber"),
    ("costcenter", "costCenter"),
    ("organization", "organization"),
    ("division", "division"),
    ("department", "department"),
    ("manager", "manager"),
];
const SUBS: [(&str, &str); 12] = [
    ("formatted", "formatted"),
    ("familyname", "familyName"),
    ("givenname", "givenName"),
    ("middlename", "middleName"),
    ("honorificprefix", "honorificPrefix"),
    ("honorificsuffix", "honorificSuffix"),
    ("value", "value"),
    ("type", "type"),
    ("primary", "primary"),
    ("display", "display"),
    ("displayname", "displayName"),
    ("$ref", "$ref"),
];
const READ_ONLY: [&str; 3] = ["id", "meta", "schemas"];

fn spelled(table: &[(&str, &'static str)], lower: &str) -> Option<&'static str> {
    table.iter().find(|(l, _)| *l == lower).map(|(_, s)| *s)
}

fn bad_path(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidPath, detail)
}

fn syntax(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidSyntax, detail)
}

/// Applies the `PatchOp` request `body` to `resource`; the patched resource.
pub fn apply(resource: &Value, body: &Value) -> Result<Value, ScimError> {
    let Value::Object(body) = body else {
        return Err(syntax("a PATCH body must be a JSON object"));
    };
    check_schemas(body)?;
    let operations = match member(body, "Operations") {
        Some(Value::Array(ops)) if !ops.is_empty() => ops,
        _ => return Err(syntax("Operations must be a non-empty list")),
    };
    if operations.len() > MAX_OPERATIONS {
        return Err(ScimError::bad(
            ScimType::TooMany,
            format!("at most {MAX_OPERATIONS} operations"),
        ));
    }
    let mut resource = resource.clone();
    for operation in operations {
        let Value::Object(operation) = operation else {
            return Err(syntax("each operation must be an object"));
        };
        let op = match member(operation, "op").and_then(Value::as_str) {
            Some(o) if o.eq_ignore_ascii_case("add") => Op::Add,
            Some(o) if o.eq_ignore_ascii_case("replace") => Op::Replace,
            Some(o) if o.eq_ignore_ascii_case("remove") => Op::Remove,
            _ => return Err(syntax("op must be add, replace or remove")),
        };
        let value = member(operation, "value");
        match member(operation, "path") {
            // The whole extension, by its URN.
            Some(Value::String(path)) if path.trim().eq_ignore_ascii_case(ENTERPRISE_SCHEMA) => {
                match (op, value) {
                    (Op::Remove, _) => {
                        if let Value::Object(root) = &mut resource {
                            root.retain(|k, _| !k.eq_ignore_ascii_case(ENTERPRISE_SCHEMA));
                        }
                    }
                    (_, Some(value)) => apply_member(&mut resource, op, ENTERPRISE_SCHEMA, value)?,
                    (_, None) => return Err(syntax("add and replace need a value")),
                }
            }
            Some(Value::String(path)) => {
                apply_at(&mut resource, op, &parse_path(path)?, value)?;
            }
            None | Some(Value::Null) => {
                if op == Op::Remove {
                    return Err(ScimError::bad(ScimType::NoTarget, "remove needs a path"));
                }
                let Some(Value::Object(members)) = value else {
                    return Err(syntax("an operation without a path needs an object value"));
                };
                for (key, value) in members {
                    apply_member(&mut resource, op, key, value)?;
                }
            }
            Some(_) => return Err(bad_path("path must be a string")),
        }
    }
    Ok(resource)
}

/// One member of a path-less operation's value: a path, or an extension's whole object.
fn apply_member(resource: &mut Value, op: Op, key: &str, value: &Value) -> Result<(), ScimError> {
    if key.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) {
        let Value::Object(members) = value else {
            return Err(ScimError::bad(
                ScimType::InvalidValue,
                "the enterprise extension must be an object",
            ));
        };
        for (name, value) in members {
            apply_member(resource, op, &format!("{ENTERPRISE_SCHEMA}:{name}"), value)?;
        }
        return Ok(());
    }
    if key.eq_ignore_ascii_case("schemas") {
        return Ok(()); // a provider restating the schemas changes nothing
    }
    apply_at(resource, op, &parse_path(key)?, Some(value))
}

/// `attr`, `attr.sub`, `urn:…:attr`, `attr[filter]`, `attr[filter].sub`.
fn parse_path(text: &str) -> Result<Target, ScimError> {
    let (head, filter, sub) = match text.find('[') {
        Some(open) => {
            let close = text
                .rfind(']')
                .filter(|c| *c > open)
                .ok_or_else(|| bad_path(format!("{text:?}: '[' is not closed")))?;
            let filter = Filter::parse(&text[open + 1..close])
                .map_err(|e| bad_path(format!("{text:?}: {e}")))?;
            let rest = &text[close + 1..];
            let sub = match rest.strip_prefix('.') {
                Some(sub) if !sub.is_empty() => Some(sub.to_ascii_lowercase()),
                None if rest.is_empty() => None,
                _ => return Err(bad_path(format!("{text:?}: unexpected {rest:?}"))),
            };
            (&text[..open], Some(filter), sub)
        }
        None => (text, None, None),
    };
    let attr = attr_path(head.trim()).map_err(|e| bad_path(e.0))?;
    if filter.is_some() && attr.sub.is_some() {
        return Err(bad_path(format!(
            "{text:?}: a filter applies to an attribute"
        )));
    }
    let (attr, sub) = match (attr.sub.clone(), sub) {
        (Some(s), None) => (AttrPath { sub: None, ..attr }, Some(s)),
        (None, sub) => (attr, sub),
        (Some(_), Some(_)) => return Err(bad_path(format!("{text:?}"))),
    };
    Ok(Target { attr, filter, sub })
}

/// An object holding an attribute, and the attribute's spelling.
type Holder<'a> = (&'a mut Map<String, Value>, &'static str);

/// The object that holds `attr` (the resource, or its enterprise extension, made if needed)
/// and the attribute's spelling; `None` for an attribute we do not keep.
fn holder<'a>(
    resource: &'a mut Value,
    attr: &AttrPath,
    make: bool,
) -> Result<Option<Holder<'a>>, ScimError> {
    let enterprise = ENTERPRISE_SCHEMA.to_ascii_lowercase();
    let in_enterprise = match attr.schema.as_deref() {
        None => false,
        Some(s) if s == USER_SCHEMA_LOWER => false,
        Some(s) if s == enterprise => true,
        // Another extension (a provider's custom attributes): not kept, so ignored, as a
        // `POST` ignores it.
        Some(_) => return Ok(None),
    };
    if !in_enterprise && READ_ONLY.contains(&attr.name.as_str()) {
        return Err(ScimError::bad(
            ScimType::Mutability,
            format!("{} is read-only", attr.name),
        ));
    }
    let table: &[(&str, &'static str)] = if in_enterprise { &ENTERPRISE } else { &CORE };
    let Some(name) = spelled(table, &attr.name) else {
        return Ok(None);
    };
    let Value::Object(root) = resource else {
        return Ok(None);
    };
    if !in_enterprise {
        return Ok(Some((root, name)));
    }
    let key = root
        .keys()
        .find(|k| k.eq_ignore_ascii_case(ENTERPRISE_SCHEMA))
        .cloned()
        .unwrap_or_else(|| ENTERPRISE_SCHEMA.to_owned());
    if !root.contains_key(&key) {
        if !make {
            return Ok(None);
        }
        root.insert(key.clone(), Value::Object(Map::new()));
    }
    match root.get_mut(&key) {
        Some(Value::Object(ext)) => Ok(Some((ext, name))),
        _ => Ok(None),
    }
}

/// The existing key spelled `name` in any case, else `name`.
fn key_of(object: &Map<String, Value>, name: &str) -> String {
    object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

fn apply_at(
    resource: &mut Value,
    op: Op,
    target: &Target,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let value = match (op, value) {
        (Op::Remove, _) => None,
        (_, Some(v)) => Some(v),
        (_, None) => return Err(syntax("add and replace need a value")),
    };
    let Some((object, name)) = holder(resource, &target.attr, op != Op::Remove)? else {
        return Ok(()); // an attribute we do not keep
    };
    let key = key_of(object, name);
    let sub = match &target.sub {
        Some(lower) => match spelled(&SUBS, lower) {
            Some(s) => Some(s),
            None => return Ok(()),
        },
        None => None,
    };
    match (&target.filter, sub) {
        (None, None) => whole(object, key, op, value),
        (None, Some(sub)) => {
            if op == Op::Remove {
                if let Some(Value::Object(complex)) = object.get_mut(&key) {
                    let sub_key = key_of(complex, sub);
                    complex.remove(&sub_key);
                }
                return Ok(());
            }
            let entry = object
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
            match entry {
                Value::Object(complex) => {
                    let sub_key = key_of(complex, sub);
                    complex.insert(sub_key, value.cloned().unwrap_or(Value::Null));
                    Ok(())
                }
                _ => Err(bad_path(format!("{name} has no sub-attributes"))),
            }
        }
        (Some(filter), sub) => filtered(object, key, filter, sub, op, value),
    }
}

/// An operation on a whole attribute.
fn whole(
    object: &mut Map<String, Value>,
    key: String,
    op: Op,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let Some(value) = value else {
        object.remove(&key);
        return Ok(());
    };
    let multi = key.eq_ignore_ascii_case("emails");
    match (op, object.get_mut(&key), value) {
        // Add to a list appends (an element or several).
        (Op::Add, Some(Value::Array(items)), new) if multi => {
            match new {
                Value::Array(more) => items.extend(more.iter().cloned()),
                one => items.push(one.clone()),
            }
            Ok(())
        }
        // A complex attribute's sub-attributes merge; those not given stay.
        (_, Some(Value::Object(complex)), Value::Object(new)) => {
            for (k, v) in new {
                let k = key_of(complex, k);
                complex.insert(k, v.clone());
            }
            Ok(())
        }
        (_, _, new) => {
            let new = match new {
                Value::Array(_) => new.clone(),
                one if multi => Value::Array(vec![one.clone()]),
                one => one.clone(),
            };
            object.insert(key, new);
            Ok(())
        }
    }
}

/// An operation on the elements of a list that `filter` selects (or on their `sub`).
fn filtered(
    object: &mut Map<String, Value>,
    key: String,
    filter: &Filter,
    sub: Option<&'static str>,
    op: Op,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let items = match object.get_mut(&key) {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) if op != Op::Remove => {
            object.insert(key.clone(), Value::Array(Vec::new()));
            match object.get_mut(&key) {
                Some(Value::Array(items)) => items,
                _ => return Ok(()),
            }
        }
        None | Some(Value::Null) => return Ok(()),
        Some(_) => return Err(bad_path(format!("{key} is not a list"))),
    };
    if op == Op::Remove {
        match sub {
            None => items.retain(|item| !filter.matches(item)),
            Some(sub) => {
                for item in items.iter_mut().filter(|i| filter.matches(i)) {
                    if let Value::Object(element) = item {
                        let k = key_of(element, sub);
                        element.remove(&k);
                    }
                }
            }
        }
        return Ok(());
    }
    let value = value.cloned().unwrap_or(Value::Null);
    let mut matched = false;
    for item in items.iter_mut().filter(|i| filter.matches(i)) {
        matched = true;
        if let Value::Object(element) = item {
            match (sub, &value) {
                (Some(sub), v) => {
                    let k = key_of(element, sub);
                    element.insert(k, v.clone());
                }
                (None, Value::Object(new)) => {
                    for (k, v) in new {
                        let k = key_of(element, k);
                        element.insert(k, v.clone());
                    }
                }
                (None, _) => {
                    return Err(ScimError::bad(
                        ScimType::InvalidValue,
                        "a filtered element is replaced by an object",
                    ))
                }
            }
        }
    }
    if !matched {
        // No element yet (Entra ID adds `emails[type eq "work"].value` to a new user): one
        // made of the filter's equalities and the value.
        let Some(mut element) = equalities(filter) else {
            return Err(ScimError::bad(
                ScimType::NoTarget,
                "the filter selects no element and does not say how to make one",
            ));
        };
        match (sub, value) {
            (Some(sub), v) => {
                element.insert(sub.to_owned(), v);
            }
            (None, Value::Object(new)) => element.extend(new),
            (None, _) => {
                return Err(ScimError::bad(
                    ScimType::InvalidValue,
                    "a filtered element is replaced by an object",
                ))
            }
        }
        items.push(Value::Object(element));
    }
    Ok(())
}

/// `a eq "x" and b eq true` as `{"a": "x", "b": true}`; `None` for any other filter.
fn equalities(filter: &Filter) -> Option<Map<String, Value>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.schema.is_none() && path.sub.is_none() => {
            let name = spelled(&SUBS, &path.name)?;
            let value = match value {
                CompValue::String(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(_) | CompValue::Null => return None,
            };
            Some(Map::from_iter([(name.to_owned(), value)]))
        }
        Filter::And(a, b) => {
            let mut both = equalities(a)?;
            both.extend(equalities(b)?);
            Some(both)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::user::UserInput;
    use serde_json::json;

    fn resource() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "1",
            "userName": "bjensen",
            "active": true,
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
            "meta": {"resourceType": "User"}
        })
    }

    fn patched(ops: Value) -> UserInput {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
        let r = apply(&resource(), &body).unwrap_or_else(|e| panic!("{e:?}"));
        UserInput::from_resource(&r).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn refused(ops: Value) -> ScimError {
        apply(&resource(), &json!({"Operations": ops})).unwrap_err()
    }

    #[test]
    fn entra_ids_patches_apply() {
        // Microsoft's "Develop and plan provisioning for a SCIM endpoint": update user, disable.
        let input = patched(json!([
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "updated@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            {"op": "Add", "path": "externalId", "value": "ext-2"}
        ]));
        assert_eq!(input.emails[0].address, "updated@microsoft.com");
        assert_eq!(input.profile.0["name"]["familyName"], "updatedFamilyName");
        assert_eq!(input.external_id.as_deref(), Some("ext-2"));
        let input = patched(json!([{"op": "Replace", "path": "active", "value": "False"}]));
        assert!(!input.active);
    }

    #[test]
    fn oktas_patch_without_a_path_applies() {
        let input = patched(json!([{"op": "replace", "value": {"active": false}}]));
        assert!(!input.active);
        let input = patched(
            json!([{"op": "replace", "value": {"name.givenName": "Babs", "userName": "babs"}}]),
        );
        assert_eq!(input.profile.0["name"]["givenName"], "Babs");
        assert_eq!(input.user_name.as_deref(), Some("babs"));
    }

    #[test]
    fn a_filter_that_matches_nothing_adds_an_element() {
        let input = patched(json!([
            {"op": "add", "path": "emails[type eq \"home\"].value", "value": "h@example.com"}
        ]));
        assert_eq!(input.emails.len(), 2);
        assert_eq!(input.emails[1].kind.as_deref(), Some("home"));
    }

    #[test]
    fn remove_takes_attributes_sub_attributes_and_elements() {
        let input = patched(json!([
            {"op": "remove", "path": "name.givenName"},
            {"op": "remove", "path": "emails[type eq \"work\"]"}
        ]));
        assert_eq!(input.profile.0["name"], json!({"familyName": "Jensen"}));
        assert!(input.emails.is_empty());
    }

    #[test]
    fn the_enterprise_extension_is_patched_by_urn() {
        let input = patched(json!([
            {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Tour"},
            {"op": "replace", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "7"}}}
        ]));
        let ext = &input.profile.0[ENTERPRISE_SCHEMA];
        assert_eq!(
            (ext["department"].as_str(), ext["employeeNumber"].as_str()),
            (Some("Tour"), Some("7"))
        );
    }

    #[test]
    fn the_whole_extension_is_added_and_removed_by_its_urn() {
        let input = patched(json!([
            {"op": "add", "path": ENTERPRISE_SCHEMA, "value": {"department": "Tour", "division": "D"}}
        ]));
        assert_eq!(input.profile.0[ENTERPRISE_SCHEMA]["division"], "D");
        let input = patched(json!([
            {"op": "add", "path": ENTERPRISE_SCHEMA, "value": {"department": "Tour"}},
            {"op": "remove", "path": ENTERPRISE_SCHEMA}
        ]));
        assert!(!input.profile.0.contains_key(ENTERPRISE_SCHEMA));
    }

    #[test]
    fn removing_active_leaves_the_user_active_and_unsaid() {
        let input = patched(json!([{"op": "remove", "path": "active"}]));
        assert!(input.active);
        assert!(!input.profile.0.contains_key("active"));
    }

    proptest::proptest! {
        /// A path-less value whose members the published pattern describes is applied.
        #[test]
        fn members_of_the_published_pattern_apply(
            key in crate::scim::filter::MEMBER_PATH_PATTERN,
            value in proptest::prop_oneof![
                proptest::strategy::Just(json!("x")),
                proptest::strategy::Just(json!(null)),
                proptest::strategy::Just(json!(1))
            ],
        ) {
            let body = json!({"Operations": [{"op": "add", "value": {key.clone(): value}}]});
            let outcome = apply(&resource(), &body);
            // Known attributes take their own values (`name` a string is refused as a value,
            // not as a path); every other member is a path we read.
            proptest::prop_assert!(
                outcome.as_ref().map_or_else(|e| e.scim_type != Some(ScimType::InvalidPath), |_| true),
                "{} → {:?}", key, outcome
            );
        }
    }

    #[test]
    fn bad_patches_are_refused_with_their_scim_type() {
        assert_eq!(
            refused(json!([{"op": "replace", "path": "id", "value": "2"}])).scim_type,
            Some(ScimType::Mutability)
        );
        assert_eq!(
            refused(json!([{"op": "jump", "path": "userName", "value": "x"}])).scim_type,
            Some(ScimType::InvalidSyntax)
        );
        assert_eq!(
            refused(json!([{"op": "remove"}])).scim_type,
            Some(ScimType::NoTarget)
        );
        assert_eq!(
            refused(json!([{"op": "add", "path": "emails[type eq", "value": "x"}])).scim_type,
            Some(ScimType::InvalidPath)
        );
        assert_eq!(refused(json!([])).scim_type, Some(ScimType::InvalidSyntax));
        // An attribute we do not keep is ignored, not refused, in the core schema or another.
        for path in [
            "title",
            "urn:example:params:scim:schemas:extension:custom:2.0:User:badge",
        ] {
            let patched = apply(
                &resource(),
                &json!({"Operations": [{"op": "add", "path": path, "value": "x"}]}),
            );
            assert_eq!(patched.ok(), Some(resource()), "{path}");
        }
    }
}
