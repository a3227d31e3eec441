//! A realistic checklist form for the renderer tests: the 19 items of the R7 医療機関確認用
//! form with answers of every kind, one contradicted item and evidence facts; and where to find
//! a Japanese font on this machine for the PDF tests.

use mamori_reports::checklist::{AppendixItem, ChecklistForm, FormLabels, FormRow, Mark, Verdict};
use std::path::{Path, PathBuf};

pub const SCRIPT: &str = "<script>alert('x')</script>";

fn labels() -> FormLabels {
    FormLabels {
        item: "チェック項目".into(),
        confirmed_on: "確認日".into(),
        target_on: "目標日".into(),
        remarks: "備考".into(),
        yes: "はい".into(),
        no: "いいえ".into(),
        not_applicable: "記入不要".into(),
        appendix: "証拠の付録".into(),
        verdict: "確認結果".into(),
        verdicts: [
            "適合".into(),
            "不適合".into(),
            "判定不能".into(),
            "対象外".into(),
        ],
        contradicted: "回答と証拠が矛盾".into(),
        content_hash: "内容ハッシュ".into(),
        key_fingerprint: "署名鍵の指紋".into(),
        generated_on: "作成日".into(),
        page: "ページ".into(),
        facility: "医療機関名".into(),
        subject: "事業者名・システム名".into(),
        facts: "根拠となる事実".into(),
    }
}

/// The answer given to each printed item of the sample.
fn answer(
    id: &str,
) -> (
    Option<Mark>,
    &'static str,
    &'static str,
    String,
    Verdict,
    bool,
) {
    let day = "令和7年10月1日";
    match id {
        "2-②" | "2-③" => (
            Some(Mark::NotApplicable),
            day,
            "",
            "保守契約なし".into(),
            Verdict::NotApplicable,
            false,
        ),
        "2-⑤" => (
            Some(Mark::Yes),
            day,
            "",
            "人事異動の都度、アカウントを棚卸ししている".into(),
            Verdict::Fail,
            true,
        ),
        "2-⑥" => (
            Some(Mark::No),
            day,
            "令和8年3月31日",
            format!("{SCRIPT} 電子カルテ端末のOS更新を保守業者と調整中（更新計画あり）"),
            Verdict::Fail,
            false,
        ),
        "2-⑨" => (
            Some(Mark::No),
            day,
            "令和8年2月28日",
            "USBメモリの接続制限を導入予定".into(),
            Verdict::Unknown,
            false,
        ),
        "2-⑩" => (
            Some(Mark::No),
            day,
            "令和9年12月1日",
            "電子カルテ更新時（令和9年度）に二要素認証を導入予定".into(),
            Verdict::Pass,
            false,
        ),
        "2-⑭" => (None, "", "", String::new(), Verdict::Unknown, false),
        _ => (
            Some(Mark::Yes),
            day,
            "",
            String::new(),
            Verdict::Pass,
            false,
        ),
    }
}

fn facts(id: &str, verdict: Verdict) -> Vec<String> {
    match id {
        "2-⑤" => vec![
            "退職者の有効なアカウント 2件: 電子カルテ yamada.t（令和7年6月30日退職）、レセコン sato.k（令和7年8月31日退職）".into(),
            "90日以上使われていないアカウント 1件: 検査システム kensa-tmp".into(),
        ],
        "2-⑥" => vec!["サポート終了済みの機器 1台: PC-0012 受付端末（Windows 10）".into()],
        "1-①" => vec!["安全管理責任者: 事務長 鈴木 花子（令和7年4月1日任命）".into()],
        "2-①" => vec![
            "台帳の機器 24台（サーバ 2、端末PC 18、ネットワーク機器 4）".into(),
            "最終棚卸: 令和7年9月12日".into(),
        ],
        _ => match verdict {
            Verdict::Pass => vec!["台帳と設定の記録から確認済み".into()],
            Verdict::Fail => vec!["記録が要件を満たしていません".into()],
            Verdict::Unknown => vec!["判定に必要な記録がありません".into()],
            Verdict::NotApplicable => vec!["事業者との保守契約は登録されていません".into()],
        },
    }
}

/// The sample form: every R7 item, answers of every kind, 2-⑤ contradicted.
pub fn form() -> ChecklistForm {
    let items = mamori_catalog::checklist::r7_hospital();
    assert_eq!(items.len(), 19, "the R7 pack has 19 items");
    let mut rows = Vec::new();
    let mut appendix = Vec::new();
    for item in items {
        let (mark, confirmed, target, remarks, verdict, contradicted) = answer(&item.id);
        rows.push(FormRow {
            id: item.id.clone(),
            // As the service prints it: the section, then the group the item sits in.
            section: if item.group.is_empty() {
                item.section.clone()
            } else {
                format!("{}　{}", item.section, item.group)
            },
            text: item.text_ja.clone(),
            mark,
            confirmed_on: confirmed.into(),
            target_on: target.into(),
            remarks,
            verdict,
            contradicted,
        });
        let title: String = item.text_ja.chars().take_while(|c| *c != '。').collect();
        appendix.push(AppendixItem {
            id: item.id.clone(),
            title,
            verdict,
            facts: facts(&item.id, verdict),
        });
    }
    ChecklistForm {
        title: "令和7年度版 医療機関におけるサイバーセキュリティ対策チェックリスト".into(),
        variant: "医療機関確認用".into(),
        fiscal_year: "令和7年度".into(),
        notes: vec![
            "※ 本チェックリストは立入検査の際に確認します。".into(),
            "※ 令和7年度中にすべての項目で「はい」となるよう取り組んでください。「いいえ」の場合は、令和7年度中の目標日を記入してください。".into(),
            "※ 2-②、2-③は事業者と契約していない場合には記入不要です。".into(),
        ],
        facility: "医療法人社団みどり会 さくら内科クリニック".into(),
        subject: String::new(),
        generated_on: "令和7年10月1日".into(),
        content_hash: "9f2c4e1a7b3d5f60182a4c6e8b0d2f41a3c5e7092b4d6f8a1c3e5b7d9f0a2c4e".into(),
        key_fingerprint: "ed25519:4b1e9c2d7a5f3e8b6c0d1a2f4e6b8c9d".into(),
        rows,
        appendix,
        labels: labels(),
        identity: Vec::new(),
    }
}

/// A Japanese font on this machine, for the PDF tests: IPAex Gothic where Debian's
/// fonts-ipaexfont puts it, else the first IPAex/IPA/Noto CJK font under the font folders.
pub fn japanese_font() -> Option<(PathBuf, Vec<u8>)> {
    let known = Path::new("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf");
    if let Ok(b) = std::fs::read(known) {
        return Some((known.to_path_buf(), b));
    }
    let mut found = Vec::new();
    walk(Path::new("/usr/share/fonts"), &mut found, 0);
    if let Some(home) = std::env::var_os("HOME") {
        walk(&Path::new(&home).join(".local/share/fonts"), &mut found, 0);
    }
    found.sort();
    found
        .into_iter()
        .find_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() && depth < 6 {
            walk(&p, out, depth + 1);
        } else {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_lowercase();
            let japanese = name.starts_with("ipaexg")
                || name.starts_with("ipag")
                || name.starts_with("notosanscjkjp")
                || name.starts_with("notosansjp");
            if japanese && (name.ends_with(".ttf") || name.ends_with(".otf")) {
                out.push(p);
            }
        }
    }
}

/// The font, or `None` after saying on stderr which check was skipped.
pub fn font_or_skip(check: &str) -> Option<Vec<u8>> {
    match japanese_font() {
        Some((_, b)) => Some(b),
        None => {
            eprintln!("SKIPPED {check}: no Japanese font found (install fonts-ipaexfont)");
            None
        }
    }
}

/// Whether a command is on PATH (poppler-utils for the rendered-page checks).
pub fn has_tool(name: &str) -> bool {
    std::process::Command::new(name).arg("-v").output().is_ok()
}
