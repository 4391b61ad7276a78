//! Store credentials between a channel's connect check (plaintext, checked),
//! [`crate::secrets`] (the AEAD) and [`crate::storage`] (opaque bytes), for every channel.
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
//! Each value is bound to its store (the channel's store key, e.g. a store hash)
//! and purpose with [`secrets::aad`]`(store_key, purpose)`, the
//! purposes being [`PURPOSE_ACCESS_TOKEN`] and [`PURPOSE_CLIENT_SECRET`]: a token copied into
//! another store's row, or into the client secret column, fails to decrypt.

use secrecy::SecretString;

use super::{Credentials, VerifiedStore};
use crate::secrets::{self, SecretBox, SecretsError, NONCE_LEN};
use crate::storage::{
    EncryptedSecret, NewStore, Storage, StorageError, StoreCredentials, StoreRecord,
};

/// The AAD purpose of the access token.
pub const PURPOSE_ACCESS_TOKEN: &str = "access_token";
/// The AAD purpose of the client secret.
pub const PURPOSE_CLIENT_SECRET: &str = "client_secret";

/// Errors opening stored credentials. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// A value did not decrypt (wrong key, or the row was changed).
    #[error("the stored {purpose} of store {store} could not be decrypted")]
    Decrypt {
        /// The channel's store key.
        store: String,
        /// `access_token` or `client_secret`.
        purpose: &'static str,
        /// Why (wrong key, truncated value...).
        #[source]
        source: SecretsError,
    },
    /// The store was disconnected: its secrets were forgotten.
    #[error("store {store} is disconnected: reconnect it with `cenports connect` to sync")]
    Disconnected {
        /// The channel's store key.
        store: String,
    },
}

/// Credentials opened for use (the seam's [`Credentials`]).
pub type DecryptedCredentials = Credentials;

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
    store_key: &str,
    purpose: &'static str,
) -> Result<SecretString, CredentialsError> {
    let mut sealed = Vec::with_capacity(value.nonce.len() + value.ciphertext.len());
    sealed.extend_from_slice(&value.nonce);
    sealed.extend_from_slice(&value.ciphertext);
    secret_box
        .decrypt(&sealed, &secrets::aad(store_key, purpose))
        .map_err(|source| CredentialsError::Decrypt {
            store: store_key.to_owned(),
            purpose,
            source,
        })
}

/// Encrypts a store's credentials for [`crate::storage::NewStore::credentials`], bound to the
/// channel's store key.
pub fn encrypt_credentials(
    secret_box: &SecretBox,
    store_key: &str,
    credentials: &Credentials,
) -> StoreCredentials {
    StoreCredentials {
        client_id: credentials.client_id.clone(),
        client_secret: seal(
            secret_box,
            &credentials.client_secret,
            &secrets::aad(store_key, PURPOSE_CLIENT_SECRET),
        ),
        access_token: seal(
            secret_box,
            &credentials.access_token,
            &secrets::aad(store_key, PURPOSE_ACCESS_TOKEN),
        ),
    }
}

/// Opens credentials read with [`crate::storage::Storage::get_store_credentials`] for the
/// store whose key is `store_key` (the store record's `remote_id`).
pub fn decrypt_credentials(
    secret_box: &SecretBox,
    store_key: &str,
    credentials: &StoreCredentials,
) -> Result<DecryptedCredentials, CredentialsError> {
    Ok(DecryptedCredentials {
        client_id: credentials.client_id.clone(),
        client_secret: open(
            secret_box,
            &credentials.client_secret,
            store_key,
            PURPOSE_CLIENT_SECRET,
        )?,
        access_token: open(
            secret_box,
            &credentials.access_token,
            store_key,
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
        store: store.remote_id.clone(),
    })?;
    decrypt_credentials(secret_box, &store.remote_id, stored)
}

/// Saves a checked store under the user of its email (created if new), with its credentials
/// encrypted by `secret_box`: what `cenports connect` and the dashboard's connect page do once
/// the channel's check has passed (and never before).
pub async fn save_verified(
    storage: &Storage,
    secret_box: &SecretBox,
    verified: &VerifiedStore,
) -> Result<StoreRecord, StorageError> {
    let user = storage.ensure_user(&verified.email).await?;
    let new_store = NewStore {
        channel: verified.channel.to_owned(),
        remote_id: verified.store_key.clone(),
        api_base_url: verified.api_base_url.clone(),
        profile: verified.profile.clone(),
        credentials: encrypt_credentials(secret_box, &verified.store_key, &verified.credentials),
    };
    storage.save_store(user.id, &new_store).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn credentials() -> Credentials {
        Credentials {
            client_id: "cid".into(),
            client_secret: SecretString::from("the-secret".to_owned()),
            access_token: SecretString::from("the-token".to_owned()),
        }
    }

    #[test]
    fn credentials_round_trip_with_the_nonce_stored_beside_the_ciphertext() {
        let secret_box = SecretBox::from_key_bytes(&[7; 32]).unwrap();
        let sealed = encrypt_credentials(&secret_box, "abc123", &credentials());
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
        let mut sealed = encrypt_credentials(&secret_box, "abc123", &credentials());
        assert!(decrypt_credentials(&secret_box, "other1", &sealed).is_err());
        std::mem::swap(&mut sealed.access_token, &mut sealed.client_secret);
        assert!(decrypt_credentials(&secret_box, "abc123", &sealed).is_err());
    }

    #[test]
    fn a_value_stored_whole_with_an_empty_nonce_still_opens() {
        let secret_box = SecretBox::from_key_bytes(&[7; 32]).unwrap();
        let mut sealed = encrypt_credentials(&secret_box, "abc123", &credentials());
        let mut whole = std::mem::take(&mut sealed.access_token.nonce);
        whole.extend_from_slice(&sealed.access_token.ciphertext);
        sealed.access_token.ciphertext = whole;
        let opened = decrypt_credentials(&secret_box, "abc123", &sealed).unwrap();
        assert_eq!(opened.access_token.expose_secret(), "the-token");
    }
}
