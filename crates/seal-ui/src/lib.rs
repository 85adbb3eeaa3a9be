//! The sealing page: a zero-install web page that seals Secrets into SealedSecrets in the
//! browser, with WebCrypto, in the same byte format as `kubectl seal`. No plaintext, and no
//! request carrying it, ever leaves the page: it fetches only the public certificate.
//!
//! The files are embedded in the binary. The controller serves them under `/ui/` on its HTTP
//! port and `kubectl seal ui` serves them on loopback; both answer with [`asset`] and
//! [`SECURITY_HEADERS`], so they serve the same bytes. Every URL in the page is relative (the
//! certificate is `../v1/cert.pem`), so it works under any path prefix: the API server's
//! service proxy, a port-forward or an Ingress.
//!
//! ```
//! let page = seal_ui::asset("").expect("the page");
//! assert_eq!(page.content_type, "text/html; charset=utf-8");
//! assert!(seal_ui::asset("app.js").is_some());
//! assert!(seal_ui::asset("../v1/cert.pem").is_none());
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]

/// The path prefix the page is served under, with its trailing slash.
pub const UI_PATH: &str = "/ui/";

/// Where a request for the site root, or for [`UI_PATH`] without its slash, is redirected: a
/// relative `Location`, so it resolves under any prefix (`…/proxy/` → `…/proxy/ui/`).
pub const REDIRECT_LOCATION: &str = "ui/";

/// The Content-Security-Policy of every page response: nothing but the page's own files, and
/// connections only back to where the page came from (for `../v1/cert.pem`).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'none'; base-uri 'none'; \
frame-ancestors 'none'; require-trusted-types-for 'script'";

/// Headers sent with every file of the page: a strict CSP, no sniffing, no framing, no
/// referrer, no caching, and isolation from other origins' windows.
pub const SECURITY_HEADERS: [(&str, &str); 7] = [
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
];

/// One embedded file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asset {
    /// Its name under [`UI_PATH`] (`index.html` for the page itself).
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

/// Every file of the page.
pub const ASSETS: [Asset; 5] = [
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../assets/index.html"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/app.js"),
    },
    Asset {
        name: "format.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/format.js"),
    },
    Asset {
        name: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../assets/style.css"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../assets/favicon.svg"),
    },
];

/// The file for `name`, the request path after [`UI_PATH`]; `""` is the page itself. Anything
/// else (other paths, `..`, query strings) is `None`.
pub fn asset(name: &str) -> Option<&'static Asset> {
    let name = if name.is_empty() { "index.html" } else { name };
    ASSETS.iter().find(|a| a.name == name)
}

/// How a server answers a `GET` for `path` (the URL path, without the query).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Serve this file with [`SECURITY_HEADERS`].
    Asset(&'static Asset),
    /// Redirect (302) to [`REDIRECT_LOCATION`]: the site root and `/ui` without its slash.
    Redirect,
    /// Not part of the page.
    NotFound,
}

/// Routes a request path: `/` and `/ui` redirect to `ui/`, `/ui/<file>` serves the file.
pub fn route(path: &str) -> Route {
    match path {
        "/" | "/ui" => Route::Redirect,
        _ => path
            .strip_prefix(UI_PATH)
            .and_then(asset)
            .map_or(Route::NotFound, Route::Asset),
    }
}
