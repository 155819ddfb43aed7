//! SCIM filters (RFC 7644 §3.4.2.2): parsed into a [`Filter`], evaluated on a resource in its
//! SCIM form (a JSON object). Attribute names and operators are case-insensitive; string
//! comparisons are too, but for the attributes RFC 7643 marks `caseExact` (`id`,
//! `externalId`, `meta.version`). `not` binds tighter than `and`, which binds tighter than
//! `or`. A value path (`emails[type eq "work"]`) holds when one element of the attribute
//! satisfies the inner filter; `emails[type eq "work"].value eq "x"` is read as
//! `emails[type eq "work" and value eq "x"]`.

use serde_json::Value;

/// The longest filter we parse, and how deeply it may nest: beyond that a filter is refused
/// (400 `invalidFilter`) before it can cost more than a request's worth.
pub const MAX_FILTER_LEN: usize = 4096;
const MAX_DEPTH: usize = 32;

/// An attribute: an optional schema URN, a name, an optional sub-attribute (all lowercased).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrPath {
    pub schema: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Lt,
    Ge,
    Le,
}

#[derive(Clone, Debug, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attr[filter]`: one element of `attr` satisfies `filter` (whose paths are relative).
    ValuePath {
        attr: AttrPath,
        filter: Box<Filter>,
    },
}

/// Why a filter was refused: a SCIM `invalidFilter`, with what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidFilter(pub String);

fn invalid(what: impl Into<String>) -> InvalidFilter {
    InvalidFilter(what.into())
}

impl Filter {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Self, InvalidFilter> {
        if text.len() > MAX_FILTER_LEN {
            return Err(invalid(format!(
                "a filter may be at most {MAX_FILTER_LEN} bytes"
            )));
        }
        let tokens = tokenize(text)?;
        let mut parser = Parser { tokens, at: 0 };
        let filter = parser.or(0)?;
        match parser.peek() {
            None => Ok(filter),
            Some(t) => Err(invalid(format!("unexpected {}", t.describe()))),
        }
    }

    /// Whether `resource` (a SCIM resource as JSON) satisfies the filter.
    pub fn matches(&self, resource: &Value) -> bool {
        match self {
            // `ne` holds unless a value equals: an absent attribute is not equal to anything.
            Self::Compare {
                path,
                op: CompareOp::Ne,
                value,
            } => {
                !values_at(resource, path).any(|(v, exact)| compare(v, CompareOp::Eq, value, exact))
            }
            Self::Compare { path, op, value } => {
                values_at(resource, path).any(|(v, exact)| compare(v, *op, value, exact))
            }
            Self::Present(path) => values_at(resource, path).any(|(v, _)| present(v)),
            Self::And(a, b) => a.matches(resource) && b.matches(resource),
            Self::Or(a, b) => a.matches(resource) || b.matches(resource),
            Self::Not(f) => !f.matches(resource),
            Self::ValuePath { attr, filter } => match attribute(resource, attr) {
                Some(Value::Array(items)) => items.iter().any(|item| filter.matches(item)),
                Some(item @ Value::Object(_)) => filter.matches(item),
                _ => false,
            },
        }
    }

    /// An `eq` on `name` (a top-level attribute of the core schema, lowercased) that every
    /// matching resource must satisfy: what a store can look up by index before the filter is
    /// evaluated on the candidates. `emails.value` is asked for as `emails`.
    pub fn required_eq(&self, name: &str) -> Option<&str> {
        match self {
            Self::Compare {
                path,
                op: CompareOp::Eq,
                value: CompValue::String(s),
            } if is_core(path) && path.name == name => match (&path.sub, name) {
                (None, _) => Some(s),
                (Some(sub), "emails") if sub == "value" => Some(s),
                _ => None,
            },
            Self::ValuePath { attr, filter } if is_core(attr) && attr.name == name => {
                filter.required_eq("value")
            }
            Self::And(a, b) => a.required_eq(name).or_else(|| b.required_eq(name)),
            _ => None,
        }
    }
}

fn is_core(path: &AttrPath) -> bool {
    path.schema
        .as_deref()
        .is_none_or(|s| s == super::USER_SCHEMA_LOWER)
}

impl std::fmt::Display for AttrPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{schema}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for CompareOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Lt => "lt",
            Self::Ge => "ge",
            Self::Le => "le",
        })
    }
}

impl std::fmt::Display for CompValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Number(n) => write!(f, "{n}"),
            Self::String(s) => write!(f, "{}", Value::String(s.clone())),
        }
    }
}

/// The filter in SCIM's syntax, every operation in parentheses: it parses back to itself.
impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Self::Present(path) => write!(f, "{path} pr"),
            Self::And(a, b) => write!(f, "({a} and {b})"),
            Self::Or(a, b) => write!(f, "({a} or {b})"),
            Self::Not(inner) => write!(f, "not ({inner})"),
            Self::ValuePath { attr, filter } => write!(f, "{attr}[{filter}]"),
        }
    }
}

// ---- evaluation ----

/// The attribute `path` names, without its sub-attribute.
fn attribute<'a>(resource: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let holder = match path.schema.as_deref() {
        None => resource,
        Some(s) if s == super::USER_SCHEMA_LOWER => resource,
        Some(s) => field(resource, s)?,
    };
    field(holder, &path.name)
}

/// A member of an object, by a lowercased name compared without case.
fn field<'a>(object: &'a Value, lower: &str) -> Option<&'a Value> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(lower))
        .map(|(_, v)| v)
}

/// Every value `path` reaches (a multi-valued attribute gives each element; a complex one
/// without a sub-attribute, its `value`), with whether its comparisons are case-exact.
fn values_at<'a>(resource: &'a Value, path: &AttrPath) -> impl Iterator<Item = (&'a Value, bool)> {
    let exact = is_case_exact(path);
    let top = attribute(resource, path);
    let items: Vec<&Value> = match top {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    };
    let sub = path.sub.clone();
    items
        .into_iter()
        .filter_map(move |item| match (&sub, item) {
            (Some(sub), Value::Object(_)) => field(item, sub),
            (Some(_), _) => None,
            (None, Value::Object(_)) => field(item, "value"),
            (None, v) => Some(v),
        })
        .map(move |v| (v, exact))
}

fn is_case_exact(path: &AttrPath) -> bool {
    matches!(
        (path.name.as_str(), path.sub.as_deref()),
        ("id", None) | ("externalid", None) | ("meta", Some("version"))
    )
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare(actual: &Value, op: CompareOp, expected: &CompValue, exact: bool) -> bool {
    use std::cmp::Ordering;
    let ordering: Option<Ordering> = match (actual, expected) {
        (Value::String(a), CompValue::String(e)) => {
            let (a, e) = if exact {
                (a.clone(), e.clone())
            } else {
                (a.to_lowercase(), e.to_lowercase())
            };
            match op {
                CompareOp::Co => return a.contains(&e),
                CompareOp::Sw => return a.starts_with(&e),
                CompareOp::Ew => return a.ends_with(&e),
                _ => Some(a.cmp(&e)),
            }
        }
        (Value::Number(a), CompValue::Number(e)) => a.as_f64().and_then(|a| a.partial_cmp(e)),
        (Value::Bool(a), CompValue::Bool(e)) => match op {
            CompareOp::Eq | CompareOp::Ne => Some(a.cmp(e)),
            _ => None,
        },
        (Value::Null, CompValue::Null) => Some(Ordering::Equal),
        _ => None,
    };
    match (op, ordering) {
        (CompareOp::Eq, Some(o)) => o == Ordering::Equal,
        (CompareOp::Ne, Some(o)) => o != Ordering::Equal,
        (CompareOp::Gt, Some(o)) => o == Ordering::Greater,
        (CompareOp::Lt, Some(o)) => o == Ordering::Less,
        (CompareOp::Ge, Some(o)) => o != Ordering::Less,
        (CompareOp::Le, Some(o)) => o != Ordering::Greater,
        _ => false,
    }
}

// ---- tokens ----

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    /// An attribute path, an operator or a keyword (`and`, `true`, …), as written.
    Word(String),
    String(String),
    Number(f64),
    /// `].sub`: a sub-attribute after a value path.
    Sub(String),
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Self::Open => "'('".into(),
            Self::Close => "')'".into(),
            Self::OpenBracket => "'['".into(),
            Self::CloseBracket => "']'".into(),
            Self::Word(w) => format!("'{w}'"),
            Self::String(_) => "a string".into(),
            Self::Number(_) => "a number".into(),
            Self::Sub(s) => format!("'.{s}'"),
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | '$')
}

fn tokenize(text: &str) -> Result<Vec<Token>, InvalidFilter> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '[' => {
                chars.next();
                tokens.push(Token::OpenBracket);
            }
            ']' => {
                chars.next();
                tokens.push(Token::CloseBracket);
                if let Some(&(_, '.')) = chars.peek() {
                    chars.next();
                    let mut sub = String::new();
                    while let Some(&(_, c)) = chars.peek() {
                        if !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$') {
                            break;
                        }
                        sub.push(c);
                        chars.next();
                    }
                    if sub.is_empty() {
                        return Err(invalid("a sub-attribute name must follow ']. '"));
                    }
                    tokens.push(Token::Sub(sub.to_ascii_lowercase()));
                }
            }
            '"' => {
                let start = i;
                chars.next();
                let mut escaped = false;
                let mut end = None;
                for (j, c) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = Some(j);
                        break;
                    }
                }
                let end = end.ok_or_else(|| invalid("a string is not closed"))?;
                let literal = &text[start..=end];
                let value: String = serde_json::from_str(literal)
                    .map_err(|_| invalid("a string is not a valid JSON string"))?;
                tokens.push(Token::String(value));
            }
            c if c == '-' || c.is_ascii_digit() => {
                let start = i;
                let mut end = i;
                while let Some(&(j, c)) = chars.peek() {
                    if !(c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E')) {
                        break;
                    }
                    end = j + c.len_utf8();
                    chars.next();
                }
                let number: f64 = text[start..end]
                    .parse()
                    .map_err(|_| invalid(format!("'{}' is not a number", &text[start..end])))?;
                if !number.is_finite() {
                    return Err(invalid("a number must be finite"));
                }
                tokens.push(Token::Number(number));
            }
            c if is_word_char(c) => {
                let start = i;
                let mut end = i;
                while let Some(&(j, c)) = chars.peek() {
                    if !is_word_char(c) {
                        break;
                    }
                    end = j + c.len_utf8();
                    chars.next();
                }
                tokens.push(Token::Word(text[start..end].to_owned()));
            }
            other => return Err(invalid(format!("unexpected character {other:?}"))),
        }
    }
    Ok(tokens)
}

// ---- grammar ----

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

fn keyword(token: Option<&Token>, word: &str) -> bool {
    matches!(token, Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn expect(&mut self, wanted: &Token) -> Result<(), InvalidFilter> {
        match self.next() {
            Some(ref t) if t == wanted => Ok(()),
            Some(t) => Err(invalid(format!(
                "expected {}, found {}",
                wanted.describe(),
                t.describe()
            ))),
            None => Err(invalid(format!(
                "expected {}, found the end",
                wanted.describe()
            ))),
        }
    }

    fn or(&mut self, depth: usize) -> Result<Filter, InvalidFilter> {
        if depth > MAX_DEPTH {
            return Err(invalid("the filter nests too deeply"));
        }
        let mut left = self.and(depth)?;
        while keyword(self.peek(), "or") {
            self.next();
            let right = self.and(depth)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> Result<Filter, InvalidFilter> {
        let mut left = self.unary(depth)?;
        while keyword(self.peek(), "and") {
            self.next();
            let right = self.unary(depth)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Filter, InvalidFilter> {
        if keyword(self.peek(), "not") && self.tokens.get(self.at + 1) == Some(&Token::Open) {
            self.next();
            self.next();
            let inner = self.or(depth + 1)?;
            self.expect(&Token::Close)?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Token::Open) {
            self.next();
            let inner = self.or(depth + 1)?;
            self.expect(&Token::Close)?;
            return Ok(inner);
        }
        let path = match self.next() {
            Some(Token::Word(w)) => attr_path(&w)?,
            Some(t) => {
                return Err(invalid(format!(
                    "expected an attribute, found {}",
                    t.describe()
                )))
            }
            None => return Err(invalid("expected an attribute, found the end")),
        };
        if self.peek() == Some(&Token::OpenBracket) {
            self.next();
            if path.sub.is_some() {
                return Err(invalid(
                    "a value filter applies to an attribute, not a sub-attribute",
                ));
            }
            let inner = self.or(depth + 1)?;
            self.expect(&Token::CloseBracket)?;
            let filter = match self.peek() {
                Some(Token::Sub(sub)) => {
                    let sub = sub.clone();
                    self.next();
                    let relative = AttrPath {
                        schema: None,
                        name: sub,
                        sub: None,
                    };
                    Filter::And(Box::new(inner), Box::new(self.comparison(relative)?))
                }
                _ => inner,
            };
            return Ok(Filter::ValuePath {
                attr: path,
                filter: Box::new(filter),
            });
        }
        self.comparison(path)
    }

    /// `pr`, or an operator and a value, after `path`.
    fn comparison(&mut self, path: AttrPath) -> Result<Filter, InvalidFilter> {
        let op = match self.next() {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("pr") => {
                return Ok(Filter::Present(path));
            }
            Some(Token::Word(w)) => compare_op(&w)?,
            Some(t) => {
                return Err(invalid(format!(
                    "expected an operator, found {}",
                    t.describe()
                )))
            }
            None => return Err(invalid("expected an operator, found the end")),
        };
        let value = match self.next() {
            Some(Token::String(s)) => CompValue::String(s),
            Some(Token::Number(n)) => CompValue::Number(n),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => CompValue::Bool(true),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => CompValue::Bool(false),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => CompValue::Null,
            Some(t) => return Err(invalid(format!("expected a value, found {}", t.describe()))),
            None => return Err(invalid("expected a value, found the end")),
        };
        Ok(Filter::Compare { path, op, value })
    }
}

fn compare_op(word: &str) -> Result<CompareOp, InvalidFilter> {
    Ok(match word.to_ascii_lowercase().as_str() {
        "eq" => CompareOp::Eq,
        "ne" => CompareOp::Ne,
        "co" => CompareOp::Co,
        "sw" => CompareOp::Sw,
        "ew" => CompareOp::Ew,
        "gt" => CompareOp::Gt,
        "lt" => CompareOp::Lt,
        "ge" => CompareOp::Ge,
        "le" => CompareOp::Le,
        _ => return Err(invalid(format!("'{word}' is not an operator"))),
    })
}

/// What [`attr_path`] accepts, as a regular expression (unanchored; the OpenAPI documents
/// anchor it): `[urn ":"] name ["." sub]`.
pub const ATTR_PATH_PATTERN: &str =
    "([uU][rR][nN]:[^,:]+(:[^,:]+)*:)?[A-Za-z$][A-Za-z0-9_$-]*(\\.[A-Za-z$][A-Za-z0-9_$-]*)?";

/// The same without `[` or `]` in the URN: a path that is a member of a path-less PATCH value
/// (where a bracket opens a value filter).
pub const MEMBER_PATH_PATTERN: &str =
    "([uU][rR][nN]:[^,:\\[\\]]+(:[^,:\\[\\]]+)*:)?[A-Za-z$][A-Za-z0-9_$-]*(\\.[A-Za-z$][A-Za-z0-9_$-]*)?";

/// `[urn ":"] name ["." sub]`, lowercased.
pub fn attr_path(word: &str) -> Result<AttrPath, InvalidFilter> {
    let lower = word.to_ascii_lowercase();
    let (schema, rest) = match lower.rfind(':') {
        Some(i) if lower.starts_with("urn:") => (Some(lower[..i].to_owned()), &lower[i + 1..]),
        Some(_) => return Err(invalid(format!("'{word}' is not an attribute"))),
        None => (None, lower.as_str()),
    };
    let (name, sub) = match rest.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (rest, None),
    };
    let valid = |s: &str| {
        s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$'))
    };
    if !valid(name) || !sub.is_none_or(valid) {
        return Err(invalid(format!("'{word}' is not an attribute")));
    }
    Ok(AttrPath {
        schema,
        name: name.to_owned(),
        sub: sub.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "Ext-1",
            "userName": "Bjensen@Example.com",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "meta": {"created": "2026-01-01T00:00:00Z", "version": "W/\"3\""},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984"}
        })
    }

    fn holds(filter: &str) -> bool {
        Filter::parse(filter)
            .unwrap_or_else(|e| panic!("{filter}: {e}"))
            .matches(&user())
    }

    #[test]
    fn the_rfc_examples_parse_and_evaluate() {
        assert!(holds(r#"userName eq "bjensen@example.com""#));
        assert!(holds(r#"USERNAME Eq "BJENSEN@EXAMPLE.COM""#));
        assert!(holds(r#"name.familyName co "ens""#));
        assert!(holds(r#"userName sw "bj""#));
        assert!(holds(r#"userName ew ".com""#));
        assert!(holds("externalId pr"));
        assert!(!holds("title pr"));
        assert!(holds(r#"meta.created gt "2025-12-31T23:59:59Z""#));
        assert!(holds(
            r#"emails[type eq "work" and value co "@example.com"]"#
        ));
        assert!(holds(
            r#"emails[type eq "work"].value eq "bjensen@example.com""#
        ));
        assert!(!holds(
            r#"emails[type eq "home"].value eq "bjensen@example.com""#
        ));
        assert!(holds(r#"emails co "jensen.org""#));
        assert!(holds(r#"emails.value eq "babs@jensen.org""#));
        assert!(holds(
            r#"userName eq "x" or not (active eq false) and externalId eq "Ext-1""#
        ));
        assert!(holds(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
        ));
        assert!(holds(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bjen""#
        ));
        assert!(holds("active eq true"));
        assert!(holds(r#"title ne "boss""#));
    }

    #[test]
    fn external_id_is_case_exact_and_user_name_is_not() {
        assert!(holds(r#"externalId eq "Ext-1""#));
        assert!(!holds(r#"externalId eq "ext-1""#));
        assert!(holds(r#"userName eq "BJENSEN@example.com""#));
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        // `a or b and c` is `a or (b and c)`.
        let f = Filter::parse(r#"userName eq "x" or userName eq "y" and active eq true"#).unwrap();
        assert!(matches!(f, Filter::Or(_, ref r) if matches!(**r, Filter::And(_, _))));
    }

    #[test]
    fn malformed_filters_are_invalid() {
        for bad in [
            "",
            "userName",
            "userName eq",
            r#"userName zz "x""#,
            r#"userName eq "x" and"#,
            r#"(userName eq "x""#,
            r#"emails[type eq "work""#,
            r#"userName eq "x")"#,
            r#"userName eq "unterminated"#,
            "1 eq 2",
            r#"emails.value[type eq "x"]"#,
            &"(".repeat(100),
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    fn path() -> impl Strategy<Value = AttrPath> {
        let name = prop_oneof![
            Just("username"),
            Just("externalid"),
            Just("active"),
            Just("displayname"),
            Just("title"),
            Just("emails"),
            Just("name"),
        ];
        let sub =
            proptest::option::of(prop_oneof![Just("value"), Just("type"), Just("familyname")]);
        (name, sub).prop_map(|(name, sub)| AttrPath {
            schema: None,
            name: name.into(),
            sub: sub.map(str::to_owned),
        })
    }

    fn value() -> impl Strategy<Value = CompValue> {
        prop_oneof![
            Just(CompValue::Null),
            any::<bool>().prop_map(CompValue::Bool),
            (-1000i32..1000).prop_map(|n| CompValue::Number(f64::from(n))),
            "[a-zA-Z0-9@. \\\"é]{0,12}".prop_map(CompValue::String),
        ]
    }

    fn op() -> impl Strategy<Value = CompareOp> {
        prop_oneof![
            Just(CompareOp::Eq),
            Just(CompareOp::Ne),
            Just(CompareOp::Co),
            Just(CompareOp::Sw),
            Just(CompareOp::Ew),
            Just(CompareOp::Gt),
            Just(CompareOp::Lt),
            Just(CompareOp::Ge),
            Just(CompareOp::Le),
        ]
    }

    /// Filters of every form, nested a few levels.
    pub(crate) fn filters() -> impl Strategy<Value = Filter> {
        let leaf = prop_oneof![
            (path(), op(), value()).prop_map(|(path, op, value)| Filter::Compare {
                path,
                op,
                value
            }),
            path().prop_map(Filter::Present),
        ];
        leaf.prop_recursive(4, 24, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
                inner.clone().prop_map(|f| Filter::Not(Box::new(f))),
                (path(), inner).prop_map(|(attr, f)| Filter::ValuePath {
                    attr: AttrPath { sub: None, ..attr },
                    filter: Box::new(f),
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any text is a filter or an `invalidFilter`, never a panic.
        #[test]
        fn any_text_parses_or_is_refused(text in "\\PC{0,80}") {
            let _ = Filter::parse(&text).map(|f| f.matches(&user()));
        }

        /// Text made of the filter's own words, in any order: the same.
        #[test]
        fn any_words_parse_or_are_refused(words in proptest::collection::vec(prop_oneof![
            Just("userName"), Just("eq"), Just("and"), Just("or"), Just("not"), Just("("),
            Just(")"), Just("["), Just("]"), Just("].value"), Just("\"x\""), Just("pr"),
            Just("true"), Just("12"), Just("emails"), Just("urn:a:b"), Just("\"")
        ], 0..16)) {
            let _ = Filter::parse(&words.join(" ")).map(|f| f.matches(&user()));
        }

        /// Every path the published pattern describes is one.
        #[test]
        fn the_attribute_pattern_describes_paths(path in ATTR_PATH_PATTERN) {
            prop_assert!(attr_path(&path).is_ok(), "{}", path);
        }

        /// A filter written out parses back to itself and judges a user the same.
        #[test]
        fn a_written_filter_parses_back_to_itself(filter in filters()) {
            let text = filter.to_string();
            let parsed = Filter::parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert_eq!(parsed.matches(&user()), filter.matches(&user()), "{}", text);
            prop_assert_eq!(parsed, filter);
        }
    }

    #[test]
    fn the_required_eq_is_what_a_store_may_look_up() {
        let f = Filter::parse(r#"userName eq "a" and active eq true"#).unwrap();
        assert_eq!(f.required_eq("username"), Some("a"));
        let f = Filter::parse(r#"userName eq "a" or externalId eq "b""#).unwrap();
        assert_eq!(f.required_eq("username"), None);
        let f = Filter::parse(r#"emails[value eq "a@b.c"]"#).unwrap();
        assert_eq!(f.required_eq("emails"), Some("a@b.c"));
        let f = Filter::parse(r#"externalId eq "E""#).unwrap();
        assert_eq!(f.required_eq("externalid"), Some("E"));
    }
}
