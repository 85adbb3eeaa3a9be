//! The embedded page: its routes, headers, size, and the rules its HTML and scripts keep
//! (relative URLs only, nothing inline, nothing from elsewhere).

use seal_ui::{ASSETS, CONTENT_SECURITY_POLICY, Route, SECURITY_HEADERS, asset, route};

fn text(name: &str) -> &'static str {
    std::str::from_utf8(asset(name).expect(name).body).expect("assets are UTF-8")
}

#[test]
fn the_page_weighs_at_most_100_kib() {
    let total: usize = ASSETS.iter().map(|a| a.body.len()).sum();
    assert!(total <= 100 * 1024, "{total} bytes");
}

#[test]
fn routes_serve_the_files_and_redirect_relatively() {
    assert_eq!(route("/"), Route::Redirect);
    assert_eq!(route("/ui"), Route::Redirect);
    assert_eq!(seal_ui::REDIRECT_LOCATION, "ui/");
    assert_eq!(
        route("/ui/"),
        Route::Asset(asset("index.html").expect("page"))
    );
    for a in &ASSETS {
        assert_eq!(route(&format!("/ui/{}", a.name)), Route::Asset(a));
    }
    for path in [
        "/ui/../v1/cert.pem",
        "/ui/x.js",
        "/index.html",
        "/ui/app.js/",
        "/v1/cert.pem",
        "/uix",
    ] {
        assert_eq!(route(path), Route::NotFound, "{path}");
    }
}

#[test]
fn the_policy_allows_only_the_page_itself() {
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'none'",
        "base-uri 'none'",
    ] {
        assert!(CONTENT_SECURITY_POLICY.contains(part), "{part}");
    }
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
    assert!(!CONTENT_SECURITY_POLICY.contains('*'));
    let names: Vec<&str> = SECURITY_HEADERS.iter().map(|(n, _)| *n).collect();
    for n in [
        "content-security-policy",
        "x-content-type-options",
        "referrer-policy",
    ] {
        assert!(names.contains(&n), "{n}");
    }
    assert!(!names.contains(&"set-cookie"));
}

/// Every `href="…"` and `src="…"` value of the HTML.
fn references(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for attr in ["href=\"", "src=\""] {
        let mut rest = html;
        while let Some(at) = rest.find(attr) {
            rest = &rest[at + attr.len()..];
            out.push(&rest[..rest.find('"').expect("closed attribute")]);
        }
    }
    out
}

#[test]
fn the_html_references_only_embedded_files_by_relative_urls() {
    let html = text("index.html");
    let refs = references(html);
    assert!(refs.len() >= 3, "{refs:?}");
    for r in refs {
        assert!(asset(r).is_some(), "{r} is not embedded (or not relative)");
    }
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("http:") && !lower.contains("https:") && !lower.contains("//"));
    assert!(!lower.contains(" style="), "no inline style");
    assert!(!lower.contains("<style"), "no style element");
    let handler = lower.match_indices(" on").any(|(at, _)| {
        let rest = &lower[at + 3..];
        let word = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_lowercase())
                .len();
        word > 0 && rest[word..].starts_with('=')
    });
    assert!(!handler, "no inline event handlers");
    assert_eq!(
        lower.matches("<script").count(),
        lower.matches("<script type=\"module\" src=").count()
    );
}

#[test]
fn the_scripts_fetch_only_the_certificate_and_import_only_each_other() {
    let app = text("app.js");
    let format = text("format.js");
    assert_eq!(app.matches("fetch(").count(), 1);
    assert!(app.contains("fetch('../v1/cert.pem'"));
    assert!(!format.contains("fetch(") && !format.contains("XMLHttpRequest"));
    for js in [app, format] {
        for bad in [
            "innerHTML",
            "eval(",
            "new Function",
            "http:",
            "https:",
            "sendBeacon",
            "WebSocket",
            "document.cookie",
            "localStorage",
        ] {
            assert!(!js.contains(bad), "{bad}");
        }
    }
    let imports: Vec<&str> = app.lines().filter(|l| l.starts_with("import ")).collect();
    assert_eq!(imports, ["import * as seal from './format.js';"]);
    assert!(!format.lines().any(|l| l.starts_with("import ")));
}
