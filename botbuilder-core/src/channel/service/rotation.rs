//! Master key rotation for channel secrets.

use super::ChannelServiceError;
use crate::domain::ChannelPatch;
use crate::secrets::{SecretCipher, channel_binding};
use crate::store::Store;

/// Re-seals every channel's secret settings with `to` (opened with `from`), bound to its
/// organization, channel and platform as before; returns how many were re-sealed. Channels
/// already sealed with `to`'s key are left alone, so an interrupted rotation can be run again.
pub async fn reseal_channels(
    store: &dyn Store,
    from: &dyn SecretCipher,
    to: &dyn SecretCipher,
) -> Result<usize, ChannelServiceError> {
    let mut resealed = 0;
    for channel in store.all_channels().await? {
        if channel.secrets.key_id == to.key_id() {
            continue;
        }
        let binding = channel_binding(channel.org_id, channel.id, channel.kind);
        let plain = from.open(&channel.secrets, &binding)?;
        let patch = ChannelPatch {
            secrets: Some(to.seal(&plain, &binding)?),
            ..ChannelPatch::default()
        };
        store
            .update_channel(channel.org_id, channel.id, patch)
            .await?;
        resealed += 1;
    }
    Ok(resealed)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::channel::ChannelKind;
    use crate::domain::{
        ChannelStatus, NewBot, NewChannel, NewOrganization, NewUser, SealedSecret,
    };
    use crate::id::ChannelId;
    use crate::secrets::CipherError;
    use crate::store::prelude::*;
    use crate::testing::InMemoryStore;

    /// Not encryption: the binding is kept beside the plaintext and compared on opening.
    struct Plain(&'static str);

    impl SecretCipher for Plain {
        fn key_id(&self) -> &str {
            self.0
        }

        fn seal(&self, plaintext: &[u8], binding: &[u8]) -> Result<SealedSecret, CipherError> {
            Ok(SealedSecret {
                key_id: self.0.to_owned(),
                nonce: binding.to_vec(),
                ciphertext: plaintext.to_vec(),
            })
        }

        fn open(&self, sealed: &SealedSecret, binding: &[u8]) -> Result<Vec<u8>, CipherError> {
            if sealed.nonce != binding {
                return Err(CipherError::Tampered);
            }
            Ok(sealed.ciphertext.clone())
        }
    }

    #[tokio::test]
    async fn a_key_rotation_reseals_channel_secrets_bound_to_their_channel() {
        let store = InMemoryStore::default();
        let (_, org) = store
            .create_user_with_org(
                NewUser {
                    email: "a@example.com".into(),
                    name: "A".into(),
                    password_hash: "x".into(),
                },
                NewOrganization { name: "O".into() },
            )
            .await
            .unwrap();
        let bot = store
            .create_bot(
                org.id,
                NewBot {
                    name: "B".into(),
                    ..NewBot::default()
                },
            )
            .await
            .unwrap();
        let old = Plain("old");
        let id = ChannelId::new();
        let plain = serde_json::to_vec(&json!({ "bot_token": "t" })).unwrap();
        let secrets = old
            .seal(&plain, &channel_binding(org.id, id, ChannelKind::Telegram))
            .unwrap();
        let new = NewChannel {
            id,
            kind: ChannelKind::Telegram,
            name: "tg".into(),
            settings: json!({}),
            secrets,
            status: ChannelStatus::Connected,
        };
        store.create_channel(org.id, bot.id, new).await.unwrap();
        let to = Plain("new");
        assert_eq!(reseal_channels(&store, &old, &to).await.unwrap(), 1);
        assert_eq!(
            reseal_channels(&store, &old, &to).await.unwrap(),
            0,
            "already done"
        );
        let stored = store.get_channel(org.id, id).await.unwrap();
        assert_eq!(stored.secrets.key_id, "new");
        let binding = channel_binding(org.id, id, ChannelKind::Telegram);
        assert_eq!(to.open(&stored.secrets, &binding).unwrap(), plain);
        let elsewhere = channel_binding(org.id, ChannelId::new(), ChannelKind::Telegram);
        assert!(
            to.open(&stored.secrets, &elsewhere).is_err(),
            "bound to its channel"
        );
    }
}
