//! Each modifier and condition form on hand-made events.

use mamori_detect::{JsonEvent, Placeholders, RefuseReason, RuleSet};
use serde_json::{Value, json};

/// A set holding one rule for every Windows event with this `detection:` body.
fn rule(detection: &str) -> RuleSet {
    rule_with(detection, "    product: windows\n", Placeholders::new())
}

fn rule_with(detection: &str, logsource: &str, placeholders: Placeholders) -> RuleSet {
    let body: String = detection
        .trim_matches('\n')
        .lines()
        .map(|l| format!("    {l}\n"))
        .collect();
    let text = format!(
        "title: test\nid: 11111111-2222-3333-4444-555555555555\nlevel: high\nlogsource:\n{logsource}detection:\n{body}"
    );
    let mut set = RuleSet::with_placeholders(placeholders);
    let out = set.add_yaml("test.yml", &text);
    assert_eq!(out.loaded, 1, "{text}\n{:?}", set.refused());
    set
}

fn refusal(detection: &str) -> RefuseReason {
    let body: String = detection
        .trim_matches('\n')
        .lines()
        .map(|l| format!("    {l}\n"))
        .collect();
    let text = format!("title: t\nid: x\nlogsource:\n    product: windows\ndetection:\n{body}");
    let mut set = RuleSet::new();
    let out = set.add_yaml("t.yml", &text);
    assert_eq!(out.refused, 1, "{text}");
    set.refused()[0].reason.clone()
}

/// A Sysmon process creation (event id 1) with these EventData fields.
fn event(data: Value) -> Value {
    event_in("Microsoft-Windows-Sysmon/Operational", 1, data)
}

fn event_in(channel: &str, id: u32, data: Value) -> Value {
    json!({"Event": {
        "System": {"Channel": channel, "EventID": id, "Computer": "pc-01",
                   "EventRecordID": 7, "Provider": {"#attributes": {"Name": "P"}},
                   "TimeCreated": {"#attributes": {"SystemTime": "2026-01-02T03:04:05Z"}}},
        "EventData": data
    }})
}

fn hits(set: &RuleSet, e: &Value) -> bool {
    !set.scan(&JsonEvent::new(e)).is_empty()
}

#[test]
fn plain_values_are_case_insensitive_whole_values() {
    let s = rule("selection:\n    Image: 'C:\\Windows\\System32\\cmd.exe'\ncondition: selection");
    assert!(hits(
        &s,
        &event(json!({"Image": "c:\\windows\\system32\\CMD.EXE"}))
    ));
    assert!(!hits(
        &s,
        &event(json!({"Image": "c:\\windows\\system32\\cmd.exe2"}))
    ));
    assert!(!hits(
        &s,
        &event(json!({"Other": "c:\\windows\\system32\\cmd.exe"}))
    ));
    let s = rule("selection:\n    Image|cased: 'CMD.exe'\ncondition: selection");
    assert!(hits(&s, &event(json!({"Image": "CMD.exe"}))));
    assert!(!hits(&s, &event(json!({"Image": "cmd.exe"}))));
}

#[test]
fn wildcards_and_escaping() {
    let s = rule("selection:\n    CommandLine: '*a\\*b?c*'\ncondition: selection");
    assert!(hits(&s, &event(json!({"CommandLine": "xx a*bZc yy"}))));
    assert!(!hits(&s, &event(json!({"CommandLine": "xx aXbZc yy"}))));
    assert!(!hits(&s, &event(json!({"CommandLine": "xx a*bc yy"}))));
    // `\\*`: a backslash, then a wildcard.
    let s = rule("selection:\n    Path: 'C:\\\\*'\ncondition: selection");
    assert!(hits(&s, &event(json!({"Path": "C:\\temp"}))));
    assert!(!hits(&s, &event(json!({"Path": "C:temp"}))));
    // Escaped `?` is literal.
    let s = rule("selection:\n    Q|endswith: '\\?'\ncondition: selection");
    assert!(hits(&s, &event(json!({"Q": "why?"}))));
    assert!(!hits(&s, &event(json!({"Q": "why"}))));
}

#[test]
fn contains_startswith_endswith_lists_and_all() {
    let s = rule(
        "selection:\n    CommandLine|contains:\n        - 'mimikatz'\n        - 'sekurlsa'\n    Image|endswith: ['\\powershell.exe', '\\pwsh.exe']\n    ParentImage|startswith: 'C:\\Program'\ncondition: selection",
    );
    let base = json!({"CommandLine": "x SEKURLSA::logonpasswords", "Image": "C:\\w\\pwsh.exe",
                      "ParentImage": "c:\\program files\\x.exe"});
    assert!(hits(&s, &event(base.clone())));
    let mut other = base.clone();
    other["Image"] = json!("C:\\w\\pwsh.exe.bak");
    assert!(!hits(&s, &event(other)));
    let s = rule(
        "selection:\n    CommandLine|contains|all:\n        - ' -w '\n        - 'hidden'\n        - 'enc'\ncondition: selection",
    );
    assert!(hits(
        &s,
        &event(json!({"CommandLine": "ps -w hidden -enc AAA"}))
    ));
    assert!(!hits(&s, &event(json!({"CommandLine": "ps -w -enc AAA"}))));
    // `|all` without contains: every value must match the whole text (here with wildcards).
    let s = rule("selection:\n    CommandLine|all: ['*a*', '*b*']\ncondition: selection");
    assert!(hits(&s, &event(json!({"CommandLine": "b..a"}))));
    assert!(!hits(&s, &event(json!({"CommandLine": "a"}))));
}

#[test]
fn windash() {
    let s = rule("selection:\n    CommandLine|windash|contains: ' -enc '\ncondition: selection");
    for dash in ["-", "/", "–", "—", "―"] {
        let cl = format!("powershell {dash}enc ZQBj");
        assert!(hits(&s, &event(json!({"CommandLine": cl}))), "{dash}");
    }
    assert!(!hits(
        &s,
        &event(json!({"CommandLine": "powershell +enc ZQBj"}))
    ));
}

#[test]
fn base64_base64offset_and_utf16() {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let s = rule(
        "selection:\n    CommandLine|base64offset|contains: '/bin/bash'\ncondition: selection",
    );
    for prefix in ["", "x", "xy", "xyz"] {
        let enc = b64(format!("{prefix}/bin/bash -i").as_bytes());
        assert!(
            hits(
                &s,
                &event(json!({"CommandLine": format!("echo {enc} | base64 -d")}))
            ),
            "{prefix}"
        );
    }
    assert!(!hits(&s, &event(json!({"CommandLine": b64(b"/bin/sh")}))));
    let s = rule("selection:\n    Data|base64: 'admin'\ncondition: selection");
    assert!(hits(&s, &event(json!({"Data": "YWRtaW4="}))));
    let s = rule(
        "selection:\n    CommandLine|wide|base64offset|contains: 'ping'\ncondition: selection",
    );
    let wide: Vec<u8> = "x ping 1.1.1.1"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    assert!(hits(
        &s,
        &event(json!({"CommandLine": format!("-enc {}", b64(&wide))}))
    ));
    let s = rule("selection:\n    CommandLine|utf16be|base64: 'ab'\ncondition: selection");
    assert!(hits(
        &s,
        &event(json!({"CommandLine": b64(&[0, b'a', 0, b'b'])}))
    ));
    let s = rule("selection:\n    CommandLine|utf16|base64: 'a'\ncondition: selection");
    assert!(hits(
        &s,
        &event(json!({"CommandLine": b64(&[0xFF, 0xFE, b'a', 0])}))
    ));
}

#[test]
fn cidr_v4_and_v6() {
    let s = rule(
        "selection:\n    DestinationIp|cidr:\n        - '10.0.0.0/8'\n        - '192.168.0.0/16'\n        - 'fe80::/10'\n        - '::1/128'\ncondition: selection",
    );
    assert!(hits(&s, &event(json!({"DestinationIp": "10.20.30.40"}))));
    assert!(hits(&s, &event(json!({"DestinationIp": "192.168.1.1"}))));
    assert!(hits(&s, &event(json!({"DestinationIp": "fe80::1234"}))));
    assert!(hits(&s, &event(json!({"DestinationIp": "::1"}))));
    assert!(!hits(&s, &event(json!({"DestinationIp": "11.0.0.1"}))));
    assert!(!hits(&s, &event(json!({"DestinationIp": "2001:db8::1"}))));
    assert!(!hits(&s, &event(json!({"DestinationIp": "not an ip"}))));
    let s = rule("filter:\n    DestinationIp|cidr: '10.0.0.0/8'\ncondition: not filter");
    assert!(hits(&s, &event(json!({"DestinationIp": "8.8.8.8"}))));
    assert!(!hits(&s, &event(json!({"DestinationIp": "10.0.0.8"}))));
    assert!(matches!(
        refusal("selection:\n    DestinationIp|cidr: '10.0.0.0/40'\ncondition: selection"),
        RefuseReason::BadValue(_)
    ));
}

#[test]
fn regular_expressions_and_flags() {
    let s = rule("selection:\n    CommandLine|re: '\\s-e(nc)?\\s'\ncondition: selection");
    assert!(hits(&s, &event(json!({"CommandLine": "ps -enc x"}))));
    // Case-sensitive unless `|i`.
    assert!(!hits(&s, &event(json!({"CommandLine": "ps -ENC x"}))));
    let s = rule("selection:\n    CommandLine|re|i: '\\s-e(nc)?\\s'\ncondition: selection");
    assert!(hits(&s, &event(json!({"CommandLine": "ps -ENC x"}))));
    let s = rule("selection:\n    CommandLine|re|m: '^second$'\ncondition: selection");
    assert!(hits(
        &s,
        &event(json!({"CommandLine": "first\nsecond\nthird"}))
    ));
    let s = rule("selection:\n    CommandLine|re|s: 'a.b'\ncondition: selection");
    assert!(hits(&s, &event(json!({"CommandLine": "a\nb"}))));
    let s = rule("selection:\n    CommandLine|re: 'a.b'\ncondition: selection");
    assert!(!hits(&s, &event(json!({"CommandLine": "a\nb"}))));
    assert!(matches!(
        refusal("selection:\n    CommandLine|re: '(unclosed'\ncondition: selection"),
        RefuseReason::BadRegex(_)
    ));
    assert!(matches!(
        refusal("selection:\n    CommandLine|i: 'x'\ncondition: selection"),
        RefuseReason::BadModifiers(_)
    ));
}

#[test]
fn fieldref_exists_and_null() {
    let s = rule("selection:\n    User|fieldref: ParentUser\ncondition: selection");
    assert!(hits(
        &s,
        &event(json!({"User": "HOST\\Bob", "ParentUser": "host\\bob"}))
    ));
    assert!(!hits(
        &s,
        &event(json!({"User": "HOST\\Bob", "ParentUser": "HOST\\Eve"}))
    ));
    assert!(!hits(&s, &event(json!({"User": "HOST\\Bob"}))));
    let s = rule("selection:\n    TargetFilename|endswith|fieldref: Image\ncondition: selection");
    assert!(hits(
        &s,
        &event(json!({"TargetFilename": "C:\\x\\a.exe", "Image": "a.exe"}))
    ));

    let s = rule("selection:\n    Hashes|exists: false\ncondition: selection");
    assert!(hits(&s, &event(json!({"Image": "x"}))));
    assert!(!hits(&s, &event(json!({"Hashes": ""}))));
    let s = rule("selection:\n    Hashes|exists: true\ncondition: selection");
    assert!(hits(&s, &event(json!({"Hashes": ""}))));

    let s = rule("selection:\n    OriginalFileName: null\ncondition: selection");
    assert!(hits(&s, &event(json!({"Image": "x"}))));
    assert!(hits(&s, &event(json!({"OriginalFileName": null}))));
    assert!(!hits(&s, &event(json!({"OriginalFileName": "x.exe"}))));
    // An empty string is not null.
    let s = rule("selection:\n    OriginalFileName: ''\ncondition: selection");
    assert!(hits(&s, &event(json!({"OriginalFileName": ""}))));
    assert!(!hits(&s, &event(json!({"Image": "x"}))));
    // A list mixing null and strings.
    let s = rule(
        "selection:\n    Description:\n        - null\n        - ''\n        - '-'\ncondition: selection",
    );
    assert!(hits(&s, &event(json!({"Description": "-"}))));
    assert!(hits(&s, &event(json!({"Image": "x"}))));
    assert!(!hits(&s, &event(json!({"Description": "Windows"}))));
}

#[test]
fn numbers_and_strings() {
    let s = rule("selection:\n    EventID: 1\n    LogonType: 3\ncondition: selection");
    assert!(hits(&s, &event(json!({"LogonType": 3}))));
    assert!(hits(&s, &event(json!({"LogonType": "3"}))));
    assert!(!hits(&s, &event(json!({"LogonType": "30"}))));
    let s = rule("selection:\n    Size|gt: 100\n    Size|lte: 200\ncondition: selection");
    assert!(hits(&s, &event(json!({"Size": 150}))));
    assert!(hits(&s, &event(json!({"Size": "200"}))));
    assert!(!hits(&s, &event(json!({"Size": 100}))));
    assert!(!hits(&s, &event(json!({"Size": "big"}))));
    let s = rule("selection:\n    Size|lt: 16\n    Mask|gte: 0x10\ncondition: selection");
    assert!(hits(&s, &event(json!({"Size": "0x0F", "Mask": 16}))));
}

#[test]
fn keywords() {
    let s = rule("keywords:\n    - 'mimikatz'\n    - 'sekurlsa::'\ncondition: keywords");
    assert!(hits(&s, &event(json!({"Payload": "ran MIMIKATZ.exe"}))));
    assert!(!hits(&s, &event(json!({"Payload": "notepad"}))));
    let s = rule(
        "keywords:\n    '|all':\n        - 'Remove-MailboxExportRequest'\n        - ' -Identity '\ncondition: keywords",
    );
    assert!(hits(
        &s,
        &event(json!({"Payload": "Remove-MailboxExportRequest -Identity x"}))
    ));
    assert!(!hits(
        &s,
        &event(json!({"Payload": "Remove-MailboxExportRequest"}))
    ));
}

#[test]
fn conditions() {
    let s = rule(
        "selection_img:\n    Image|endswith: '\\rundll32.exe'\nselection_cli:\n    CommandLine|contains: 'javascript'\nfilter_main:\n    ParentImage|endswith: '\\explorer.exe'\nfilter_optional:\n    User|contains: 'SYSTEM'\ncondition: all of selection_* and not 1 of filter_*",
    );
    let ok = json!({"Image": "C:\\rundll32.exe", "CommandLine": "javascript:x", "ParentImage": "C:\\cmd.exe", "User": "bob"});
    assert!(hits(&s, &event(ok.clone())));
    let mut f = ok.clone();
    f["User"] = json!("NT AUTHORITY\\SYSTEM");
    assert!(!hits(&s, &event(f)));
    let mut f = ok.clone();
    f["CommandLine"] = json!("x");
    assert!(!hits(&s, &event(f)));

    let s = rule("a:\n    X: 1\nb:\n    Y: 2\n_c:\n    Z: 3\ncondition: 1 of them");
    assert!(hits(&s, &event(json!({"Y": 2}))));
    assert!(!hits(&s, &event(json!({"Z": 3}))));
    let s = rule("a:\n    X: 1\nb:\n    Y: 2\ncondition: all of them");
    assert!(hits(&s, &event(json!({"X": 1, "Y": 2}))));
    assert!(!hits(&s, &event(json!({"X": 1}))));
    let s = rule(
        "a:\n    X: 1\nb:\n    Y: 2\nc:\n    Z: 3\ncondition: a and (b or c) and not (b and c)",
    );
    assert!(hits(&s, &event(json!({"X": 1, "Y": 2}))));
    assert!(hits(&s, &event(json!({"X": 1, "Z": 3}))));
    assert!(!hits(&s, &event(json!({"X": 1, "Y": 2, "Z": 3}))));
    assert!(!hits(&s, &event(json!({"Y": 2}))));
    // A list of maps: any of them.
    let s = rule(
        "selection:\n    - Image|endswith: '\\a.exe'\n    - OriginalFileName: 'a.exe'\ncondition: selection",
    );
    assert!(hits(&s, &event(json!({"OriginalFileName": "A.EXE"}))));
    assert!(hits(&s, &event(json!({"Image": "c:\\a.exe"}))));
    assert!(!hits(&s, &event(json!({"Image": "c:\\b.exe"}))));
    // Refusals name what is wrong.
    assert_eq!(
        refusal("selection:\n    X: 1\ncondition: selection and filter"),
        RefuseReason::UnknownSelection("filter".into())
    );
    assert_eq!(
        refusal("selection:\n    X: 1\ncondition: selection | count() > 5"),
        RefuseReason::AggregationNotSupported
    );
    assert!(matches!(
        refusal("selection:\n    X: 1\ncondition: selection and"),
        RefuseReason::BadCondition(_)
    ));
    assert_eq!(
        refusal("selection:\n    X|nosuch: 1\ncondition: selection"),
        RefuseReason::UnknownModifier("nosuch".into())
    );
}

#[test]
fn expand_takes_placeholder_values() {
    let mut p = Placeholders::new();
    p.insert("Admins".into(), vec!["alice".into(), "bob".into()]);
    let s = rule_with(
        "selection:\n    User|expand: 'CORP\\%Admins%'\ncondition: selection",
        "    product: windows\n",
        p,
    );
    assert!(hits(&s, &event(json!({"User": "corp\\bob"}))));
    assert!(!hits(&s, &event(json!({"User": "corp\\eve"}))));
    assert_eq!(
        refusal("selection:\n    User|expand: '%Admins%'\ncondition: selection"),
        RefuseReason::UnresolvedPlaceholder("Admins".into())
    );
}

#[test]
fn routing_by_channel_and_event_id_with_field_mapping() {
    let s = rule_with(
        "selection:\n    Image|endswith: '\\whoami.exe'\ncondition: selection",
        "    product: windows\n    category: process_creation\n",
        Placeholders::new(),
    );
    let data = json!({"Image": "C:\\Windows\\System32\\whoami.exe"});
    assert!(hits(&s, &event(data.clone())));
    // Same fields, other Sysmon event: not process creation.
    assert!(!hits(
        &s,
        &event_in("Microsoft-Windows-Sysmon/Operational", 11, data.clone())
    ));
    // Security 4688 names the image NewProcessName.
    let sec = json!({"NewProcessName": "C:\\Windows\\System32\\whoami.exe"});
    assert!(hits(&s, &event_in("Security", 4688, sec.clone())));
    assert!(!hits(&s, &event_in("Security", 4624, sec)));
    let found = s.scan(&JsonEvent::new(&event_in(
        "Security",
        4688,
        json!({"NewProcessName": "C:\\whoami.exe"}),
    )));
    assert_eq!(
        found[0].fields,
        vec![("NewProcessName".to_string(), "C:\\whoami.exe".to_string())]
    );
    assert_eq!(found[0].rule.level, "high");

    // registry_set is Sysmon 13 with EventType SetValue.
    let s = rule_with(
        "selection:\n    TargetObject|contains: '\\Run\\'\ncondition: selection",
        "    product: windows\n    category: registry_set\n",
        Placeholders::new(),
    );
    let set = json!({"EventType": "SetValue", "TargetObject": "HKLM\\x\\Run\\evil"});
    assert!(hits(
        &s,
        &event_in("Microsoft-Windows-Sysmon/Operational", 13, set.clone())
    ));
    let mut other = set.clone();
    other["EventType"] = json!("DeleteValue");
    assert!(!hits(
        &s,
        &event_in("Microsoft-Windows-Sysmon/Operational", 13, other)
    ));

    // A service: every event of its channel.
    let s = rule_with(
        "selection:\n    EventID: 1102\ncondition: selection",
        "    product: windows\n    service: security\n",
        Placeholders::new(),
    );
    assert!(hits(&s, &event_in("Security", 1102, json!({}))));
    assert!(!hits(&s, &event_in("System", 1102, json!({}))));
}

#[test]
fn bad_rules_are_refused_and_the_rest_still_load() {
    let mut set = RuleSet::new();
    let good = "title: ok\nid: a\nlogsource:\n    product: windows\ndetection:\n    s:\n        X: 1\n    condition: s\n";
    assert_eq!(set.add_yaml("good.yml", good).loaded, 1);
    assert_eq!(set.add_yaml("dup.yml", good).refused, 1);
    assert_eq!(set.add_yaml("bad.yml", "title: [unclosed").refused, 1);
    let linux = good.replace("id: a", "id: b").replace("windows", "linux");
    assert_eq!(set.add_yaml("linux.yml", &linux).refused, 1);
    let corr = "title: c\nid: c\ncorrelation:\n    type: event_count\n    rules: [a]\n    group-by: [User]\n    timespan: 5m\n    condition:\n        lt: 10\n";
    assert_eq!(set.add_yaml("corr.yml", corr).refused, 1);
    let no_detection = "title: n\nid: n\nlogsource:\n    product: windows\n";
    assert_eq!(set.add_yaml("n.yml", no_detection).refused, 1);
    let kinds: Vec<&str> = set.refused().iter().map(|r| r.reason.kind()).collect();
    assert_eq!(
        kinds,
        vec![
            "duplicate_id",
            "yaml",
            "not_windows",
            "bad_correlation",
            "not_a_rule"
        ]
    );
    assert_eq!(
        set.refused()[3].reason.to_string(),
        "correlation: lt/lte (fewer than) needs the end of each window: not supported yet"
    );
    assert_eq!(set.rules().len(), 1);
    // Two documents in one file: two rules.
    let two = format!("{good}---\n{}", good.replace("id: a", "id: z"));
    let mut set = RuleSet::new();
    assert_eq!(set.add_yaml("two.yml", &two).loaded, 2);
    assert_eq!(set.rules()[1].origin, "two.yml#2");
}
