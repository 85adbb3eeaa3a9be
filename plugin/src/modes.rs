//! The kubeseal modes, in SPEC §9's precedence.

use std::time::SystemTime;

use anyhow::{Context as _, Result, bail};
use seal_api::crypto::Certificate;
use seal_api::{
    ANNOTATION_KEY_ID, Format, Keyring, Scope, SealOptions, SealedSecret, UnsealOptions,
    read_documents, read_sealed_secrets, read_secrets, seal_raw, seal_secret,
    sealed_secret_to_string, to_value, unseal, write_document,
};
use serde_json::Value;

use crate::cluster::{Connection, ControllerService, fetch_url};
use crate::files::{read_file, read_input, write_atomic, write_output, write_private_output};
use crate::keys::load_keyring;
use crate::plan::{CertSource, Input, Mode, Plan};

/// A lazily opened connection to the controller: offline modes never build a client.
pub struct Controller<'a> {
    plan: &'a Plan,
    conn: Option<(Connection, ControllerService)>,
}

impl<'a> Controller<'a> {
    pub fn new(plan: &'a Plan) -> Self {
        Self { plan, conn: None }
    }

    fn get(&mut self) -> Result<&(Connection, ControllerService)> {
        if self.conn.is_none() {
            let conn = self.plan.cluster.connect()?;
            let svc = conn.locate()?;
            self.conn = Some((conn, svc));
        }
        Ok(self.conn.as_ref().expect("set above"))
    }

    /// The certificate PEM served at /v1/cert.pem.
    pub fn cert_pem(&mut self) -> Result<Vec<u8>> {
        let (conn, svc) = self.get()?;
        let reply = conn.proxy(svc, http::Method::GET, "cert.pem", Vec::new())?;
        if !reply.status.is_success() {
            bail!(
                "cannot fetch certificate from the controller {}/{}: HTTP {}: {}",
                svc.namespace,
                svc.name,
                reply.status,
                String::from_utf8_lossy(&reply.body).trim()
            );
        }
        Ok(reply.body)
    }

    /// POSTs one SealedSecret to /v1/verify: Ok(true) valid, Ok(false) on 409.
    pub fn verify(&mut self, doc: &Value) -> Result<bool> {
        let (conn, svc) = self.get()?;
        let body = serde_json::to_vec(doc).context("cannot encode the SealedSecret")?;
        let reply = conn
            .proxy(svc, http::Method::POST, "verify", body)
            .context("cannot validate sealed secret")?;
        match reply.status.as_u16() {
            200..=299 => Ok(true),
            409 => Ok(false),
            _ => bail!(
                "cannot validate sealed secret: HTTP {}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.body).trim()
            ),
        }
    }

    /// POSTs one SealedSecret to /v1/rotate and returns the re-encrypted one.
    pub fn rotate(&mut self, doc: &Value) -> Result<SealedSecret> {
        let (conn, svc) = self.get()?;
        let body = serde_json::to_vec(doc).context("cannot encode the SealedSecret")?;
        let reply = conn
            .proxy(svc, http::Method::POST, "rotate", body)
            .context("cannot re-encrypt secret")?;
        match reply.status.as_u16() {
            200..=299 => {}
            409 => bail!("unable to rotate secret"),
            _ => bail!(
                "cannot re-encrypt secret: HTTP {}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.body).trim()
            ),
        }
        let mut ss = read_sealed_secrets(&reply.body)
            .context("cannot re-encrypt secret: the controller's answer is not a SealedSecret")?
            .into_iter()
            .next()
            .context("cannot re-encrypt secret: empty answer")?;
        ss.metadata.creation_timestamp = None;
        ss.metadata.deletion_timestamp = None;
        ss.metadata.generation = None;
        Ok(ss)
    }
}

/// The certificate bytes as fetched, unparsed.
pub fn cert_bytes(plan: &Plan, controller: &mut Controller<'_>) -> Result<Vec<u8>> {
    match &plan.cert {
        CertSource::File(path) => read_file(path),
        CertSource::Url(url) => fetch_url(url, plan.cluster.timeout),
        CertSource::Controller => controller.cert_pem(),
    }
}

/// The sealing certificate, parsed and checked: RSA, not expired.
pub fn open_cert(plan: &Plan, controller: &mut Controller<'_>) -> Result<Certificate> {
    let bytes = cert_bytes(plan, controller)?;
    let cert = parse_cert(plan, &bytes)?;
    cert.ensure_not_expired(SystemTime::now())?;
    Ok(cert)
}

/// Parses the certificate bytes, naming where they came from on failure.
pub fn parse_cert(plan: &Plan, bytes: &[u8]) -> Result<Certificate> {
    Certificate::from_pem(bytes).with_context(|| match &plan.cert {
        CertSource::File(p) => format!("cannot use certificate {}", p.display()),
        CertSource::Url(u) => format!("cannot use certificate {u}"),
        CertSource::Controller => "cannot use the controller's certificate".to_owned(),
    })
}

impl Plan {
    /// Carries out the plan.
    ///
    /// # Errors
    ///
    /// Whatever fails, with context.
    pub fn execute(&self) -> Result<()> {
        let mut controller = Controller::new(self);
        match &self.mode {
            Mode::RecoveryUnseal { inputs } => self.recovery_unseal(inputs),
            Mode::Validate => self.validate(&mut controller),
            Mode::ReEncrypt => self.re_encrypt(&mut controller),
            Mode::FetchCert => {
                let bytes = cert_bytes(self, &mut controller)?;
                write_output(self.output.as_deref(), &bytes)
            }
            Mode::MergeInto(path) => {
                let cert = open_cert(self, &mut controller)?;
                self.merge_into(path, &cert)
            }
            Mode::Raw(from) => {
                let cert = open_cert(self, &mut controller)?;
                self.raw(from.as_deref(), &cert)
            }
            Mode::Seal => {
                let cert = open_cert(self, &mut controller)?;
                self.seal(&cert)
            }
            _ => crate::commands::run(self, &mut controller),
        }
    }

    /// SealOptions for this command line.
    fn seal_options(&self) -> SealOptions {
        SealOptions {
            scope: self.scope,
            name: self.name.clone(),
            namespace: self.cluster.namespace.clone(),
            default_namespace: None,
            allow_empty_data: self.allow_empty_data,
            key_hint: true,
            top_level_labels: self.top_level_labels.clone(),
            top_level_annotations: self.top_level_annotations.clone(),
        }
    }

    fn seal(&self, cert: &Certificate) -> Result<()> {
        let input = read_input(&self.input)?;
        let secrets = read_secrets(&input)?;
        let mut opts = self.seal_options();
        // The kubeconfig is read only when a Secret needs its namespace.
        let needs_default = opts.namespace.is_none()
            && secrets
                .iter()
                .any(|s| s.metadata.namespace.as_deref().is_none_or(str::is_empty));
        if needs_default {
            opts.default_namespace = Some(
                self.cluster
                    .kubeconfig_namespace()
                    .unwrap_or_else(|| "default".to_owned()),
            );
        }
        let format = self.output_format();
        let mut out = String::new();
        for secret in &secrets {
            let ss = seal_secret(secret, cert.public_key(), &opts)?;
            out.push_str(&sealed_secret_to_string(&ss, format)?);
        }
        write_output(self.output.as_deref(), out.as_bytes())
    }

    fn raw(&self, from: Option<&std::path::Path>, cert: &Certificate) -> Result<()> {
        let scope = self.scope.unwrap_or_default();
        let namespace = if scope == Scope::ClusterWide {
            self.cluster.namespace.clone()
        } else {
            self.cluster.effective_namespace()
        };
        // Check the flags before reading stdin, so a mistake does not wait for input.
        seal_api::raw_label(scope, namespace.as_deref(), self.name.as_deref())?;
        let value = match from {
            Some(path) => read_file(path)?,
            None => read_input(&Input::Stdin)?,
        };
        let sealed = seal_raw(
            cert.public_key(),
            scope,
            namespace.as_deref(),
            self.name.as_deref(),
            &value,
        )?;
        write_output(self.output.as_deref(), sealed.as_bytes())
    }

    fn merge_into(&self, path: &std::path::Path, cert: &Certificate) -> Result<()> {
        let original = read_file(path)?;
        let mut sealed = read_sealed_secrets(&original)
            .with_context(|| format!("cannot merge into {}", path.display()))?;
        if sealed.len() != 1 {
            bail!(
                "cannot merge into {}: it holds {} SealedSecrets, not one",
                path.display(),
                sealed.len()
            );
        }
        let mut target = sealed.remove(0);
        let file_scope = Scope::from_annotations(target.metadata.annotations.as_ref());
        if let Some(scope) = self.scope
            && scope != file_scope
        {
            bail!(
                "--scope {scope} conflicts with the scope of {} ({file_scope}); drop --scope to merge with the file's scope",
                path.display()
            );
        }
        let input = read_input(&self.input)?;
        let mut secrets = read_secrets(&input)?;
        if secrets.len() != 1 {
            bail!(
                "--merge-into takes exactly one input Secret, got {}",
                secrets.len()
            );
        }
        let mut secret = secrets.remove(0);
        secret.metadata.name = target.metadata.name.clone();
        secret.metadata.namespace = target.metadata.namespace.clone();
        let mut opts = self.seal_options();
        opts.scope = Some(file_scope);
        opts.name = None;
        opts.namespace = None;
        opts.default_namespace = None;
        opts.allow_empty_data = true;
        let fresh = seal_secret(&secret, cert.public_key(), &opts)?;

        target.spec.encrypted_data.extend(fresh.spec.encrypted_data);
        let fresh_meta = fresh.spec.template.metadata.unwrap_or_default();
        let meta = target
            .spec
            .template
            .metadata
            .get_or_insert_with(Default::default);
        if let Some(labels) = fresh_meta.labels {
            meta.labels
                .get_or_insert_with(Default::default)
                .extend(labels);
        }
        if let Some(mut annotations) = fresh_meta.annotations {
            // The file's scope stays as it is in the template too.
            for key in [
                seal_api::ANNOTATION_CLUSTER_WIDE,
                seal_api::ANNOTATION_NAMESPACE_WIDE,
            ] {
                annotations.remove(key);
            }
            meta.annotations
                .get_or_insert_with(Default::default)
                .extend(annotations);
        }
        if let Some(data) = fresh.spec.template.data {
            target
                .spec
                .template
                .data
                .get_or_insert_with(Default::default)
                .extend(data);
        }
        target
            .metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(ANNOTATION_KEY_ID.to_owned(), cert.public_key().key_id());
        let format = self.format.unwrap_or_else(|| Format::sniff(&original));
        let text = sealed_secret_to_string(&target, format)?;
        write_atomic(path, text.as_bytes())
    }

    fn recovery_unseal(&self, inputs: &[Input]) -> Result<()> {
        // Without --recovery-private-key this goes on as kubeseal does, and fails with "no key
        // could decrypt secret", saying why.
        let keyring = if self.recovery_keys.is_empty() {
            Keyring::new()
        } else {
            load_keyring(&self.recovery_keys)?
        };
        let format = self.output_format();
        let mut out = String::new();
        for input in inputs {
            let bytes = read_input(input)?;
            let unsealed = unseal_all(&bytes, &keyring, format).with_context(|| match input {
                Input::Stdin => "cannot unseal standard input".to_owned(),
                Input::File(p) => format!("cannot unseal {}", p.display()),
            });
            match unsealed {
                Ok(text) => out.push_str(&text),
                Err(e) if keyring.is_empty() => bail!(
                    "{}; no --recovery-private-key was given: pass the controller's key backup",
                    crate::error_line(&e)
                ),
                Err(e) => return Err(e),
            }
        }
        // Plaintext: a file gets mode 0600.
        write_private_output(self.output.as_deref(), out.as_bytes())
    }

    fn validate(&self, controller: &mut Controller<'_>) -> Result<()> {
        let input = read_input(&self.input)?;
        for doc in sealed_documents(&input)? {
            let name = doc
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            if !controller.verify(&doc)? {
                bail!("unable to decrypt sealed secret: {name}");
            }
        }
        Ok(())
    }

    fn re_encrypt(&self, controller: &mut Controller<'_>) -> Result<()> {
        let input = read_input(&self.input)?;
        let format = self.output_format();
        let mut out = String::new();
        for doc in sealed_documents(&input)? {
            let ss = controller.rotate(&doc)?;
            out.push_str(&sealed_secret_to_string(&ss, format)?);
        }
        let target = match (&self.output, &self.input) {
            (Some(p), _) => Some(p.as_path()),
            (None, Input::File(p)) => Some(p.as_path()),
            (None, Input::Stdin) => None,
        };
        match target {
            Some(p) => write_atomic(p, out.as_bytes()),
            None => write_output(None, out.as_bytes()),
        }
    }
}

/// The SealedSecret documents of an input, checked, as JSON values for the controller.
pub fn sealed_documents(input: &[u8]) -> Result<Vec<Value>> {
    // Parse as SealedSecrets first so a malformed one is refused before anything is sent.
    let sealed = read_sealed_secrets(input)?;
    if sealed.is_empty() {
        bail!("no sealed secrets found in the input");
    }
    let docs: Vec<Value> = read_documents(input)?;
    if docs.len() == sealed.len() {
        Ok(docs)
    } else {
        sealed.iter().map(|s| Ok(to_value(s)?)).collect()
    }
}

/// Unseals every SealedSecret of `bytes`, printing the Secrets.
pub fn unseal_all(bytes: &[u8], keyring: &Keyring, format: Format) -> Result<String> {
    let sealed = read_sealed_secrets(bytes)?;
    if sealed.is_empty() {
        bail!("no sealed secrets found in the input");
    }
    let mut out = String::new();
    for ss in &sealed {
        let name = ss.metadata.name.as_deref().unwrap_or("");
        let unsealed = unseal(ss, keyring, &UnsealOptions::default())
            .with_context(|| format!("cannot unseal {name}"))?;
        let mut doc = to_value(&unsealed.secret)?;
        if ss.spec.data.is_none() {
            empty_values_as_null(&mut doc);
        }
        out.push_str(&write_document(&doc, format));
    }
    Ok(out)
}

/// kubeseal prints an item whose plaintext (or rendered template) is empty as `null`: Go
/// decrypts or renders it into a nil byte slice, which `encoding/json` writes as `null`. Items
/// of a v1 `spec.data` blob come from JSON and keep their `""`.
fn empty_values_as_null(doc: &mut Value) {
    if let Some(Value::Object(data)) = doc.get_mut("data") {
        for v in data.values_mut() {
            if v.as_str() == Some("") {
                *v = Value::Null;
            }
        }
    }
}
