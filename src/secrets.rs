//! Secrets at rest: ChaCha20-Poly1305 with a random nonce per value, keyed by
//! a 32-byte key from `OILMAT_SECRET_KEY` (64 hex digits) or from a key file
//! created on first use readable by its owner only (mode 0600; on Windows an
//! ACL naming only the current user), outside every workshop's folder.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// The environment variable that may hold the key (64 hex digits).
pub const KEY_ENV: &str = "OILMAT_SECRET_KEY";
/// The key file's name inside the data dir (a dot name: never a workshop).
pub const KEY_FILE: &str = ".oilmat-secret.key";
const NONCE_LEN: usize = 12;

/// A password, token or API key held in memory: a [`SecretString`] (zeroed
/// when dropped, redacted in `Debug`), compared in constant time.
#[derive(Clone, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(SecretString::from(value.into()))
    }

    /// The value itself, for the one place that must use it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// True when `given` is this secret; the time taken does not depend on
    /// where the first difference is.
    pub fn matches(&self, given: &str) -> bool {
        given.as_bytes().ct_eq(self.expose().as_bytes()).into()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.matches(other.expose())
    }
}

impl Eq for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What can go wrong with secrets.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key could not be read or created.
    #[error("secret key {path}: {message}")]
    Key {
        /// Where the key was looked for.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A value did not decrypt: wrong key or tampered data.
    #[error("a stored secret does not decrypt with this key (wrong key, or the data was altered)")]
    Decrypt,
}

/// Encrypts and decrypts secrets with the service's key.
#[derive(Clone)]
pub struct Cipher {
    aead: ChaCha20Poly1305,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cipher(***)")
    }
}

impl Cipher {
    /// The key from the environment, else from the key file beside the
    /// data dir, never inside it (design.md rule 5: a copy of the data dir
    /// alone decrypts nothing), created if missing. A key file an older
    /// version left inside the data dir is moved out at first start.
    pub fn load(data_dir: &Path) -> Result<Cipher, Error> {
        let path = default_key_path(data_dir);
        let old = data_dir.join(KEY_FILE);
        if std::env::var_os(KEY_ENV).is_none() && old.is_file() && !path.exists() {
            std::fs::rename(&old, &path).map_err(|e| Error::Key {
                path: old.display().to_string(),
                message: format!(
                    "cannot move it out of the data dir to {}: {e}",
                    path.display()
                ),
            })?;
            sync_dir(&path);
            tracing::warn!(from = %old.display(), to = %path.display(), "moved the key file out of the data dir");
        }
        Cipher::load_file(&path)
    }

    /// The key from the environment, else from the key file at `path`
    /// (created if missing).
    pub fn load_file(path: &Path) -> Result<Cipher, Error> {
        if let Ok(hex) = std::env::var(KEY_ENV) {
            let key = parse_hex_key(&hex).ok_or_else(|| Error::Key {
                path: KEY_ENV.to_string(),
                message: "must be 64 hex digits".to_string(),
            })?;
            return Ok(Cipher::from_key(&key));
        }
        let path = path.to_path_buf();
        let key = read_or_create_key(&path).map_err(|e| Error::Key {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Ok(Cipher::from_key(&key))
    }

    /// A cipher with the given key.
    pub fn from_key(key: &[u8; 32]) -> Cipher {
        Cipher {
            aead: ChaCha20Poly1305::new(Key::from_slice(key)),
        }
    }

    /// Encrypts `plain`, bound to `context` (which must match on decrypt).
    pub fn seal(&self, plain: &[u8], context: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plain,
            aad: context.as_bytes(),
        };
        let sealed = self
            .aead
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts what `seal` made with the same context.
    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, Error> {
        if sealed.len() < NONCE_LEN {
            return Err(Error::Decrypt);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let payload = Payload {
            msg: body,
            aad: context.as_bytes(),
        };
        self.aead
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| Error::Decrypt)
    }
}

fn parse_hex_key(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the key file lives by default: beside the data dir (in its parent
/// folder), so that the data dir holds ciphertext only.
pub fn default_key_path(data_dir: &Path) -> PathBuf {
    let parent = data_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parent.join(KEY_FILE)
}

/// Makes a new or renamed entry of `path`'s folder durable (best effort).
fn sync_dir(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

fn read_or_create_key(path: &PathBuf) -> std::io::Result<[u8; 32]> {
    match read_key_text(path) {
        Ok(text) => parse_hex_key(&text).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "not 64 hex digits")
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key(path),
        Err(e) => Err(e),
    }
}

/// The key file's text; an empty file is one another process is still
/// writing (it creates the file, then writes and syncs it): wait for it.
fn read_key_text(path: &Path) -> std::io::Result<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let text = std::fs::read_to_string(path)?;
        if !text.trim().is_empty() || std::time::Instant::now() >= deadline {
            return Ok(text);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn create_key(path: &PathBuf) -> std::io::Result<[u8; 32]> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    let created = crate::platform::create_private_file(path);
    match created {
        Ok(mut file) => {
            file.write_all(to_hex(&key).as_bytes())?;
            file.sync_all()?;
            sync_dir(path);
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_or_create_key(path),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_the_same_context_only() {
        let cipher = Cipher::from_key(&[7u8; 32]);
        let sealed = cipher.seal(b"hunter2", "order/1");
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(cipher.open(&sealed, "order/1").unwrap(), b"hunter2");
        assert!(cipher.open(&sealed, "order/2").is_err());
        assert!(Cipher::from_key(&[8u8; 32])
            .open(&sealed, "order/1")
            .is_err());
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_created_private_beside_the_data_dir_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("workshop_logs");
        let a = Cipher::load(&data).unwrap();
        assert!(!data.join(KEY_FILE).exists(), "never inside the data dir");
        let key = dir.path().join(KEY_FILE);
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = Cipher::load(&data).unwrap();
        assert_eq!(b.open(&a.seal(b"x", "c"), "c").unwrap(), b"x");
    }

    #[cfg(unix)]
    #[test]
    fn an_old_key_inside_the_data_dir_is_moved_out() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("workshop_logs");
        std::fs::create_dir_all(&data).unwrap();
        let old = Cipher::load_file(&data.join(KEY_FILE)).unwrap();
        let sealed = old.seal(b"kept", "c");
        let moved = Cipher::load(&data).unwrap();
        assert_eq!(moved.open(&sealed, "c").unwrap(), b"kept");
        assert!(!data.join(KEY_FILE).exists());
        assert!(dir.path().join(KEY_FILE).exists());
    }

    #[test]
    fn secret_debug_hides_the_value() {
        let shown = format!("{:?}", Secret::new("hunter2"));
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn secrets_match_exactly() {
        let secret = Secret::new("secret");
        assert!(secret.matches("secret"));
        assert!(!secret.matches("secreT"));
        assert!(!secret.matches("secret2"));
        assert!(!secret.matches(""));
        assert!(Secret::new("").matches(""));
        assert_eq!(secret, Secret::new("secret"));
        assert_ne!(secret, Secret::new("other"));
    }
}
