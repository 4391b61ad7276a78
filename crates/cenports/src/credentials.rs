//! Store credentials between [`crate::connect`] (plaintext, checked), [`crate::secrets`] (the
//! AEAD) and [`crate::storage`] (opaque bytes).
//!
//! # Layout at rest
//! [`SecretBox::encrypt`] returns `nonce (24 bytes) || ciphertext || tag`. Storage keeps an
//! [`EncryptedSecret`] with two columns, so the sealed value is **split**: `nonce` holds the 24
//! nonce bytes and `ciphertext` the rest (ciphertext and tag). This is what the storage type
//! documents ("the random nonce used for this ciphertext") and what the house style asks for
//! (a random nonce stored beside the ciphertext). [`decrypt_credentials`] joins them again; it
//! also accepts a value stored whole in `ciphertext` with an empty `nonce`, so a row written
//! that way by other code still opens.
//!
//! # Associated data
//! Each value is bound to its store and purpose with [`secrets::aad`]`(hash, purpose)`, the
//! purposes being [`PURPOSE_ACCESS_TOKEN`] and [`PURPOSE_CLIENT_SECRET`]: a token copied into
//! another store's row, or into the client secret column, fails to decrypt.

use std::fmt;

use bigcommerce_client::ClientConfig;
use secrecy::SecretString;

use crate::connect::{ConnectSettings, StoreHash, VerifiedStore};
use crate::secrets::{self, SecretBox, SecretsError, NONCE_LEN};
use crate::storage::{EncryptedSecret, StoreCredentials, StoreRecord};

/// The AAD purpose of the access token.
pub const PURPOSE_ACCESS_TOKEN: &str = "access_token";
/// The AAD purpose of the client secret.
pub const PURPOSE_CLIENT_SECRET: &str = "client_secret";

/// Errors opening stored credentials. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// A value did not decrypt (wrong key, or the row was changed).
    #[error("the stored {purpose} of store {store_hash} could not be decrypted")]
    Decrypt {
        /// The store hash.
        store_hash: String,
        /// `access_token` or `client_secret`.
        purpose: &'static str,
        /// Why (wrong key, truncated value...).
        #[source]
        source: SecretsError,
    },
    /// The store was disconnected: its secrets were forgotten.
    #[error("store {store_hash} is disconnected: reconnect it with `cenports connect` to sync")]
    Disconnected {
        /// The store hash.
        store_hash: String,
    },
    /// The stored remote id is not a store hash.
    #[error("store {store_hash:?} has no valid BigCommerce store hash; reconnect it")]
    InvalidStoreHash {
        /// What is stored.
        store_hash: String,
    },
}

/// Credentials opened for use. `Debug` prints `***` for the secrets.
#[derive(Clone)]
pub struct DecryptedCredentials {
    /// The API account's client id (not a secret).
    pub client_id: String,
    /// The client secret (signs webhooks).
    pub client_secret: SecretString,
    /// The access token (authenticates API calls).
    pub access_token: SecretString,
}

impl fmt::Debug for DecryptedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptedCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("access_token", &"***")
            .finish()
    }
}

/// Seals one secret and splits the result into storage's two columns.
fn seal(secret_box: &SecretBox, secret: &SecretString, aad: &str) -> EncryptedSecret {
    let mut sealed = secret_box.encrypt(secret, aad);
    let ciphertext = sealed.split_off(NONCE_LEN);
    EncryptedSecret {
        ciphertext,
        nonce: sealed,
    }
}

/// Joins storage's two columns and opens the value.
fn open(
    secret_box: &SecretBox,
    value: &EncryptedSecret,
    store_hash: &str,
    purpose: &'static str,
) -> Result<SecretString, CredentialsError> {
    let mut sealed = Vec::with_capacity(value.nonce.len() + value.ciphertext.len());
    sealed.extend_from_slice(&value.nonce);
    sealed.extend_from_slice(&value.ciphertext);
    secret_box
        .decrypt(&sealed, &secrets::aad(store_hash, purpose))
        .map_err(|source| CredentialsError::Decrypt {
            store_hash: store_hash.to_owned(),
            purpose,
            source,
        })
}

/// Encrypts a verified store's secrets for [`crate::storage::NewStore::credentials`].
pub fn encrypt_credentials(secret_box: &SecretBox, store: &VerifiedStore) -> StoreCredentials {
    let hash = store.store_hash.as_str();
    StoreCredentials {
        client_id: store.client_id.clone(),
        client_secret: seal(
            secret_box,
            &store.client_secret,
            &secrets::aad(hash, PURPOSE_CLIENT_SECRET),
        ),
        access_token: seal(
            secret_box,
            &store.access_token,
            &secrets::aad(hash, PURPOSE_ACCESS_TOKEN),
        ),
    }
}

/// Opens credentials read with [`crate::storage::Storage::get_store_credentials`] for the
/// store whose hash is `store_hash` (the store record's `remote_id`).
pub fn decrypt_credentials(
    secret_box: &SecretBox,
    store_hash: &str,
    credentials: &StoreCredentials,
) -> Result<DecryptedCredentials, CredentialsError> {
    Ok(DecryptedCredentials {
        client_id: credentials.client_id.clone(),
        client_secret: open(
            secret_box,
            &credentials.client_secret,
            store_hash,
            PURPOSE_CLIENT_SECRET,
        )?,
        access_token: open(
            secret_box,
            &credentials.access_token,
            store_hash,
            PURPOSE_ACCESS_TOKEN,
        )?,
    })
}

/// Opens what [`crate::storage::Storage::get_store_credentials`] returned for `store`:
/// `None` (a disconnected store) is [`CredentialsError::Disconnected`].
pub fn open_store_credentials(
    secret_box: &SecretBox,
    store: &StoreRecord,
    stored: Option<&StoreCredentials>,
) -> Result<DecryptedCredentials, CredentialsError> {
    let stored = stored.ok_or_else(|| CredentialsError::Disconnected {
        store_hash: store.remote_id.clone(),
    })?;
    decrypt_credentials(secret_box, &store.remote_id, stored)
}

/// The client configuration to sync a stored store. The API host is the operator's
/// (`settings`), never the one recorded with the store, as for connect.
pub fn client_config(
    settings: &ConnectSettings,
    store: &StoreRecord,
    credentials: &DecryptedCredentials,
) -> Result<ClientConfig, CredentialsError> {
    let hash =
        StoreHash::parse(&store.remote_id).ok_or_else(|| CredentialsError::InvalidStoreHash {
            store_hash: store.remote_id.clone(),
        })?;
    Ok(settings.client_config(
        &hash,
        credentials.access_token.clone(),
        &credentials.client_id,
        Some(credentials.client_secret.clone()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use url::Url;

    fn verified(hash: &str) -> VerifiedStore {
        VerifiedStore {
            email: "a@example.com".into(),
            store_hash: StoreHash::parse(hash).unwrap(),
            api_base_url: Url::parse("http://127.0.0.1:1").unwrap(),
            client_id: "cid".into(),
            client_secret: SecretString::from("the-secret".to_owned()),
            access_token: SecretString::from("the-token".to_owned()),
            profile: Default::default(),
            scopes: Vec::new(),
        }
    }

    #[test]
    fn credentials_round_trip_with_the_nonce_stored_beside_the_ciphertext() {
        let secret_box = SecretBox::from_key_bytes(&[7; 32]).unwrap();
        let sealed = encrypt_credentials(&secret_box, &verified("abc123"));
        assert_eq!(sealed.access_token.nonce.len(), NONCE_LEN);
        assert!(!sealed
            .access_token
            .ciphertext
            .windows(9)
            .any(|w| w == b"the-token"));
        let opened = decrypt_credentials(&secret_box, "abc123", &sealed).unwrap();
        assert_eq!(opened.access_token.expose_secret(), "the-token");
        assert_eq!(opened.client_secret.expose_secret(), "the-secret");
        assert!(!format!("{opened:?}").contains("the-token"));
    }

    #[test]
    fn credentials_of_another_store_or_swapped_columns_do_not_open() {
        let secret_box = SecretBox::from_key_bytes(&[7; 32]).unwrap();
        let mut sealed = encrypt_credentials(&secret_box, &verified("abc123"));
        assert!(decrypt_credentials(&secret_box, "other1", &sealed).is_err());
        std::mem::swap(&mut sealed.access_token, &mut sealed.client_secret);
        assert!(decrypt_credentials(&secret_box, "abc123", &sealed).is_err());
    }

    #[test]
    fn a_value_stored_whole_with_an_empty_nonce_still_opens() {
        let secret_box = SecretBox::from_key_bytes(&[7; 32]).unwrap();
        let mut sealed = encrypt_credentials(&secret_box, &verified("abc123"));
        let mut whole = std::mem::take(&mut sealed.access_token.nonce);
        whole.extend_from_slice(&sealed.access_token.ciphertext);
        sealed.access_token.ciphertext = whole;
        let opened = decrypt_credentials(&secret_box, "abc123", &sealed).unwrap();
        assert_eq!(opened.access_token.expose_secret(), "the-token");
    }
}
