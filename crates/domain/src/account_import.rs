//! A system's own account list (電子カルテ, レセコン, PACS … export one as CSV or Excel) read
//! with a mapping profile: which column holds the login, the owner's name and kana, the staff
//! number, the state, the rights and the last login. Pure: the guess of a first mapping from the
//! headers, and the rows read into [`SourceAccount`]s, every problem named by line and column.

use crate::account_source::{SourceAccount, kana_key};
use crate::wareki::parse_date_ja;

/// Which header holds each field; empty when the file has no such column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMap {
    pub login: String,
    pub name: String,
    pub kana: String,
    pub staff_no: String,
    pub enabled: String,
    pub admin: String,
    pub last_login: String,
    /// Values of the admin column that mean administrator rights (e.g. 「システム管理者」).
    /// Empty: the column is read as yes/no.
    pub admin_values: Vec<String>,
}

/// The mapped fields, in the order forms show them: (key, header).
pub const FIELDS: [&str; 7] = [
    "login",
    "name",
    "kana",
    "staff_no",
    "enabled",
    "admin",
    "last_login",
];

impl ColumnMap {
    /// The header of field `key`.
    pub fn get(&self, key: &str) -> &str {
        match key {
            "login" => &self.login,
            "name" => &self.name,
            "kana" => &self.kana,
            "staff_no" => &self.staff_no,
            "enabled" => &self.enabled,
            "admin" => &self.admin,
            "last_login" => &self.last_login,
            _ => "",
        }
    }

    /// Sets the header of field `key` (unknown keys are ignored).
    pub fn set(&mut self, key: &str, header: &str) {
        let h = header.trim().to_string();
        match key {
            "login" => self.login = h,
            "name" => self.name = h,
            "kana" => self.kana = h,
            "staff_no" => self.staff_no = h,
            "enabled" => self.enabled = h,
            "admin" => self.admin = h,
            "last_login" => self.last_login = h,
            _ => {}
        }
    }

    /// A first mapping from the headers: the usual names of each column in Japanese systems'
    /// exports (and English ones).
    pub fn guess(headers: &[String]) -> ColumnMap {
        const NAMES: [(&str, &[&str]); 7] = [
            (
                "login",
                &[
                    "ユーザーid",
                    "ユーザid",
                    "利用者id",
                    "ログインid",
                    "ログイン名",
                    "アカウント",
                    "アカウントid",
                    "オペレータid",
                    "オペレーターid",
                    "id",
                    "login",
                    "loginid",
                    "userid",
                    "username",
                    "user",
                    "account",
                ],
            ),
            (
                "name",
                &[
                    "氏名",
                    "利用者名",
                    "ユーザー名",
                    "ユーザ名",
                    "名前",
                    "職員名",
                    "担当者名",
                    "オペレータ名",
                    "オペレーター名",
                    "name",
                    "displayname",
                    "fullname",
                ],
            ),
            (
                "kana",
                &[
                    "カナ",
                    "氏名カナ",
                    "カナ氏名",
                    "フリガナ",
                    "ふりがな",
                    "よみ",
                    "ヨミ",
                    "氏名(カナ)",
                    "氏名（カナ）",
                    "kana",
                ],
            ),
            (
                "staff_no",
                &[
                    "職員番号",
                    "職員id",
                    "職員コード",
                    "社員番号",
                    "従業員番号",
                    "staffno",
                    "staff_no",
                    "employeeid",
                    "employeenumber",
                ],
            ),
            (
                "enabled",
                &[
                    "状態",
                    "有効",
                    "有効無効",
                    "有効/無効",
                    "利用状態",
                    "ステータス",
                    "使用",
                    "enabled",
                    "status",
                    "active",
                ],
            ),
            (
                "admin",
                &[
                    "権限",
                    "管理者",
                    "管理者権限",
                    "ロール",
                    "権限区分",
                    "role",
                    "admin",
                    "isadmin",
                ],
            ),
            (
                "last_login",
                &[
                    "最終ログイン",
                    "最終ログイン日",
                    "最終ログイン日時",
                    "最終利用日",
                    "最終利用日時",
                    "lastlogin",
                    "last_login",
                    "lastlogon",
                ],
            ),
        ];
        let norm = |s: &str| {
            s.chars()
                .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-')
                .flat_map(char::to_lowercase)
                .collect::<String>()
        };
        let mut map = ColumnMap::default();
        for (key, names) in NAMES {
            let hit = headers.iter().find(|h| {
                let n = norm(h);
                names.iter().any(|x| norm(x) == n)
            });
            if let Some(h) = hit {
                map.set(key, h);
            }
        }
        map
    }
}

/// Reads a yes/no cell the way systems write it. `None` when it says neither.
pub fn flag(s: &str) -> Option<bool> {
    let v = s.trim().to_lowercase();
    const YES: [&str; 16] = [
        "1",
        "true",
        "yes",
        "y",
        "on",
        "有効",
        "有",
        "あり",
        "はい",
        "○",
        "〇",
        "◯",
        "使用",
        "使用中",
        "可",
        "利用中",
    ];
    const NO: [&str; 19] = [
        "0",
        "false",
        "no",
        "n",
        "off",
        "無効",
        "無",
        "なし",
        "いいえ",
        "×",
        "✕",
        "-",
        "停止",
        "停止中",
        "不可",
        "休止",
        "削除",
        "ロック",
        "利用停止",
    ];
    if YES.contains(&v.as_str()) {
        Some(true)
    } else if NO.contains(&v.as_str()) || v.is_empty() {
        Some(false).filter(|_| !v.is_empty())
    } else {
        None
    }
}

/// A problem of the file, named by line and column. Codes are `ACI00xx` in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowIssue {
    /// Spreadsheet row (the header row is usually 1).
    pub line: usize,
    /// The header it is about, or empty for the whole row.
    pub column: String,
    pub code: &'static str,
}

/// Reads `rows` ((line, cells under `headers`)) with `map`. Either every row is read, or every
/// problem is returned: a file with one bad row writes nothing.
pub fn read_accounts(
    headers: &[String],
    header_line: usize,
    rows: &[(usize, Vec<String>)],
    map: &ColumnMap,
) -> Result<Vec<(usize, SourceAccount)>, Vec<RowIssue>> {
    let mut issues = Vec::new();
    let col = |h: &str| headers.iter().position(|x| x.trim() == h.trim());
    if map.login.trim().is_empty() {
        issues.push(RowIssue {
            line: header_line,
            column: String::new(),
            code: "ACI0001",
        });
    }
    let mut index = std::collections::HashMap::new();
    for key in FIELDS {
        let h = map.get(key);
        if h.trim().is_empty() {
            continue;
        }
        match col(h) {
            Some(i) => {
                index.insert(key, i);
            }
            None => issues.push(RowIssue {
                line: header_line,
                column: h.to_string(),
                code: "ACI0002",
            }),
        }
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    if rows.is_empty() {
        return Err(vec![RowIssue {
            line: header_line,
            column: String::new(),
            code: "ACI0008",
        }]);
    }
    let cell = |cells: &[String], key: &str| -> Option<String> {
        index.get(key).map(|i| {
            cells
                .get(*i)
                .map(|c| c.trim().to_string())
                .unwrap_or_default()
        })
    };
    let admin_values: Vec<String> = map
        .admin_values
        .iter()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    let mut seen = std::collections::HashMap::new();
    for (line, cells) in rows {
        let line = *line;
        let mut bad = |key: &str, code: &'static str| {
            issues.push(RowIssue {
                line,
                column: map.get(key).to_string(),
                code,
            })
        };
        let login = cell(cells, "login").unwrap_or_default();
        if login.is_empty() {
            bad("login", "ACI0003");
            continue;
        }
        if login.chars().count() > 100 {
            bad("login", "ACI0007");
            continue;
        }
        if seen.insert(login.to_lowercase(), line).is_some() {
            bad("login", "ACI0006");
            continue;
        }
        let enabled = match cell(cells, "enabled") {
            None => true,
            Some(v) => match flag(&v) {
                Some(b) => b,
                None => {
                    bad("enabled", "ACI0004");
                    continue;
                }
            },
        };
        let is_admin = match cell(cells, "admin") {
            None => None,
            Some(v) if !admin_values.is_empty() => Some(admin_values.contains(&v)),
            Some(v) if v.is_empty() => Some(false),
            Some(v) => match flag(&v) {
                Some(b) => Some(b),
                None => {
                    bad("admin", "ACI0009");
                    continue;
                }
            },
        };
        let last_login_on = match cell(cells, "last_login") {
            None => None,
            Some(v) if v.is_empty() || v == "-" || v == "―" => None,
            Some(v) => {
                // A time after the date is dropped: the ledger keeps the day.
                let day = v.split([' ', 'T', '\u{3000}']).next().unwrap_or("");
                match parse_date_ja(day) {
                    Ok(d) => Some(d),
                    Err(_) => {
                        bad("last_login", "ACI0005");
                        continue;
                    }
                }
            }
        };
        let kana = cell(cells, "kana").unwrap_or_default();
        out.push((
            line,
            SourceAccount {
                login,
                name: cell(cells, "name").unwrap_or_default(),
                kana: if kana_key(&kana).is_empty() {
                    String::new()
                } else {
                    kana
                },
                staff_no: cell(cells, "staff_no").filter(|s| !s.is_empty()),
                enabled,
                is_admin,
                last_login_on,
                ..Default::default()
            },
        ));
    }
    if issues.is_empty() {
        Ok(out)
    } else {
        Err(issues)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    fn row(line: usize, cells: &[&str]) -> (usize, Vec<String>) {
        (line, cells.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn the_usual_headers_are_guessed() {
        let h = headers(&[
            "ユーザーID",
            "氏名",
            "氏名（カナ）",
            "職員番号",
            "状態",
            "権限",
            "最終ログイン日時",
            "備考",
        ]);
        let m = ColumnMap::guess(&h);
        assert_eq!(m.login, "ユーザーID");
        assert_eq!(m.name, "氏名");
        assert_eq!(m.kana, "氏名（カナ）");
        assert_eq!(m.staff_no, "職員番号");
        assert_eq!(m.enabled, "状態");
        assert_eq!(m.admin, "権限");
        assert_eq!(m.last_login, "最終ログイン日時");
        let m = ColumnMap::guess(&headers(&["User ID", "Display Name", "Last_Login"]));
        assert_eq!(
            (m.login.as_str(), m.name.as_str()),
            ("User ID", "Display Name")
        );
        assert_eq!(m.last_login, "Last_Login");
    }

    #[test]
    fn rows_are_read_with_flags_role_names_and_dates() {
        let h = headers(&[
            "ID",
            "氏名",
            "カナ",
            "職員番号",
            "状態",
            "権限",
            "最終ログイン",
        ]);
        let mut m = ColumnMap::guess(&h);
        m.admin_values = vec!["システム管理者".into()];
        let rows = [
            row(
                2,
                &[
                    "yamada",
                    "山田 花子",
                    "ﾔﾏﾀﾞ ﾊﾅｺ",
                    "N-001",
                    "有効",
                    "システム管理者",
                    "2026/11/20 08:31",
                ],
            ),
            row(
                3,
                &[
                    "sato",
                    "佐藤 一郎",
                    "",
                    "",
                    "停止",
                    "医師",
                    "令和8年10月1日",
                ],
            ),
            row(4, &["suzuki", "", "", "", "○", "", ""]),
        ];
        let out = read_accounts(&h, 1, &rows, &m).unwrap();
        assert_eq!(out.len(), 3);
        let (_, y) = &out[0];
        assert!(y.enabled && y.is_admin == Some(true));
        assert_eq!(y.staff_no.as_deref(), Some("N-001"));
        assert_eq!(y.last_login_on, Some(date!(2026 - 11 - 20)));
        let (_, s) = &out[1];
        assert!(!s.enabled && s.is_admin == Some(false));
        assert_eq!(s.last_login_on, Some(date!(2026 - 10 - 01)));
        assert_eq!(s.staff_no, None);
        assert_eq!(out[2].1.last_login_on, None);
    }

    #[test]
    fn every_problem_is_named_by_line_and_column_and_nothing_is_read() {
        let h = headers(&["ID", "状態", "権限", "最終ログイン"]);
        let m = ColumnMap::guess(&h);
        let rows = [
            row(2, &["a", "有効", "はい", "2026-11-01"]),
            row(3, &["", "有効", "", ""]),
            row(4, &["b", "たぶん", "", ""]),
            row(5, &["c", "有効", "一般", ""]),
            row(6, &["d", "有効", "", "先週"]),
            row(7, &["A", "有効", "", ""]),
        ];
        let issues = read_accounts(&h, 1, &rows, &m).unwrap_err();
        let got: Vec<(usize, &str, &str)> = issues
            .iter()
            .map(|i| (i.line, i.column.as_str(), i.code))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, "ID", "ACI0003"),
                (4, "状態", "ACI0004"),
                (5, "権限", "ACI0009"),
                (6, "最終ログイン", "ACI0005"),
                (7, "ID", "ACI0006"),
            ]
        );
        // A mapping that names a column the file lacks, and no login column.
        let mut m2 = m.clone();
        m2.kana = "フリガナ".into();
        m2.login = String::new();
        let issues = read_accounts(&h, 1, &rows, &m2).unwrap_err();
        let codes: Vec<&str> = issues.iter().map(|i| i.code).collect();
        assert_eq!(codes, ["ACI0001", "ACI0002"]);
        assert_eq!(
            read_accounts(&h, 1, &[], &m).unwrap_err()[0].code,
            "ACI0008"
        );
    }

    #[test]
    fn flags_read_the_usual_words() {
        for y in ["1", "有効", "○", "TRUE", "使用中", "はい"] {
            assert_eq!(flag(y), Some(true), "{y}");
        }
        for n in ["0", "無効", "×", "false", "停止", "いいえ"] {
            assert_eq!(flag(n), Some(false), "{n}");
        }
        assert_eq!(flag("たぶん"), None);
        assert_eq!(flag(""), None);
    }
}
