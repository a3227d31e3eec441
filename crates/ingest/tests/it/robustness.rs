//! Arbitrary bytes never panic the decoders.

use mamori_ingest::read_table;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = read_table(&bytes, None);
    }

    #[test]
    fn random_bytes_behind_the_zip_magic_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048)
    ) {
        let mut zip = b"PK\x03\x04".to_vec();
        zip.extend_from_slice(&bytes);
        prop_assert!(read_table(&zip, Some("x.xlsx")).is_err());
    }

    #[test]
    fn random_text_never_panics(text in "[a-z,\"\r\n 　０-９機器名令和]{0,300}") {
        let _ = read_table(text.as_bytes(), None);
    }
}
