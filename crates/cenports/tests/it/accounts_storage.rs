//! The accounts part of the storage contract (`storage/accounts.rs`) on both backends: what the
//! HTTP API tests do not reach directly (concurrent throttle counts, completing an account,
//! digests only, operator scopes). `accounts_test!` expands each test into `::sqlite` and
//! `::postgres` like the other contract tests.

use chrono::{DateTime, Utc};

use cenports::storage::*;

// ------------------------------------------------------------------ backends

use crate::common::both_backends as accounts_test;

fn secret(tag: u8) -> EncryptedSecret {
    EncryptedSecret {
        ciphertext: vec![tag; 8],
        nonce: vec![tag; 24],
    }
}

fn new_store(hash: &str) -> NewStore {
    NewStore {
        channel: cenports::channel::bigcommerce::CHANNEL.into(),
        remote_id: hash.into(),
        api_base_url: "https://api.bigcommerce.com".into(),
        profile: StoreProfile::default(),
        credentials: StoreCredentials {
            client_id: format!("client-{hash}"),
            client_secret: secret(1),
            access_token: secret(2),
        },
    }
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";

accounts_test!(
    concurrent_sign_in_attempts_are_counted_before_any_password_is_checked,
    |ctx| {
        let policy = ThrottlePolicy {
            max_failures: 5,
            window: chrono::Duration::minutes(15),
            lockout: chrono::Duration::minutes(15),
        };
        // Forty attempts at the same instant: exactly five may check a password, numbered 1 to 5;
        // the others are refused and the pair is locked.
        let attempts = (0..40).map(|_| {
            let storage = ctx.storage.clone();
            async move {
                storage
                    .claim_login_attempt("Who@Example.com", "10.0.0.1", at(0), &policy)
                    .await
                    .unwrap()
            }
        });
        let claims = futures::future::join_all(attempts).await;
        let mut allowed: Vec<i32> = claims
            .iter()
            .filter_map(|c| match c {
                LoginClaim::Allowed(state) => Some(state.failures),
                LoginClaim::Refused { .. } => None,
            })
            .collect();
        allowed.sort();
        assert_eq!(allowed, vec![1, 2, 3, 4, 5], "{claims:?}");
        assert!(claims.iter().all(|c| match c {
            LoginClaim::Allowed(_) => true,
            LoginClaim::Refused { until } => *until == at(15 * 60),
        }));
        let state = ctx
            .storage
            .login_attempts("who@example.com", "10.0.0.1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((state.failures, state.locked_until), (6, Some(at(15 * 60))));
        // Another address has its own count.
        assert_eq!(
            ctx.storage
                .login_attempts("who@example.com", "10.0.0.2")
                .await
                .unwrap(),
            None
        );
        // The last allowed attempt failing locks at once; a success forgets only its own pair,
        // and only when no attempt was counted after it.
        let one = ThrottlePolicy {
            max_failures: 1,
            ..policy
        };
        let LoginClaim::Allowed(first) = ctx
            .storage
            .claim_login_attempt("who@example.com", "10.0.0.2", at(0), &one)
            .await
            .unwrap()
        else {
            panic!("the first attempt may check its password")
        };
        ctx.storage
            .record_login_failure("who@example.com", "10.0.0.2", at(0), &one)
            .await
            .unwrap();
        assert_eq!(
            ctx.storage
                .login_attempts("who@example.com", "10.0.0.2")
                .await
                .unwrap()
                .unwrap()
                .locked_until,
            Some(at(15 * 60))
        );
        let LoginClaim::Allowed(mine) = ctx
            .storage
            .claim_login_attempt("pat@example.com", "10.0.0.3", at(0), &policy)
            .await
            .unwrap()
        else {
            panic!("allowed")
        };
        ctx.storage
            .claim_login_attempt("pat@example.com", "10.0.0.3", at(1), &policy)
            .await
            .unwrap();
        ctx.storage
            .clear_login_failures("PAT@example.com", "10.0.0.3", &mine)
            .await
            .unwrap();
        assert_eq!(
            ctx.storage
                .login_attempts("pat@example.com", "10.0.0.3")
                .await
                .unwrap()
                .map(|s| s.failures),
            Some(2),
            "an attempt counted after the success stays counted"
        );
        ctx.storage
            .clear_login_failures("WHO@example.com", "10.0.0.2", &first)
            .await
            .unwrap();
        assert_eq!(
            ctx.storage
                .login_attempts("who@example.com", "10.0.0.2")
                .await
                .unwrap(),
            None
        );
        assert!(ctx
            .storage
            .login_attempts("who@example.com", "10.0.0.1")
            .await
            .unwrap()
            .is_some());
        // After the window and the lock, the count starts again at 1.
        let LoginClaim::Allowed(again) = ctx
            .storage
            .claim_login_attempt("who@example.com", "10.0.0.1", at(15 * 60), &policy)
            .await
            .unwrap()
        else {
            panic!("allowed again once the lock is over")
        };
        assert_eq!((again.failures, again.locked_until), (1, None));
        // Half an hour after a window and its lock, a failure elsewhere forgets them.
        ctx.storage
            .record_login_failure("else@example.com", "10.0.0.9", at(61 * 60), &policy)
            .await
            .unwrap();
        assert_eq!(
            ctx.storage
                .login_attempts("who@example.com", "10.0.0.1")
                .await
                .unwrap(),
            None
        );
    }
);

accounts_test!(
    an_account_completes_a_user_without_password_and_refuses_a_taken_email,
    |ctx| {
        let connected = ctx.storage.ensure_user("Shop@Example.com").await.unwrap();
        let before = ctx.storage.get_account(connected.id).await.unwrap();
        assert_eq!((before.role, before.has_password), (Role::Merchant, false));
        let (account, created) = ctx
            .storage
            .create_account("shop@example.com", Role::Operator, HASH)
            .await
            .unwrap();
        assert!(!created);
        assert_eq!(account.user.id, connected.id);
        assert_eq!((account.role, account.has_password), (Role::Operator, true));
        let taken = ctx
            .storage
            .create_account("SHOP@example.com", Role::Merchant, HASH)
            .await
            .unwrap_err();
        assert!(matches!(taken, StorageError::EmailTaken { .. }), "{taken}");
        let (login, hash) = ctx
            .storage
            .account_for_login(" shop@EXAMPLE.com ")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((login.role, hash.as_deref()), (Role::Operator, Some(HASH)));
        let (fresh, created) = ctx
            .storage
            .create_account("new@example.com", Role::Merchant, HASH)
            .await
            .unwrap();
        assert!(created);
        let all: Vec<String> = ctx
            .storage
            .list_accounts()
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.user.email)
            .collect();
        assert_eq!(all, vec!["Shop@Example.com".to_string(), fresh.user.email]);
    }
);

accounts_test!(keys_and_sessions_are_found_by_digest_and_end, |ctx| {
    let (account, _) = ctx
        .storage
        .create_account("m@example.com", Role::Merchant, HASH)
        .await
        .unwrap();
    let user = account.user.id;
    let key = ctx
        .storage
        .create_api_key(user, "wh", "cpk_abcdefgh", "digest-1")
        .await
        .unwrap();
    let (found, record) = ctx
        .storage
        .account_by_api_key("digest-1", at(0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.user.id, record.id), (user, key.id));
    assert_eq!(record.last_used_at, None, "read before this use");
    let (_, used) = ctx
        .storage
        .account_by_api_key("digest-1", at(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.last_used_at, Some(at(0)));
    assert!(ctx
        .storage
        .account_by_api_key("cpk_abcdefgh", at(2))
        .await
        .unwrap()
        .is_none());
    let other = ctx
        .storage
        .create_account("o@example.com", Role::Merchant, HASH)
        .await
        .unwrap()
        .0;
    assert!(
        matches!(
            ctx.storage.revoke_api_key(other.user.id, key.id).await,
            Err(StorageError::NotFound { .. })
        ),
        "only the owner revokes"
    );
    ctx.storage.revoke_api_key(user, key.id).await.unwrap();
    assert!(ctx
        .storage
        .account_by_api_key("digest-1", at(3))
        .await
        .unwrap()
        .is_none());

    ctx.storage
        .create_session(user, "s-old", "csrf-old", at(0), at(10))
        .await
        .unwrap();
    let (who, session) = ctx
        .storage
        .session_by_token("s-old")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (who.user.id, session.csrf_token.as_str(), session.expires_at),
        (user, "csrf-old", at(10))
    );
    // A new session of the user forgets the expired ones.
    ctx.storage
        .create_session(user, "s-new", "csrf-new", at(20), at(40))
        .await
        .unwrap();
    assert!(ctx
        .storage
        .session_by_token("s-old")
        .await
        .unwrap()
        .is_none());
    ctx.storage.delete_session("s-new").await.unwrap();
    assert!(ctx
        .storage
        .session_by_token("s-new")
        .await
        .unwrap()
        .is_none());
});

accounts_test!(
    replacing_a_password_keeps_the_role_and_ends_the_accounts_sessions,
    |ctx| {
        let (ops, _) = ctx
            .storage
            .create_account("Ops@example.com", Role::Operator, HASH)
            .await
            .unwrap();
        let (other, _) = ctx
            .storage
            .create_account("other@example.com", Role::Merchant, HASH)
            .await
            .unwrap();
        for (user, token) in [(ops.user.id, "s-ops"), (other.user.id, "s-other")] {
            ctx.storage
                .create_session(user, token, "csrf", at(0), at(100))
                .await
                .unwrap();
        }
        let new_hash = HASH.replace("aGFzaGhhc2g", "bmV3bmV3bmV3");
        let replaced = ctx
            .storage
            .replace_password("ops@EXAMPLE.com", &new_hash)
            .await
            .unwrap();
        assert_eq!(
            (replaced.user.id, replaced.role),
            (ops.user.id, Role::Operator)
        );
        let (_, stored) = ctx
            .storage
            .account_for_login("ops@example.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.as_deref(), Some(new_hash.as_str()));
        assert!(
            ctx.storage
                .session_by_token("s-ops")
                .await
                .unwrap()
                .is_none(),
            "the old password's sessions end"
        );
        assert!(
            ctx.storage
                .session_by_token("s-other")
                .await
                .unwrap()
                .is_some(),
            "another account's session stays"
        );
        assert!(matches!(
            ctx.storage
                .replace_password("nobody@example.com", &new_hash)
                .await,
            Err(StorageError::NotFound { what: "user", .. })
        ));
    }
);

accounts_test!(
    an_operator_reaches_every_store_and_a_merchant_only_theirs,
    |ctx| {
        let alice = ctx
            .storage
            .create_account("a@example.com", Role::Merchant, HASH)
            .await
            .unwrap()
            .0;
        let bob = ctx
            .storage
            .create_account("b@example.com", Role::Merchant, HASH)
            .await
            .unwrap()
            .0;
        let ops = ctx
            .storage
            .create_account("o@example.com", Role::Operator, HASH)
            .await
            .unwrap()
            .0;
        let a = ctx
            .storage
            .save_store(alice.user.id, &new_store("aaa"))
            .await
            .unwrap();
        let b = ctx
            .storage
            .save_store(bob.user.id, &new_store("bbb"))
            .await
            .unwrap();
        assert_eq!(alice.store_access(), StoreAccess::Owner(alice.user.id));
        assert_eq!(ops.store_access(), StoreAccess::AllStores);

        let mine = ctx
            .storage
            .store_scope_for(alice.store_access(), a.id())
            .await
            .unwrap();
        assert_eq!(mine, a.scope());
        for missing in [b.id(), StoreId::from_raw(999_999)] {
            let error = ctx
                .storage
                .store_scope_for(alice.store_access(), missing)
                .await
                .unwrap_err();
            assert!(
                matches!(error, StorageError::NotFound { what: "store", .. }),
                "{error}"
            );
            assert!(ctx
                .storage
                .get_store_for(alice.store_access(), missing)
                .await
                .is_err());
        }
        // The operator's scope of B's store is B's (owner and store), as if B had looked it up.
        let theirs = ctx
            .storage
            .store_scope_for(ops.store_access(), b.id())
            .await
            .unwrap();
        assert_eq!(theirs, b.scope());
        assert_eq!(
            ctx.storage
                .get_store_for(ops.store_access(), b.id())
                .await
                .unwrap(),
            b
        );
        assert!(ctx
            .storage
            .store_scope_for(ops.store_access(), StoreId::from_raw(999_999))
            .await
            .is_err());
        let listed: Vec<StoreId> = ctx
            .storage
            .list_stores_for(alice.store_access())
            .await
            .unwrap()
            .iter()
            .map(|s| s.id())
            .collect();
        assert_eq!(listed, vec![a.id()]);
        assert_eq!(
            ctx.storage
                .list_stores_for(ops.store_access())
                .await
                .unwrap()
                .len(),
            2
        );
    }
);
