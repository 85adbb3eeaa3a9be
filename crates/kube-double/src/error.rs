//! The API server's failure `Status` objects.

use std::fmt;

use serde_json::{Value, json};

/// A failed API call, as the API server reports it in a `Status` object.
///
/// The HTTP server sends it as the response body; the direct-access methods of
/// [`ApiDouble`](crate::ApiDouble) return it.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// The HTTP status code, e.g. 404.
    pub code: u16,
    /// The machine-readable reason, e.g. `NotFound`, `Conflict`, `Invalid`.
    pub reason: String,
    /// The human-readable message, worded as the real API server words it.
    pub message: String,
    /// The `details` object (`name`, `group`, `kind`, `causes`), if any.
    pub details: Option<Value>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.reason, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// The reason the API server gives for a bare status code.
pub(crate) fn reason_for(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        409 => "Conflict",
        410 => "Expired",
        413 => "RequestEntityTooLarge",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "Unknown",
    }
}

impl ApiError {
    /// An error with the given code, the reason the API server uses for it, and `message`.
    pub fn new(code: u16, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason: reason_for(code).to_owned(),
            message: message.into(),
            details: None,
        }
    }

    pub(crate) fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    pub(crate) fn internal(message: &str) -> Self {
        Self::new(500, format!("Internal error occurred: {message}"))
    }

    /// `secrets "x" not found`; `resource` is the qualified resource (`sealedsecrets.bitnami.com`).
    pub(crate) fn not_found(group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            404,
            format!("{} \"{name}\" not found", qualified(group, plural)),
        )
        .with_details(details(group, plural, name))
    }

    pub(crate) fn already_exists(group: &str, plural: &str, name: &str) -> Self {
        let mut e = Self::new(
            409,
            format!("{} \"{name}\" already exists", qualified(group, plural)),
        )
        .with_details(details(group, plural, name));
        e.reason = "AlreadyExists".to_owned();
        e
    }

    pub(crate) fn conflict(group: &str, plural: &str, name: &str, why: &str) -> Self {
        Self::new(
            409,
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                qualified(group, plural)
            ),
        )
        .with_details(details(group, plural, name))
    }

    pub(crate) fn modified(group: &str, plural: &str, name: &str) -> Self {
        Self::conflict(
            group,
            plural,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// A 422 `Invalid` built from field errors, aggregated as the API server does.
    pub(crate) fn invalid(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> Self {
        let rendered: Vec<String> = errors.iter().map(FieldError::render).collect();
        let body = if rendered.len() == 1 {
            rendered[0].clone()
        } else {
            format!("[{}]", rendered.join(", "))
        };
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| json!({"reason": e.reason, "message": e.message_without_field(), "field": e.field}))
            .collect();
        let mut d = json!({"name": name, "kind": kind, "causes": causes});
        if !group.is_empty() {
            d["group"] = json!(group);
        }
        Self::new(422, format!("{kind} \"{name}\" is invalid: {body}")).with_details(d)
    }

    pub(crate) fn expired(message: impl Into<String>) -> Self {
        Self::new(410, message)
    }

    /// The `Status` object for this error.
    pub fn to_status(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        v
    }
}

/// One field error of a 422 `Invalid` response.
pub(crate) struct FieldError {
    pub(crate) field: String,
    /// `FieldValueForbidden`, `FieldValueInvalid`, `FieldValueRequired`.
    pub(crate) reason: &'static str,
    /// The text after `<field>: `, e.g. `Forbidden: field is immutable when ...`.
    pub(crate) detail: String,
}

impl FieldError {
    pub(crate) fn forbidden(field: &str, msg: &str) -> Self {
        FieldError {
            field: field.to_owned(),
            reason: "FieldValueForbidden",
            detail: format!("Forbidden: {msg}"),
        }
    }

    pub(crate) fn invalid(field: &str, value: &Value, msg: &str) -> Self {
        FieldError {
            field: field.to_owned(),
            reason: "FieldValueInvalid",
            detail: format!("Invalid value: {value}: {msg}"),
        }
    }

    pub(crate) fn too_long(field: &str, max: usize) -> Self {
        FieldError {
            field: field.to_owned(),
            reason: "FieldValueTooLong",
            detail: format!("Too long: must have at most {max} bytes"),
        }
    }

    pub(crate) fn required(field: &str, msg: &str) -> Self {
        FieldError {
            field: field.to_owned(),
            reason: "FieldValueRequired",
            detail: format!("Required value: {msg}"),
        }
    }

    fn render(&self) -> String {
        format!("{}: {}", self.field, self.detail)
    }

    fn message_without_field(&self) -> &str {
        &self.detail
    }
}

/// `secrets` for the core group, `sealedsecrets.bitnami.com` otherwise.
pub(crate) fn qualified(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_owned()
    } else {
        format!("{plural}.{group}")
    }
}

fn details(group: &str, plural: &str, name: &str) -> Value {
    let mut d = json!({"name": name, "kind": plural});
    if !group.is_empty() {
        d["group"] = json!(group);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_matches_the_api_server() {
        let e = ApiError::not_found("", "secrets", "x");
        assert_eq!(
            e.to_status(),
            json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                   "message":"secrets \"x\" not found","reason":"NotFound",
                   "details":{"name":"x","kind":"secrets"},"code":404})
        );
        let e = ApiError::not_found("bitnami.com", "sealedsecrets", "y");
        assert_eq!(e.message, "sealedsecrets.bitnami.com \"y\" not found");
    }

    #[test]
    fn invalid_aggregates_like_the_api_server() {
        let one = ApiError::invalid("", "Secret", "s", &[FieldError::forbidden("data", "nope")]);
        assert_eq!(
            one.message,
            "Secret \"s\" is invalid: data: Forbidden: nope"
        );
        let two = ApiError::invalid(
            "",
            "Secret",
            "s",
            &[
                FieldError::forbidden("immutable", "a"),
                FieldError::forbidden("data", "b"),
            ],
        );
        assert_eq!(
            two.message,
            "Secret \"s\" is invalid: [immutable: Forbidden: a, data: Forbidden: b]"
        );
        assert_eq!(two.code, 422);
        assert_eq!(two.reason, "Invalid");
    }
}
