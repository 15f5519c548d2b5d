//! Writing the admin pages: escaping, the page frame, and how amounts, dates and deadlines read.

use std::fmt::Write as _;

use time::{OffsetDateTime, UtcOffset};

use super::Lang;
use crate::core::operations::yen;

/// Text made safe for HTML content and attribute values (both quoted with `"`).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `3,630 円` / `¥3,630`.
pub fn money(lang: Lang, amount: u64) -> String {
    match lang {
        Lang::Ja => format!("{} 円", yen(amount)),
        Lang::En => format!("¥{}", yen(amount)),
    }
}

/// Japan's offset: the shop owner's dates are Japanese dates.
fn japan() -> UtcOffset {
    // 9 hours is always a valid offset.
    UtcOffset::from_hms(9, 0, 0).unwrap_or(UtcOffset::UTC)
}

/// `2026/11/30 15:32` in Japan (the manual's 受注日 format).
pub fn date_time(unix: i64) -> String {
    let Ok(at) = OffsetDateTime::from_unix_timestamp(unix) else { return "-".into() };
    let at = at.to_offset(japan());
    format!("{:04}/{:02}/{:02} {:02}:{:02}", at.year(), u8::from(at.month()), at.day(), at.hour(), at.minute())
}

/// `2026/11/30` in Japan.
pub fn date(unix: i64) -> String {
    date_time(unix).split(' ').next().unwrap_or("-").to_owned()
}

/// Whole days from `now` until `deadline`, rounded up (0 or less: lapsed).
pub fn days_left(deadline: i64, now: i64) -> i64 {
    (deadline - now).div_euclid(86_400) + i64::from((deadline - now).rem_euclid(86_400) > 0)
}

/// An authorization's deadline with the days left; flagged (text and class, not colour alone)
/// within `warn_days`.
pub fn deadline(lang: Lang, deadline: i64, now: i64, warn_days: i64) -> String {
    let left = days_left(deadline, now);
    let when = date(deadline);
    if left <= 0 {
        return format!("<span class=\"flag lapsed\">{} {}</span>", esc(&when), lang.t("期限切れ", "lapsed"));
    }
    let days = match lang {
        Lang::Ja => format!("残り {left} 日"),
        Lang::En => format!("{left} day{} left", if left == 1 { "" } else { "s" }),
    };
    if left <= warn_days {
        format!("<span class=\"flag soon\">{} ({days}) {}</span>", esc(&when), lang.t("期限間近", "ending soon"))
    } else {
        format!("{} ({days})", esc(&when))
    }
}

/// One item of the navigation.
pub struct Nav {
    /// The owner's account name, when logged in.
    pub owner: Option<String>,
    /// The CSRF token for the logout form.
    pub csrf: String,
    /// The path of the page, to mark the current item.
    pub current: &'static str,
}

/// A whole page: the frame (title, navigation, logout) around `body`.
pub fn page(lang: Lang, title: &str, nav: Option<&Nav>, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 2_048);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} | {}</title><link rel=\"icon\" href=\"data:,\"><link rel=\"stylesheet\" href=\"/admin/assets/admin.css\">\
         <script src=\"/admin/assets/admin.js\" defer></script></head><body>",
        lang.code(),
        esc(title),
        lang.t("管理画面", "Admin"),
    );
    let _ = write!(out, "<a class=\"skip\" href=\"#main\">{}</a>", lang.t("本文へ移動", "Skip to content"));
    out.push_str("<header class=\"top\"><p class=\"brand\">");
    out.push_str(lang.t("クラフトカート 管理画面 (Amazon Pay)", "Craft Cart admin (Amazon Pay)"));
    out.push_str("</p>");
    if let Some(nav) = nav {
        let items: [(&str, &str, &str); 5] = [
            ("/admin/", "ホーム", "Home"),
            ("/admin/orders", "受注一覧", "Orders"),
            ("/admin/amazonpay", "AmazonPay クレジット決済状況", "Amazon Pay bulk capture"),
            ("/admin/settings/shipping", "配送方法・配送料", "Shipping methods"),
            ("/admin/settings/amazonpay", "AmazonPay 設定", "Amazon Pay settings"),
        ];
        let _ = write!(out, "<nav aria-label=\"{}\"><ul>", lang.t("管理メニュー", "Admin menu"));
        for (path, ja, en) in items {
            let current = if path == nav.current { " aria-current=\"page\"" } else { "" };
            let _ = write!(out, "<li><a href=\"{path}\"{current}>{}</a></li>", lang.t(ja, en));
        }
        out.push_str("</ul></nav>");
        if let Some(owner) = &nav.owner {
            let _ = write!(
                out,
                "<form class=\"logout\" method=\"post\" action=\"/admin/logout\"><span>{}: {}</span>\
                 <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">{}</button></form>",
                lang.t("ログイン中", "Signed in as"),
                esc(owner),
                esc(&nav.csrf),
                lang.t("ログアウト", "Log out"),
            );
        }
    }
    let other = match lang {
        Lang::Ja => "<a href=\"?lang=en\" hreflang=\"en\" lang=\"en\">English</a>",
        Lang::En => "<a href=\"?lang=ja\" hreflang=\"ja\" lang=\"ja\">日本語</a>",
    };
    let _ = write!(out, "<p class=\"lang\">{other}</p></header><main id=\"main\">{body}</main></body></html>");
    out
}

/// A message box: `alert` for errors (read out at once), `status` for confirmations.
pub fn message(kind: &str, text: &str) -> String {
    let role = if kind == "error" { "alert" } else { "status" };
    format!("<div class=\"message {kind}\" role=\"{role}\"><p>{}</p></div>", esc(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(esc("<script>\"a\" & 'b'</script>"), "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;");
        assert_eq!(esc("山田 太郎"), "山田 太郎");
    }

    #[test]
    fn dates_are_japanese_and_days_left_round_up() {
        // 2026-11-30 06:32 UTC is 15:32 in Japan.
        assert_eq!(date_time(1_796_020_320), "2026/11/30 15:32");
        assert_eq!(days_left(1_000 + 86_400, 1_000), 1);
        assert_eq!(days_left(1_000 + 86_401, 1_000), 2);
        assert_eq!(days_left(1_000, 1_000), 0);
        assert_eq!(days_left(1_000, 1_000 + 86_400 * 3), -3);
    }

    #[test]
    fn a_deadline_within_the_window_is_flagged_in_words() {
        let now = 1_796_020_320;
        assert!(deadline(Lang::Ja, now + 3 * 86_400, now, 7).contains("期限間近"));
        assert!(deadline(Lang::Ja, now + 3 * 86_400, now, 7).contains("残り 3 日"));
        assert!(!deadline(Lang::Ja, now + 20 * 86_400, now, 7).contains("期限間近"));
        assert!(deadline(Lang::En, now - 10, now, 7).contains("lapsed"));
    }
}
