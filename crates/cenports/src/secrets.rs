//! Encryption at rest of store credentials.
//!
//! Access tokens and client secrets are stored sealed with XChaCha20-Poly1305 (RustCrypto's
//! `chacha20poly1305`), an AEAD: the ciphertext is authenticated, so a changed byte is
//! detected instead of decrypting to garbage.
//!
//! - **A random 24-byte nonce per value**, stored in front of the ciphertext
//!   (`nonce || ciphertext || tag`). XChaCha's 192-bit nonce makes random nonces safe for any
//!   number of values under one key, so no counter has to be kept consistent across processes.
//! - **Associated data binds a value to its row and purpose**, e.g.
//!   `store:{hash}:access_token` ([`aad`]). A ciphertext copied to another store's row, or
//!   from the client secret column to the token column, fails to decrypt.
//! - **The key** is 32 bytes, from configuration (`CENPORTS_SECRET_KEY`, base64) or a key
//!   file (default [`DEFAULT_KEY_FILE`] next to the database) created on first run with mode
//!   0600. A key file that other users can read is refused on unix. Key material never appears
//!   in `Debug` output or errors.
//!
//! Losing the key loses the stored credentials, not the store: the merchant reconnects. The
//! error messages say so.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// The environment variable holding the key (32 bytes, base64).
pub const SECRET_KEY_ENV: &str = "CENPORTS_SECRET_KEY";
/// The key file's default name, next to the database.
pub const DEFAULT_KEY_FILE: &str = "cenports.key";
/// Key length in bytes.
pub const KEY_LEN: usize = 32;
/// Nonce length in bytes (XChaCha20-Poly1305).
pub const NONCE_LEN: usize = 24;
/// Authentication tag length in bytes.
pub const TAG_LEN: usize = 16;

/// The associated data for one secret of one store: `store:{hash}:{purpose}`, e.g.
/// `aad("abc123", "access_token")`.
pub fn aad(store_hash: &str, purpose: &str) -> String {
    format!("store:{store_hash}:{purpose}")
}

/// Errors of [`SecretBox`]. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The configured key is not 32 bytes of base64.
    #[error(
        "the secret key is not usable: {reason}; set {SECRET_KEY_ENV} to 32 random bytes in \
         base64 (e.g. the output of `openssl rand -base64 32`), or unset it to use a key file"
    )]
    InvalidKey {
        /// What is wrong with it (never the key itself).
        reason: String,
    },

    /// The key file exists but does not hold a key.
    #[error(
        "the key file {path} does not hold a key ({reason}): restore the original key file, or \
         move it away to create a new one (the stored credentials are then lost and each store \
         must be reconnected)"
    )]
    InvalidKeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it (never the key itself).
        reason: String,
    },

    /// Other users may read the key file.
    #[error(
        "the key file {path} can be read or written by other users (mode {mode:o}): run \
         `chmod 600 {path}` and start again",
        path = path.display()
    )]
    InsecureKeyFile {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// The key file could not be read or created.
    #[error(
        "could not {action} the key file {path}: {source}; check that the directory exists and \
         is writable by this user",
        path = path.display()
    )]
    KeyFileIo {
        /// `read` or `create`.
        action: &'static str,
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// The stored value is too short to be a sealed secret.
    #[error(
        "the stored secret is truncated ({len} bytes, at least {min} expected): reconnect the store \
         to store its credentials again"
    )]
    Truncated {
        /// Its length.
        len: usize,
        /// The shortest possible sealed value.
        min: usize,
    },

    /// Authentication failed: another key, another row or purpose, or altered bytes.
    #[error(
        "the secret key does not match the one these credentials were stored with (or the stored \
         value was altered or belongs to another store): restore the original key file or \
         reconnect the store"
    )]
    Decrypt,

    /// The decrypted bytes are not UTF-8 (only possible if they were sealed by other code).
    #[error("the stored secret is not text: reconnect the store to store its credentials again")]
    NotUtf8,
}

/// Seals and opens secrets with one key. Cheap to share by reference; `Debug` prints no key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretBox")
            .field("algorithm", &"XChaCha20-Poly1305")
            .field("key", &"***")
            .finish()
    }
}

impl SecretBox {
    /// A box with this 32-byte key.
    pub fn from_key_bytes(key: &[u8]) -> Result<Self, SecretsError> {
        if key.len() != KEY_LEN {
            return Err(SecretsError::InvalidKey {
                reason: format!("it is {} bytes long, {KEY_LEN} are needed", key.len()),
            });
        }
        let cipher =
            XChaCha20Poly1305::new_from_slice(key).map_err(|_| SecretsError::InvalidKey {
                reason: format!("{KEY_LEN} bytes are needed"),
            })?;
        Ok(Self { cipher })
    }

    /// A box with a key given as base64 text (the `CENPORTS_SECRET_KEY` form).
    pub fn from_base64(key: &SecretString) -> Result<Self, SecretsError> {
        let bytes = decode_key(key.expose_secret()).map_err(|reason| SecretsError::InvalidKey {
            reason: format!("{SECRET_KEY_ENV} {reason}"),
        })?;
        Self::from_key_bytes(&bytes)
    }

    /// A box from the configured key when there is one, else from the key file at `path`
    /// (created on first run).
    pub fn from_config(key: Option<&SecretString>, key_file: &Path) -> Result<Self, SecretsError> {
        match key {
            Some(key) => Self::from_base64(key),
            None => Self::load_or_create(key_file),
        }
    }

    /// Loads the key file at `path`, or creates it with a new random key (mode 0600 on unix)
    /// when it does not exist. A key file that other users can read is refused.
    ///
    /// Creation is atomic: the key is written to a temporary file in the same directory and
    /// hard-linked into place, which fails if another process created the file first; that
    /// process's key is then used. A reader never sees a half-written key.
    pub fn load_or_create(path: &Path) -> Result<Self, SecretsError> {
        match Self::load(path) {
            Err(SecretsError::KeyFileIo { source, .. })
                if source.kind() == io::ErrorKind::NotFound =>
            {
                create_key_file(path)?;
                Self::load(path)
            }
            other => other,
        }
    }

    /// Loads an existing key file (base64 text, one line).
    pub fn load(path: &Path) -> Result<Self, SecretsError> {
        let io_error = |source| SecretsError::KeyFileIo {
            action: "read",
            path: path.to_path_buf(),
            source,
        };
        let metadata = fs::metadata(path).map_err(io_error)?;
        check_permissions(path, &metadata)?;
        let text = Zeroizing::new(fs::read_to_string(path).map_err(io_error)?);
        let bytes = decode_key(&text).map_err(|reason| SecretsError::InvalidKeyFile {
            path: path.to_path_buf(),
            reason,
        })?;
        Self::from_key_bytes(&bytes)
    }

    /// Seals `secret` for the row and purpose named by `aad`: `nonce || ciphertext || tag`.
    pub fn encrypt(&self, secret: &SecretString, aad: &str) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.expose_secret().as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            // Encryption fails only for messages beyond ~256 GiB; a token is a few bytes.
            .expect("XChaCha20-Poly1305 encrypts any message shorter than 256 GiB");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a value sealed by [`SecretBox::encrypt`] with the same key and `aad`.
    pub fn decrypt(&self, sealed: &[u8], aad: &str) -> Result<SecretString, SecretsError> {
        let min = NONCE_LEN + TAG_LEN;
        if sealed.len() < min {
            return Err(SecretsError::Truncated {
                len: sealed.len(),
                min,
            });
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let plain = Zeroizing::new(
            self.cipher
                .decrypt(
                    XNonce::from_slice(nonce),
                    Payload {
                        msg: ciphertext,
                        aad: aad.as_bytes(),
                    },
                )
                .map_err(|_| SecretsError::Decrypt)?,
        );
        let text = std::str::from_utf8(&plain).map_err(|_| SecretsError::NotUtf8)?;
        Ok(SecretString::from(text.to_owned()))
    }
}

/// Decodes base64 key text; the error says what is wrong without echoing the text.
fn decode_key(text: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let bytes = BASE64
        .decode(text.trim())
        .map_err(|_| "is not valid base64".to_owned())?;
    if bytes.len() != KEY_LEN {
        return Err(format!(
            "decodes to {} bytes, {KEY_LEN} are needed",
            bytes.len()
        ));
    }
    Ok(Zeroizing::new(bytes))
}

fn create_key_file(path: &Path) -> Result<(), SecretsError> {
    let io_error = |source| SecretsError::KeyFileIo {
        action: "create",
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io_error)?;
    }
    let key = XChaCha20Poly1305::generate_key(&mut OsRng);
    let text = Zeroizing::new(format!("{}\n", BASE64.encode(key.as_slice())));

    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp_name);
    let written = (|| {
        let mut file = new_private_file(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()
    })();
    if let Err(source) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_error(source));
    }
    // `hard_link` never replaces an existing file: if another process won the race, its key
    // stays and ours is discarded.
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            tracing::info!(key_file = %path.display(), "created a new secret key file");
            Ok(())
        }
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(io_error(source)),
    }
}

#[cfg(unix)]
fn new_private_file(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn new_private_file(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
fn check_permissions(path: &Path, metadata: &fs::Metadata) -> Result<(), SecretsError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretsError::InsecureKeyFile {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path, _metadata: &fs::Metadata) -> Result<(), SecretsError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_starts_with_its_nonce_and_ends_with_a_tag() {
        let secrets = SecretBox::from_key_bytes(&[7; KEY_LEN]).unwrap();
        let sealed = secrets.encrypt(&SecretString::from("abc"), "store:x:access_token");
        assert_eq!(sealed.len(), NONCE_LEN + 3 + TAG_LEN);
        let again = secrets.encrypt(&SecretString::from("abc"), "store:x:access_token");
        assert_ne!(sealed[..NONCE_LEN], again[..NONCE_LEN], "nonces are random");
    }

    #[test]
    fn a_key_of_the_wrong_length_is_refused_without_echoing_it() {
        let error = SecretBox::from_base64(&SecretString::from("c2hvcnQ=")).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("decodes to 5 bytes"), "{message}");
        assert!(!message.contains("c2hvcnQ"), "{message}");
    }
}
