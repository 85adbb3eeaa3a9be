//! `kubectl seal ui`: the sealing page ([`seal_ui`]) on a loopback port, with the certificate
//! at `/v1/cert.pem` where the controller serves it, so the page's relative URLs work as they do
//! behind the controller. The server keeps no state and serves nothing else; the page seals in
//! the browser.

use std::convert::Infallible;
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context as _, Result};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;

use crate::modes::{Controller, cert_bytes, parse_cert};
use crate::plan::Plan;

/// Serves the page until the process is stopped. The URL goes to stdout, first thing.
pub fn serve(
    plan: &Plan,
    controller: &mut Controller<'_>,
    listen: &str,
    open_browser: bool,
) -> Result<()> {
    let addr: SocketAddr = listen.parse().with_context(|| {
        format!("invalid --listen {listen:?}: use HOST:PORT, e.g. 127.0.0.1:8090")
    })?;
    let pem = cert_bytes(plan, controller)?;
    let cert = parse_cert(plan, &pem)?;
    if let Err(e) = cert.ensure_not_expired(SystemTime::now()) {
        eprintln!("warning: {e}; the page will refuse to seal with it");
    }
    let pem = Bytes::from(pem);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let bound = listener
            .local_addr()
            .context("cannot read the bound address")?;
        let url = format!("http://{bound}{}", seal_ui::UI_PATH);
        let mut stdout = std::io::stdout();
        writeln!(stdout, "{url}").and_then(|()| stdout.flush())?;
        eprintln!(
            "Serving the sealing page for key {} at {url} (Ctrl-C to stop)",
            cert.public_key().key_id()
        );
        if !bound.ip().is_loopback() {
            eprintln!("warning: {bound} is reachable from other machines");
        }
        if open_browser {
            open(&url);
        }
        let pem = Arc::new(pem);
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let pem = Arc::clone(&pem);
            let service = hyper::service::service_fn(move |req| {
                let pem = Arc::clone(&pem);
                async move { Ok::<_, Infallible>(respond(&req, &pem)) }
            });
            tokio::spawn(async move {
                // A client that hangs up ends its connection, not the server.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

fn respond(req: &Request<Incoming>, pem: &Bytes) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut res = reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
        );
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return res;
    }
    let path = req.uri().path();
    if path == "/v1/cert.pem" {
        return reply(StatusCode::OK, "application/x-pem-file", pem.clone());
    }
    match seal_ui::route(path) {
        seal_ui::Route::Asset(asset) => {
            let mut res = reply(
                StatusCode::OK,
                asset.content_type,
                Bytes::from_static(asset.body),
            );
            for (name, value) in seal_ui::SECURITY_HEADERS {
                res.headers_mut()
                    .insert(name, HeaderValue::from_static(value));
            }
            res
        }
        seal_ui::Route::Redirect => {
            let mut res = reply(StatusCode::FOUND, "text/plain", Bytes::new());
            res.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_static(seal_ui::REDIRECT_LOCATION),
            );
            res
        }
        seal_ui::Route::NotFound => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "404 page not found\n".into(),
        ),
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(body));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// Opens `url` in the desktop's browser, when there is one; failing that, the printed URL does.
fn open(url: &str) {
    let mut cmd = if cfg!(target_os = "macos") {
        Command::new("open")
    } else if cfg!(windows) {
        let mut c = Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    } else {
        Command::new("xdg-open")
    };
    let spawned = cmd
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        // Reaped in the background so it leaves no zombie.
        Ok(mut child) => drop(std::thread::spawn(move || child.wait())),
        Err(_) => eprintln!("Open {url} in a browser."),
    }
}
