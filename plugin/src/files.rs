//! Reading inputs and writing outputs atomically.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context as _, Result, bail};
use seal_api::MAX_INPUT_BYTES;

use crate::plan::Input;

/// Reads all of an input, at most [`MAX_INPUT_BYTES`].
pub fn read_input(input: &Input) -> Result<Vec<u8>> {
    match input {
        Input::Stdin => {
            read_capped(std::io::stdin().lock()).context("failed to read standard input")
        }
        Input::File(path) => read_file(path),
    }
}

/// Reads a file, at most [`MAX_INPUT_BYTES`], naming it on failure. A file that can't be opened
/// or read is reported in Go's words, as kubeseal reports it (`open PATH: no such file or
/// directory`), since scripts and upstream's tests match that text.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    let file = fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("open {}: {}", path.display(), go_error_text(&e)))?;
    let mut buf = Vec::new();
    take_capped(file)
        .read_to_end(&mut buf)
        .map_err(|e| anyhow::anyhow!("read {}: {}", path.display(), go_error_text(&e)))?;
    check_size(&buf).with_context(|| format!("failed to read {}", path.display()))?;
    Ok(buf)
}

/// An OS error as Go's `syscall.Errno` prints it: the C library's message with a lower-case
/// first letter and without Rust's ` (os error N)` suffix.
pub fn go_error_text(err: &std::io::Error) -> String {
    let text = err.to_string();
    let Some(code) = err.raw_os_error() else {
        return text;
    };
    let text = text
        .strip_suffix(&format!(" (os error {code})"))
        .unwrap_or(&text);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Reads to the end, but never more than one byte past the limit: an endless pipe or a huge
/// file fails fast instead of filling memory.
fn read_capped(reader: impl Read) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    take_capped(reader).read_to_end(&mut buf)?;
    check_size(&buf)?;
    Ok(buf)
}

fn take_capped<R: Read>(reader: R) -> std::io::Take<R> {
    let limit = u64::try_from(MAX_INPUT_BYTES).unwrap_or(u64::MAX);
    reader.take(limit + 1)
}

fn check_size(buf: &[u8]) -> Result<()> {
    if buf.len() > MAX_INPUT_BYTES {
        bail!(
            "it is larger than {} MiB, the most kubectl-seal reads; a Secret holds at most 1 MiB, so check the input",
            MAX_INPUT_BYTES >> 20
        );
    }
    Ok(())
}

/// Writes `bytes` to stdout, or atomically to `path`.
pub fn write_output(path: Option<&Path>, bytes: &[u8]) -> Result<()> {
    match path {
        Some(path) => write_atomic(path, bytes),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)
                .and_then(|()| out.flush())
                .context("failed to write to standard output")
        }
    }
}

/// As [`write_output`], for plaintext (unsealed Secrets): a file is written with mode 0600.
pub fn write_private_output(path: Option<&Path>, bytes: &[u8]) -> Result<()> {
    match path {
        Some(path) => write_file(path, bytes, true),
        None => write_output(None, bytes),
    }
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`: readers see the
/// old content or the new, never a part. An existing file keeps its permissions.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file(path, bytes, false)
}

/// Writes `path` atomically (see [`write_atomic`]); `private` makes the file mode 0600. A symlink
/// is followed, so the file it points to is replaced and the link stays. A device or a pipe
/// (`/dev/stdout`, `/dev/null`, a FIFO) is written to in place: it can't be replaced.
fn write_file(path: &Path, bytes: &[u8], private: bool) -> Result<()> {
    let shown = path.display();
    match fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {
            bail!("cannot write {shown}: it is a directory; give a file path")
        }
        Ok(meta) if !meta.is_file() => {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot write {shown}"))?;
            return f
                .write_all(bytes)
                .and_then(|()| f.flush())
                .with_context(|| format!("cannot write {shown}"));
        }
        _ => {}
    }
    let target = match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => fs::canonicalize(path).map_err(|_| {
            anyhow::anyhow!("cannot write {shown}: it is a symlink to a missing file; create the file or remove the link")
        })?,
        _ => path.to_path_buf(),
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        let why = if dir.exists() {
            "is not a directory"
        } else {
            "does not exist; create it first"
        };
        bail!("cannot write {shown}: {} {why}", dir.display());
    }
    let file_name = target
        .file_name()
        .with_context(|| format!("cannot write {shown}: it is not a file name"))?;
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let tmp = dir.join(format!(
        ".{}.{}-{}.tmp",
        file_name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| -> Result<()> {
        let mut opts = fs::OpenOptions::new();
        // A fresh name: never follow or reuse something already there.
        opts.write(true).create_new(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(&tmp)
            .with_context(|| format!("failed to create a temporary file in {}", dir.display()))?;
        if private {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                // The umask can only remove bits; make sure nothing else reads plaintext.
                f.set_permissions(fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("failed to restrict {}", tmp.display()))?;
            }
        } else if let Ok(meta) = fs::metadata(&target) {
            // Best effort: keep the mode of the file being replaced.
            let _ = f.set_permissions(meta.permissions());
        }
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .with_context(|| format!("failed to write {}", tmp.display()))?;
        fs::rename(&tmp, &target).with_context(|| format!("failed to replace {shown}"))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {shown}"))
}
