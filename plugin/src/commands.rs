//! The subcommands beyond kubeseal: cert, set, unset, validate, reencrypt, ui, completion.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context as _, Result, bail};
use clap::CommandFactory;
use seal_api::crypto::Certificate;
use seal_api::{
    ANNOTATION_CLUSTER_WIDE, ANNOTATION_KEY_ID, ANNOTATION_NAMESPACE_WIDE, Format, Scope,
    SealedSecret, decode_base64, encode_base64, read_documents, read_sealed_secrets,
    sealed_secret_to_string, to_value,
};
use serde_json::Value;

use crate::edit::{Change, edit};
use crate::files::{read_file, read_input, write_atomic, write_output};
use crate::keys::load_keyring;
use crate::modes::{Controller, cert_bytes, open_cert, parse_cert};
use crate::plan::{CertSource, Input, Mode, Plan, ValueSource};

/// Runs a subcommand.
pub fn run(plan: &Plan, controller: &mut Controller<'_>) -> Result<()> {
    match &plan.mode {
        Mode::Cert { fingerprint } => cert(plan, controller, *fingerprint),
        Mode::Set { file, key, value } => set(plan, controller, file, key, value),
        Mode::Unset { file, key } => unset(file, key),
        Mode::ValidateFiles(files) => validate_files(plan, controller, files),
        Mode::Reencrypt { paths, dry_run } => reencrypt(plan, controller, paths, *dry_run),
        Mode::Ui {
            listen,
            open_browser,
        } => crate::ui::serve(plan, controller, listen, *open_browser),
        Mode::Completion(shell) => {
            let mut cmd = crate::cli::Cli::command();
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "kubectl-seal", &mut out);
            write_output(None, &out)
        }
        other => unreachable!("not a subcommand: {other:?}"),
    }
}

fn cert(plan: &Plan, controller: &mut Controller<'_>, fingerprint: bool) -> Result<()> {
    let bytes = cert_bytes(plan, controller)?;
    let cert = parse_cert(plan, &bytes)?;
    let key = cert.public_key();
    let not_after = cert.not_after();
    let expired = SystemTime::now() > not_after;
    eprintln!(
        "{} (RSA {} bits), valid until {}{}",
        key.key_id(),
        key.bits(),
        crate::time::format_utc(not_after),
        if expired {
            " (EXPIRED: sealing with it fails)"
        } else {
            ""
        }
    );
    if fingerprint {
        write_output(
            plan.output.as_deref(),
            format!("{}\n", key.key_id()).as_bytes(),
        )
    } else {
        write_output(plan.output.as_deref(), &bytes)
    }
}

/// Reads a file that must hold exactly one SealedSecret, as text.
fn read_one_sealed(file: &Path) -> Result<(String, SealedSecret)> {
    let bytes = read_file(file)?;
    let text =
        String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8", file.display()))?;
    let mut sealed = read_sealed_secrets(text.as_bytes())
        .with_context(|| format!("cannot read {}", file.display()))?;
    if sealed.len() != 1 {
        bail!(
            "{} holds {} SealedSecrets; set and unset edit a file with exactly one",
            file.display(),
            sealed.len()
        );
    }
    Ok((text, sealed.remove(0)))
}

/// Applies the text edit, then checks that the file still reads as the expected object.
fn edit_checked(
    file: &Path,
    text: &str,
    key: &str,
    change: Change<'_>,
    expected: &SealedSecret,
) -> Result<()> {
    let fail = || {
        format!(
            "cannot edit {} in place; the file is unchanged",
            file.display()
        )
    };
    let edited = edit(text, key, change).with_context(fail)?;
    let reread = read_sealed_secrets(edited.as_bytes()).with_context(fail)?;
    if reread.len() != 1 || &reread[0] != expected {
        bail!("{}: the edit would change more than item {key:?}", fail());
    }
    write_atomic(file, edited.as_bytes())
}

fn set(
    plan: &Plan,
    controller: &mut Controller<'_>,
    file: &Path,
    key: &str,
    value: &ValueSource,
) -> Result<()> {
    let (text, ss) = read_one_sealed(file)?;
    let scope = Scope::from_annotations(ss.metadata.annotations.as_ref());
    let name = ss.metadata.name.clone().unwrap_or_default();
    let namespace = ss.metadata.namespace.clone().unwrap_or_default();
    if scope != Scope::ClusterWide && namespace.is_empty() {
        bail!(
            "{} has no metadata.namespace; a {scope} SealedSecret needs one",
            file.display()
        );
    }
    if scope == Scope::Strict && name.is_empty() {
        bail!("{} has no metadata.name", file.display());
    }
    let cert = open_cert(plan, controller)?;
    let pq = crate::modes::pq_key(plan, &cert)?;
    let plaintext = match value {
        ValueSource::Literal(v) => v.clone().into_bytes(),
        ValueSource::File(p) => read_file(p)?,
        ValueSource::Stdin => read_input(&Input::Stdin)?,
    };
    let sealed = seal_api::seal_value(
        cert.public_key(),
        pq.as_ref(),
        &scope.label(&namespace, &name),
        &plaintext,
    )?;
    let b64 = encode_base64(&sealed);
    let mut expected = ss.clone();
    expected
        .spec
        .encrypted_data
        .insert(key.to_owned(), Value::String(b64.clone()));
    edit_checked(file, &text, key, Change::Set(&b64), &expected)
}

fn unset(file: &Path, key: &str) -> Result<()> {
    let (text, ss) = read_one_sealed(file)?;
    if !ss.spec.encrypted_data.contains_key(key) {
        let items: Vec<&str> = ss.spec.encrypted_data.keys().map(String::as_str).collect();
        bail!(
            "{} has no item {key:?}; its items are: {}",
            file.display(),
            if items.is_empty() {
                "(none)".to_owned()
            } else {
                items.join(", ")
            }
        );
    }
    let mut expected = ss.clone();
    expected.spec.encrypted_data.remove(key);
    edit_checked(file, &text, key, Change::Remove, &expected)
}

/// Offline checks of one SealedSecret against the certificate's key size (and, for items
/// sealed post-quantum, whether the certificate has an ML-KEM key).
pub fn check_offline(ss: &SealedSecret, modulus_len: usize, has_pq: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let annotations = ss.metadata.annotations.clone().unwrap_or_default();
    let mut declared = 0;
    for key in [ANNOTATION_NAMESPACE_WIDE, ANNOTATION_CLUSTER_WIDE] {
        if let Some(v) = annotations.get(key) {
            declared += 1;
            if v != "true" {
                problems.push(format!(
                    "annotation {key} is {v:?}; only exactly \"true\" counts, so this is sealed as strict"
                ));
            }
        }
    }
    if declared == 2 {
        problems.push("both scope annotations are set (cluster-wide wins); keep one".to_owned());
    }
    let scope = Scope::from_annotations(Some(&annotations));
    if scope != Scope::ClusterWide && ss.metadata.namespace.as_deref().is_none_or(str::is_empty) {
        problems.push(format!("a {scope} SealedSecret needs metadata.namespace"));
    }
    if ss.metadata.name.as_deref().is_none_or(str::is_empty) {
        problems.push("metadata.name is missing".to_owned());
    }
    if ss.spec.data.is_some() && !ss.spec.encrypted_data.is_empty() {
        problems.push(
            "cannot use the field 'encryptedData' and the deprecated field 'data' at the same time"
                .to_owned(),
        );
    }
    let mut items: Vec<(String, &Value)> = ss
        .spec
        .encrypted_data
        .iter()
        .map(|(k, v)| (k.clone(), v))
        .collect();
    let v1 = ss.spec.data.clone().map(Value::String);
    if let Some(v) = &v1 {
        items.push(("data".to_owned(), v));
    }
    for (item, value) in items {
        let Some(text) = value.as_str() else {
            problems.push(format!("item {item:?} is not a string"));
            continue;
        };
        let bytes = match decode_base64(text) {
            Ok(b) => b,
            Err(e) => {
                problems.push(format!("item {item:?} is not valid standard base64: {e}"));
                continue;
            }
        };
        // The hybrid format puts a 3-byte header before len(R) and the ML-KEM ciphertext after R.
        let hybrid = seal_api::crypto::is_hybrid(&bytes);
        let (header, kem_ct) = if hybrid { (3, 1088) } else { (0, 0) };
        if hybrid && !has_pq {
            problems.push(format!(
                "item {item:?} is sealed post-quantum (--pq), but the certificate has no ML-KEM-768 key"
            ));
            continue;
        }
        let Some(&[hi, lo]) = bytes.get(header..header + 2) else {
            problems.push(format!("item {item:?}: SealedSecret data is too short"));
            continue;
        };
        let rsa_len = usize::from(u16::from_be_bytes([hi, lo]));
        if rsa_len != modulus_len {
            problems.push(format!(
                "item {item:?} was sealed with a {}-bit key, but the certificate's key has {} bits",
                rsa_len * 8,
                modulus_len * 8
            ));
        } else if bytes.len() < header + 2 + rsa_len + kem_ct + 16 {
            problems.push(format!("item {item:?}: SealedSecret data is too short"));
        }
    }
    problems
}

fn validate_files(plan: &Plan, controller: &mut Controller<'_>, files: &[PathBuf]) -> Result<()> {
    let offline = plan.cert != CertSource::Controller;
    let modulus_len = if offline {
        let cert = open_cert(plan, controller)?;
        let has_pq = cert.mlkem_public_key().is_ok_and(|k| k.is_some());
        Some((cert.public_key().modulus_len(), has_pq))
    } else {
        None
    };
    let mut failed = 0;
    for file in files {
        let result = (|| -> Result<usize> {
            let bytes = read_file(file)?;
            let sealed = read_sealed_secrets(&bytes)?;
            if sealed.is_empty() {
                bail!("no SealedSecret in the file");
            }
            let mut problems = Vec::new();
            for ss in &sealed {
                let name = ss.metadata.name.clone().unwrap_or_default();
                let found = match modulus_len {
                    Some((len, has_pq)) => check_offline(ss, len, has_pq),
                    None => {
                        if controller.verify(&to_value(ss)?)? {
                            Vec::new()
                        } else {
                            vec![format!("unable to decrypt sealed secret: {name}")]
                        }
                    }
                };
                problems.extend(found.into_iter().map(|p| format!("{name}: {p}")));
            }
            if problems.is_empty() {
                Ok(sealed.len())
            } else {
                bail!(problems.join("; "))
            }
        })();
        match result {
            Ok(n) => say(&format!(
                "ok   {} ({n} SealedSecret{})",
                file.display(),
                if n == 1 { "" } else { "s" }
            ))?,
            Err(e) => {
                failed += 1;
                say(&format!(
                    "FAIL {}: {}",
                    file.display(),
                    crate::error_line(&e)
                ))?;
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} files failed validation", files.len());
    }
    Ok(())
}

/// Prints one report line on stdout; a closed pipe is an error (main exits quietly on it), not a
/// panic as with `println!`.
fn say(line: &str) -> Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").context("failed to write to standard output")
}

/// Every *.yaml, *.yml and *.json file under `paths`, sorted, each once.
fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                walk(&path, out)?;
            } else if has_manifest_extension(&path) {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.exists() {
            out.push(p.clone());
        } else {
            bail!("{} does not exist", p.display());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn has_manifest_extension(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["yaml", "yml", "json"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    })
}

/// Re-seals the items of `ss` that some other key than `cert`'s sealed, keeping each item's
/// format; with `pq`, classical items are upgraded to the hybrid format too. Returns how many.
fn reseal_offline(
    ss: &mut SealedSecret,
    keyring: &seal_api::Keyring,
    cert: &Certificate,
    pq: bool,
) -> Result<usize> {
    let newest = cert.public_key().key_id();
    let cert_pq = cert
        .mlkem_public_key()
        .context("cannot use the certificate's ML-KEM key")?;
    let scope = Scope::from_annotations(ss.metadata.annotations.as_ref());
    let label = scope.label(
        ss.metadata.namespace.as_deref().unwrap_or(""),
        ss.metadata.name.as_deref().unwrap_or(""),
    );
    let entries: Vec<_> = keyring.iter().collect();
    let keys: Vec<_> = entries.iter().map(|e| e.key()).collect();
    let reseal = |item: &str, text: &str| -> Result<Option<String>> {
        let ct = decode_base64(text).with_context(|| format!("item {item:?}"))?;
        let opened = seal_api::crypto::open(&keys, &label, &ct)
            .with_context(|| format!("item {item:?}: no --recovery-private-key opens it"))?;
        let was_hybrid = seal_api::crypto::is_hybrid(&ct);
        let hybrid = pq || was_hybrid;
        if entries[opened.key_index].id() == newest && was_hybrid == hybrid {
            return Ok(None);
        }
        let pq_key = match (hybrid, &cert_pq) {
            (false, _) => None,
            (true, Some(key)) => Some(key),
            (true, None) => bail!(
                "item {item:?} is sealed post-quantum, but the certificate has no ML-KEM-768 key; re-sealing it classically would weaken it (docs/pq.md)"
            ),
        };
        let sealed = seal_api::seal_value(cert.public_key(), pq_key, &label, &opened.plaintext)?;
        Ok(Some(encode_base64(&sealed)))
    };
    let mut changed = 0;
    let names: Vec<String> = ss.spec.encrypted_data.keys().cloned().collect();
    for item in names {
        let Some(text) = ss.spec.encrypted_data[&item].as_str().map(str::to_owned) else {
            bail!("item {item:?} is not a string");
        };
        if let Some(new) = reseal(&item, &text)? {
            ss.spec.encrypted_data.insert(item, Value::String(new));
            changed += 1;
        }
    }
    if let Some(blob) = ss.spec.data.clone()
        && let Some(new) = reseal("data", &blob)?
    {
        ss.spec.data = Some(new);
        changed += 1;
    }
    if changed > 0 {
        ss.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(ANNOTATION_KEY_ID.to_owned(), newest);
    }
    Ok(changed)
}

fn reencrypt(
    plan: &Plan,
    controller: &mut Controller<'_>,
    paths: &[PathBuf],
    dry_run: bool,
) -> Result<()> {
    let files = collect_files(paths)?;
    // A file named on the command line must hold SealedSecrets; a directory's others are skipped.
    let named = |f: &PathBuf| paths.iter().any(|p| p == f && !p.is_dir());
    let keyring = if plan.recovery_keys.is_empty() {
        None
    } else {
        Some(load_keyring(&plan.recovery_keys)?)
    };
    let cert = open_cert(plan, controller)?;
    let newest = cert.public_key().key_id();
    let (mut changed_files, mut unchanged, mut failed) = (0, 0, 0);
    for file in &files {
        let result = (|| -> Result<Option<String>> {
            let bytes = read_file(file)?;
            let Ok(docs) = read_documents(&bytes) else {
                return Ok(None);
            };
            let is_ss = |d: &Value| d.get("kind").and_then(Value::as_str) == Some("SealedSecret");
            if !docs.iter().any(is_ss) {
                return Ok(None);
            }
            if !docs.iter().all(is_ss) {
                bail!("mixes SealedSecrets with other objects; skipped");
            }
            let mut sealed = read_sealed_secrets(&bytes)?;
            let mut changed = 0;
            for ss in &mut sealed {
                match &keyring {
                    Some(ring) => changed += reseal_offline(ss, ring, &cert, plan.pq)?,
                    None => {
                        let hint = ss
                            .metadata
                            .annotations
                            .as_ref()
                            .and_then(|a| a.get(ANNOTATION_KEY_ID));
                        let upgrade = plan.pq && !crate::modes::all_hybrid(ss);
                        if hint != Some(&newest) || upgrade {
                            *ss = controller.rotate(&to_value(ss)?, plan.pq)?;
                            changed += 1;
                        }
                    }
                }
            }
            if changed == 0 {
                return Ok(Some(String::new()));
            }
            let format = Format::sniff(&bytes);
            let mut text = String::new();
            for ss in &sealed {
                text.push_str(&sealed_secret_to_string(ss, format)?);
            }
            if text.as_bytes() == bytes.as_slice() {
                return Ok(Some(String::new()));
            }
            if !dry_run {
                write_atomic(file, text.as_bytes())?;
            }
            Ok(Some(match &keyring {
                Some(_) => format!("{changed} item(s)"),
                None => format!("{changed} SealedSecret(s)"),
            }))
        })();
        let result = match result {
            Ok(None) if named(file) => Err(anyhow::anyhow!(
                "holds no SealedSecret (or is not YAML/JSON); name sealed secret files or directories"
            )),
            other => other,
        };
        match result {
            Ok(None) => {}
            Ok(Some(what)) if what.is_empty() => unchanged += 1,
            Ok(Some(what)) => {
                changed_files += 1;
                let verb = if dry_run {
                    "would re-encrypt"
                } else {
                    "re-encrypted"
                };
                say(&format!("{verb} {}: {what}", file.display()))?;
            }
            Err(e) => {
                failed += 1;
                say(&format!(
                    "FAIL {}: {}",
                    file.display(),
                    crate::error_line(&e)
                ))?;
            }
        }
    }
    let summary = format!(
        "{changed_files} file(s) {}, {unchanged} already sealed with {newest}",
        if dry_run { "to change" } else { "changed" }
    );
    if failed > 0 {
        bail!("{failed} file(s) could not be re-encrypted (FAIL lines above); {summary}");
    }
    eprintln!("{summary}");
    Ok(())
}
