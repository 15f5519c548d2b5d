//! How amounts, dates and deadlines read on the admin's pages.

use time::{OffsetDateTime, UtcOffset};

use super::Lang;
use crate::core::operations::yen;

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

/// An authorization's deadline as a cell shows it (`templates/admin/deadline.html`): flagged
/// (in words and with a class, not colour alone) when it lapsed or ends soon.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deadline {
    /// `lapsed` or `soon`.
    pub flag: Option<&'static str>,
    pub text: String,
}

impl Deadline {
    /// `deadline` with the days left, flagged within `warn_days`.
    pub fn at(lang: Lang, deadline: i64, now: i64, warn_days: i64) -> Self {
        let left = days_left(deadline, now);
        let when = date(deadline);
        if left <= 0 {
            return Self { flag: Some("lapsed"), text: format!("{when} {}", lang.pick("期限切れ", "lapsed")) };
        }
        let days = match lang {
            Lang::Ja => format!("残り {left} 日"),
            Lang::En => format!("{left} day{} left", if left == 1 { "" } else { "s" }),
        };
        if left <= warn_days {
            Self { flag: Some("soon"), text: format!("{when} ({days}) {}", lang.pick("期限間近", "ending soon")) }
        } else {
            Self { flag: None, text: format!("{when} ({days})") }
        }
    }

    /// An authorization that lapsed, without its date.
    pub fn lapsed(lang: Lang) -> Self {
        Self { flag: Some("lapsed"), text: lang.pick("期限切れ", "lapsed").to_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let soon = Deadline::at(Lang::Ja, now + 3 * 86_400, now, 7);
        assert_eq!(soon.flag, Some("soon"));
        assert!(soon.text.contains("期限間近") && soon.text.contains("残り 3 日"));
        let later = Deadline::at(Lang::Ja, now + 20 * 86_400, now, 7);
        assert!(later.flag.is_none() && !later.text.contains("期限間近"));
        assert!(Deadline::at(Lang::En, now - 10, now, 7).text.contains("lapsed"));
    }
}
