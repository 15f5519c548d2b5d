//! How the admin's templates escape what they insert: askama's HTML escaping with the named
//! entities the pages have always used (`&lt;`, `&amp;`, `&quot;`; askama's own writes `&#60;`),
//! so that an owner's text typed into a form comes back exactly as before.

use std::fmt::{self, Write};

/// The escaper of the admin's `.html` templates (named in `askama.toml`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NamedEntities;

impl askama::filters::Escaper for NamedEntities {
    fn write_escaped_str<W: Write>(&self, mut dest: W, string: &str) -> fmt::Result {
        let mut plain = 0;
        for (at, byte) in string.bytes().enumerate() {
            let entity = match byte {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            dest.write_str(&string[plain..at])?;
            dest.write_str(entity)?;
            plain = at + 1;
        }
        dest.write_str(&string[plain..])
    }
}

#[cfg(test)]
mod tests {
    use askama::filters::Escaper;

    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped_with_named_entities() {
        let mut out = String::new();
        NamedEntities.write_escaped_str(&mut out, "<script>\"a\" & 'b'</script> 山田").unwrap();
        assert_eq!(out, "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt; 山田");
    }
}
