//! The simulator's Amazon accounts: a few Japanese test buyers to sign in as.

use crate::amazon::signature::sha256_hex;

/// One test buyer's Amazon account.
pub struct TestBuyer {
    /// 氏名 as Amazon stores it (family name, a space, given name).
    pub name: &'static str,
    /// E-mail.
    pub email: &'static str,
    /// 〒, with the hyphen, as in Amazon's addresses.
    pub postal_code: &'static str,
    /// 都道府県.
    pub prefecture: &'static str,
    /// Municipality and street.
    pub line1: &'static str,
    /// Building, or empty.
    pub line2: &'static str,
    /// Phone.
    pub phone: &'static str,
}

/// The buyers offered on the simulator's sign-in page (fictional people and addresses).
pub const TEST_BUYERS: [TestBuyer; 3] = [
    TestBuyer {
        name: "山田 太郎",
        email: "taro.yamada@example.jp",
        postal_code: "153-0064",
        prefecture: "東京都",
        line1: "目黒区下目黒1-8-1",
        line2: "アルコタワー 5F",
        phone: "0312345678",
    },
    TestBuyer {
        name: "佐藤 花子",
        email: "hanako.sato@example.jp",
        postal_code: "530-0001",
        prefecture: "大阪府",
        line1: "大阪市北区梅田3-1-1",
        line2: "",
        phone: "0612345678",
    },
    TestBuyer {
        name: "鈴木 一郎",
        email: "ichiro.suzuki@example.jp",
        postal_code: "060-0001",
        prefecture: "北海道",
        line1: "札幌市中央区北一条西2-1",
        line2: "時計台ビル 3F",
        phone: "0111234567",
    },
];

impl TestBuyer {
    /// Buyer IDs differ per merchant, as Amazon's do.
    pub(in crate::simulator) fn buyer_id(&self, merchant_id: &str) -> String {
        let digest = sha256_hex(format!("{merchant_id}/{}", self.email).as_bytes());
        format!("amzn1.account.A{}", digest[..27].to_ascii_uppercase())
    }
}
