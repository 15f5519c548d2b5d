//! Connecting a shop to Amazon Pay: the keys an owner enters, checked offline and then by a signed
//! call to the simulator, and each wrong value named.

use zeroize::Zeroizing;

use crate::common::checkout::{KEY_FILE, World};
use crate::common::sockets::DataDir;
use amazonpay2::core::onboarding::{KeysEntry, Mode, Wrong, check_keys, fingerprint};

fn entry(world: &World) -> KeysEntry {
    let account = &world.config.amazon;
    KeysEntry {
        merchant_id: account.merchant_id.clone(),
        store_id: account.store_id.clone(),
        public_key_id: account.public_key_id.clone(),
        mode: if account.sandbox { Mode::Sandbox } else { Mode::Live },
        private_key_pem: Zeroizing::new(std::fs::read(KEY_FILE).unwrap()),
    }
}

async fn checked(world: &World, entry: &KeysEntry) -> Result<String, Wrong> {
    check_keys(&world.config.api_base, &world.config.shop_origin, entry).await.map(|accepted| accepted.fingerprint)
}

#[tokio::test]
async fn the_shops_own_keys_are_accepted_and_shown_by_fingerprint_only() {
    let world = World::start().await;
    let entry = entry(&world);
    let accepted = check_keys(&world.config.api_base, &world.config.shop_origin, &entry).await.unwrap();
    assert_eq!(accepted.account, world.config.amazon);
    assert!(accepted.fingerprint.starts_with("SHA256:") && accepted.fingerprint.len() == 7 + 32 * 3 - 1);
    assert_eq!(accepted.fingerprint, fingerprint(&accepted.key), "the same key, the same fingerprint");
    let pem = String::from_utf8(entry.private_key_pem.to_vec()).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(!accepted.fingerprint.contains(&body[..16]), "nothing of the private key");
}

#[tokio::test]
async fn another_private_key_is_named_as_not_belonging_to_the_public_key_id() {
    let world = World::start().await;
    let dir = DataDir::new("onboarding-key");
    amazonpay2::amazon::keygen::load_or_generate(&dir.0).unwrap();
    let other = std::fs::read(std::fs::read_dir(&dir.0).unwrap().next().unwrap().unwrap().path()).unwrap();
    let wrong = KeysEntry { private_key_pem: Zeroizing::new(other), ..entry(&world) };
    let refused = checked(&world, &wrong).await.unwrap_err();
    assert_eq!((refused.clone(), refused.field()), (Wrong::KeyNotOfPublicKeyId, "private_key"));
    assert!(refused.message_ja().contains("秘密鍵がこの公開鍵 ID のものではありません"));
}

#[tokio::test]
async fn an_unknown_public_key_id_is_refused_by_amazon_and_a_wrong_store_id_named() {
    let world = World::start().await;
    let unknown = KeysEntry { public_key_id: "SANDBOX-AAAAAAAAAAAAAAAAAAAAAAAA".into(), ..entry(&world) };
    assert_eq!(checked(&world, &unknown).await, Err(Wrong::KeyNotOfPublicKeyId));
    let store = KeysEntry { store_id: "amzn1.application-oa2-client.0000".into(), ..entry(&world) };
    let refused = checked(&world, &store).await.unwrap_err();
    assert_eq!((refused.clone(), refused.field()), (Wrong::StoreId, "store_id"));
}

#[tokio::test]
async fn values_wrong_on_their_face_are_refused_before_amazon_is_asked() {
    // Nothing listens here: a check that reached Amazon would answer Unreachable.
    let closed = format!("http://127.0.0.1:{}", crate::common::instances::free_port());
    let world = World::start_with(vec![("AMAZONPAY2_API_BASE", closed.clone())]).await;
    let offline = |entry: KeysEntry| {
        let (base, origin) = (world.config.api_base.clone(), world.config.shop_origin.clone());
        async move { check_keys(&base, &origin, &entry).await.err() }
    };
    let garbage =
        KeysEntry { private_key_pem: Zeroizing::new(b"-----BEGIN PRIVATE KEY-----\nAAAA\n".to_vec()), ..entry(&world) };
    assert!(matches!(offline(garbage).await, Some(Wrong::PrivateKey(_))));
    let public = std::fs::read(KEY_FILE.replace("pkcs8", "public")).unwrap();
    let public = KeysEntry { private_key_pem: Zeroizing::new(public), ..entry(&world) };
    assert!(matches!(offline(public).await, Some(Wrong::PrivateKey(_))), "a public key is no private key");
    let live =
        KeysEntry { public_key_id: "LIVE-AAAAAAAAAAAAAAAAAAAAAAAA".into(), mode: Mode::Sandbox, ..entry(&world) };
    let refused = offline(live).await.unwrap();
    assert_eq!((refused.clone(), refused.field()), (Wrong::PublicKeyIdMode { prefix: Mode::Live }, "mode"));
    assert!(refused.message_ja().contains("公開鍵 ID は本番用です"), "{}", refused.message_ja());
    let sandbox = KeysEntry { public_key_id: "sandbox-AAAA".into(), mode: Mode::Live, ..entry(&world) };
    assert_eq!(offline(sandbox).await, Some(Wrong::PublicKeyIdMode { prefix: Mode::Sandbox }), "case-insensitive");
    for id in ["", "SANDBOX-A B", "<script>"] {
        let bad = KeysEntry { public_key_id: id.into(), ..entry(&world) };
        assert_eq!(offline(bad).await, Some(Wrong::PublicKeyId), "{id:?}");
    }
    for id in ["", "A1-B2", "出品者"] {
        let bad = KeysEntry { merchant_id: id.into(), ..entry(&world) };
        assert_eq!(offline(bad).await, Some(Wrong::MerchantId), "{id:?}");
    }
    let store = KeysEntry { store_id: "amzn1.app client".into(), ..entry(&world) };
    assert_eq!(offline(store).await, Some(Wrong::StoreId));
    // All well on their face: Amazon is asked, and cannot be reached.
    let refused = offline(entry(&world)).await.unwrap();
    assert_eq!(refused, Wrong::Unreachable);
    assert!(refused.message_en().contains("could not be reached"));
}
