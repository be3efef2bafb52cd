//! Writes that never destroy a good file: every file goes to a temporary file in the same
//! directory, is fsynced and renamed over the target; a checkpoint directory is built next to
//! the old one and swapped in as a unit.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A name in `path`'s directory that nothing else uses: `.NAME.KIND-PID-N`.
fn sibling(path: &Path, kind: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{kind}-{}-{n}", std::process::id()))
}

/// fsync a directory so that a rename inside it is durable (a no-op where directories cannot
/// be opened, e.g. on Windows).
fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    match File::open(dir) {
        Ok(d) => d.sync_all().or_else(|e| {
            // some file systems refuse fsync on directories; the rename is still atomic
            if e.kind() == io::ErrorKind::InvalidInput {
                Ok(())
            } else {
                Err(e)
            }
        }),
        Err(_) => Ok(()),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory is written,
/// fsynced and renamed over `path`, and the directory is fsynced. A crash, a kill or a full
/// disk at any moment leaves either the old file or the new one, never a mix or a truncated
/// file; on error the temporary file is removed.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("taosr1-doc-write-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("a.json");
/// taosr1_model::write_atomic(&path, b"{}").unwrap();
/// taosr1_model::write_atomic(&path, b"[1]").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"[1]");
/// assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1); // no temporary left behind
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
/// The I/O error of the first step that failed (the target is then untouched).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = sibling(path, "tmp");
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        sync_dir(path.parent().unwrap_or(Path::new(".")))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Swaps two existing paths atomically where the OS can (Linux `renameat2(RENAME_EXCHANGE)`);
/// `Ok(false)` where it cannot.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<bool> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both pointers are valid NUL-terminated strings for the duration of the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        // not supported by this kernel or file system: fall back
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => Ok(false),
        _ => Err(err),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> io::Result<bool> {
    Ok(false)
}

/// Replaces the directory `dir` as a unit. `fill` writes the new contents into a fresh staging
/// directory next to `dir` (same file system); every file in it is then fsynced and the
/// staging directory takes `dir`'s place: on Linux with one atomic exchange, so a reader sees
/// the complete old directory or the complete new one, never a new config next to old or
/// partial weights. Elsewhere the old directory is first renamed aside (a reader may then
/// briefly find no directory, never a mixed one). If `fill` fails, or the process dies before
/// the swap, `dir` is untouched; the staging directory is removed on error (after a kill it is
/// left as `.NAME.staging-*` and ignored).
///
/// ```
/// use std::fs;
/// let root = std::env::temp_dir().join(format!("taosr1-doc-dir-{}", std::process::id()));
/// let dir = root.join("ckpt");
/// fs::create_dir_all(&dir).unwrap();
/// fs::write(dir.join("config.json"), "old").unwrap();
/// // a failed save leaves the old directory as it was
/// let err = taosr1_model::replace_dir_atomic(&dir, |staging| {
///     fs::write(staging.join("config.json"), "new")?;
///     Err(std::io::Error::other("disk full"))
/// });
/// assert!(err.is_err());
/// assert_eq!(fs::read_to_string(dir.join("config.json")).unwrap(), "old");
/// // a good save replaces it
/// taosr1_model::replace_dir_atomic(&dir, |staging| fs::write(staging.join("config.json"), "new")).unwrap();
/// assert_eq!(fs::read_to_string(dir.join("config.json")).unwrap(), "new");
/// assert_eq!(fs::read_dir(&root).unwrap().count(), 1); // nothing left behind
/// # fs::remove_dir_all(&root).unwrap();
/// ```
///
/// # Errors
/// `fill`'s error, or the I/O error of the step that failed.
pub fn replace_dir_atomic<F>(dir: &Path, fill: F) -> io::Result<()>
where
    F: FnOnce(&Path) -> io::Result<()>,
{
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent)?;
    let staging = sibling(dir, "staging");
    fs::create_dir(&staging)?;
    let result = (|| {
        fill(&staging)?;
        for entry in fs::read_dir(&staging)? {
            let path = entry?.path();
            if path.is_file() {
                File::open(&path)?.sync_all()?;
            }
        }
        sync_dir(&staging)?;
        if !dir.exists() {
            fs::rename(&staging, dir)?;
            return sync_dir(&parent);
        }
        if exchange(&staging, dir)? {
            // `staging` now holds the old contents
            sync_dir(&parent)?;
            return fs::remove_dir_all(&staging);
        }
        let old = sibling(dir, "old");
        fs::rename(dir, &old)?;
        fs::rename(&staging, dir)?;
        sync_dir(&parent)?;
        fs::remove_dir_all(&old)
    })();
    if result.is_err() && staging.exists() {
        let _ = fs::remove_dir_all(&staging);
    }
    result
}
