//! Encoding detection.

use mamori_ingest::{TextEncoding, decode_text};

#[test]
fn detects_each_encoding() {
    let text = "機器名,設置場所\r\n受付PC,受付\r\n";
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(text.as_bytes());
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(text);
    let mut le = vec![0xFF, 0xFE];
    le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let mut be = vec![0xFE, 0xFF];
    be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    let cases: [(&[u8], TextEncoding); 5] = [
        (text.as_bytes(), TextEncoding::Utf8),
        (&bom, TextEncoding::Utf8Bom),
        (&sjis, TextEncoding::ShiftJis),
        (&le, TextEncoding::Utf16Le),
        (&be, TextEncoding::Utf16Be),
    ];
    for (bytes, want) in cases {
        assert_eq!(
            decode_text(bytes).unwrap(),
            (text.to_string(), want),
            "{want:?}"
        );
    }
}

#[test]
fn cp932_extensions_decode() {
    // ①, ㈱ and 髙 are CP932 (NEC / IBM) extensions that plain Shift_JIS lacks.
    let text = "①番,㈱髙橋医療機器";
    let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
    assert!(!unmappable);
    assert_eq!(
        decode_text(&sjis).unwrap(),
        (text.to_string(), TextEncoding::ShiftJis)
    );
}

#[test]
fn undecodable_text_names_the_line() {
    let mut bytes = "a,b\r\nc,d\r\n".as_bytes().to_vec();
    bytes.extend_from_slice(b"\x82\x20,\xFF\xFF\r\n");
    let e = decode_text(&bytes).unwrap_err();
    assert_eq!((e.code(), e.line()), ("IMP0002", Some(3)));
    assert!(e.message_ja().contains("3行目"), "{}", e.message_ja());

    let e = decode_text(b"\xEF\xBB\xBFok\n\xFF").unwrap_err();
    assert_eq!((e.code(), e.line()), ("IMP0002", Some(2)));
}

#[test]
fn input_over_the_cap_is_refused_before_decoding() {
    let big = vec![b'a'; mamori_ingest::MAX_INPUT_BYTES + 1];
    let e = decode_text(&big).unwrap_err();
    assert_eq!(e.code(), "IMP0001");
    assert_eq!(
        e.message_ja(),
        "ファイルが大きすぎます（51 MB、上限 50 MB）"
    );
    assert_eq!(
        mamori_ingest::read_table(&big, None).unwrap_err().code(),
        "IMP0001"
    );
}
