//! The credentials file a connect step reads: `DIR/amazon-merchant.json`, with the endpoints,
//! the seller and marketplace, the `full` authorisation's LWA client and refresh token at the
//! top level, and every profile (each lacking one role) under `profiles`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::auth::{AppAuthorization, Role, FULL};

/// The file's name inside the credentials directory.
pub const FILE_NAME: &str = "amazon-merchant.json";

/// One profile's credentials.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileCredentials {
    pub description: String,
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    pub roles: Vec<Role>,
}

impl std::fmt::Debug for ProfileCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("refresh_token", &"***")
            .field("roles", &self.roles)
            .finish()
    }
}

/// What `amazon-merchant.json` holds.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantCredentials {
    /// The SP-API base URL (in place of `https://sellingpartnerapi-na.amazon.com`).
    pub endpoint: String,
    /// The LWA token URL (in place of `https://api.amazon.com/auth/o2/token`).
    pub auth_endpoint: String,
    pub seller_id: String,
    pub marketplace_id: String,
    /// The `full` profile's credentials.
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    /// Every profile by name, `full` included.
    pub profiles: BTreeMap<String, ProfileCredentials>,
}

impl std::fmt::Debug for MerchantCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MerchantCredentials")
            .field("endpoint", &self.endpoint)
            .field("auth_endpoint", &self.auth_endpoint)
            .field("seller_id", &self.seller_id)
            .field("marketplace_id", &self.marketplace_id)
            .field("client_id", &self.client_id)
            .field("profiles", &self.profiles)
            .finish_non_exhaustive()
    }
}

/// Could not write the credentials file.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the Amazon sandbox credentials to {path}: {source}")]
pub struct CredentialsError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl MerchantCredentials {
    /// The credentials of an account's authorisations.
    pub fn new(
        endpoint: &str,
        seller_id: &str,
        marketplace_id: &str,
        apps: &[AppAuthorization],
    ) -> MerchantCredentials {
        let profiles: BTreeMap<String, ProfileCredentials> = apps
            .iter()
            .map(|app| {
                (
                    app.profile.clone(),
                    ProfileCredentials {
                        description: app.description.clone(),
                        client_id: app.client_id.clone(),
                        client_secret: app.client_secret.clone(),
                        refresh_token: app.refresh_token.clone(),
                        roles: app.roles.iter().copied().collect(),
                    },
                )
            })
            .collect();
        let full = &profiles[FULL];
        MerchantCredentials {
            endpoint: endpoint.to_string(),
            auth_endpoint: format!("{endpoint}/auth/o2/token"),
            seller_id: seller_id.to_string(),
            marketplace_id: marketplace_id.to_string(),
            client_id: full.client_id.clone(),
            client_secret: full.client_secret.clone(),
            refresh_token: full.refresh_token.clone(),
            profiles,
        }
    }

    /// Writes `dir/amazon-merchant.json` (creating `dir`), readable by its owner only where
    /// the platform allows; returns the file's path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, CredentialsError> {
        let path = dir.join(FILE_NAME);
        let failed = |source| CredentialsError {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(failed)?;
        let text = serde_json::to_string_pretty(self).expect("credentials serialize");
        std::fs::write(&path, text + "\n").map_err(failed)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(failed)?;
        }
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_names_every_profile_and_the_full_one_on_top() {
        let apps = crate::auth::authorizations(3);
        let creds = MerchantCredentials::new("http://127.0.0.1:9", "A1", "A2EUQ1WTGCTBG2", &apps);
        assert_eq!(creds.auth_endpoint, "http://127.0.0.1:9/auth/o2/token");
        assert_eq!(creds.client_id, apps[0].client_id);
        assert_eq!(creds.profiles.len(), 4);
        assert!(!creds.profiles["missing-orders"]
            .roles
            .contains(&Role::Orders));
        let dir = std::env::temp_dir().join(format!("amazon-creds-{}", std::process::id()));
        let path = creds.write(&dir).unwrap();
        let back: MerchantCredentials =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back, creds);
        assert!(!format!("{creds:?}").contains(&creds.client_secret));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
