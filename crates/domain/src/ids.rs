//! Typed ids, so that an asset id can never be passed where a person id is expected.

use std::fmt;

macro_rules! typed_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);

        impl $name {
            /// Parses an id as it appears in a URL or a form; `None` for anything but a positive integer.
            pub fn parse(s: &str) -> Option<Self> {
                s.trim().parse::<i64>().ok().filter(|v| *v > 0).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

typed_id!(
    /// A login of mamori itself (not an account on a facility system).
    UserId
);
typed_id!(
    /// A registered device (台帳の機器).
    AssetId
);
typed_id!(
    /// A member of staff, present or past (職員).
    PersonId
);
typed_id!(
    /// An account on one of the facility's information systems.
    AccountId
);
typed_id!(
    /// An information system (電子カルテ, レセコン, …).
    SystemId
);
typed_id!(
    /// A vendor (事業者).
    VendorId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_only_positive_integers() {
        assert_eq!(AssetId::parse("42"), Some(AssetId(42)));
        assert_eq!(AssetId::parse(" 7 "), Some(AssetId(7)));
        assert_eq!(AssetId::parse("0"), None);
        assert_eq!(AssetId::parse("-3"), None);
        assert_eq!(AssetId::parse("1e3"), None);
        assert_eq!(AssetId::parse(""), None);
    }
}
