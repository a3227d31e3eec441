//! The inspection checklist as a printed form: the values a form is rendered from. The service
//! layer assembles a [`ChecklistForm`] (texts already in the reader's language, dates already as
//! printed); the renderers turn it into print HTML ([`html`]), XLSX ([`xlsx`]) and PDF ([`pdf`]).
//! Same form in, same bytes out.

mod html;
mod pdf;
mod wrap;
mod xlsx;

pub use html::html;
pub use pdf::{PdfError, check_font, pdf};
pub use xlsx::{XlsxError, xlsx};

/// An answer as marked on the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// はい
    Yes,
    /// いいえ
    No,
    /// 記入不要 (2-②, 2-③ without vendor contracts).
    NotApplicable,
}

/// What the evidence says of an item, as shown next to the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Unknown,
    NotApplicable,
}

/// One printed item of the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormRow {
    /// Printed number, `2-⑤`.
    pub id: String,
    /// Section heading the item sits under; a new heading starts where it changes.
    pub section: String,
    /// The item's text as printed.
    pub text: String,
    pub mark: Option<Mark>,
    /// 確認日 as printed (`令和7年10月1日`), empty when not answered.
    pub confirmed_on: String,
    /// 目標日 as printed, empty unless the answer is いいえ.
    pub target_on: String,
    /// 備考.
    pub remarks: String,
    /// What the evidence says, for the appendix and the on-screen form.
    pub verdict: Verdict,
    /// The answer is はい but the evidence fails it.
    pub contradicted: bool,
}

/// The evidence behind one item, for the appendix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendixItem {
    pub id: String,
    /// Short title of the item.
    pub title: String,
    pub verdict: Verdict,
    /// One line per fact ("退職者の有効なアカウント 5件: …"), already in the reader's language.
    pub facts: Vec<String>,
}

/// Every text of the form that is not data: headings, column names, labels of marks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormLabels {
    /// 「チェック項目」
    pub item: String,
    /// 「確認日」
    pub confirmed_on: String,
    /// 「目標日」
    pub target_on: String,
    /// 「備考」
    pub remarks: String,
    /// 「はい」
    pub yes: String,
    /// 「いいえ」
    pub no: String,
    /// 「記入不要」
    pub not_applicable: String,
    /// 「証拠の付録」
    pub appendix: String,
    /// 「確認結果」 (verdict column of the appendix)
    pub verdict: String,
    /// Labels of the four verdicts: pass, fail, unknown, not applicable.
    pub verdicts: [String; 4],
    /// 「回答と証拠が矛盾」
    pub contradicted: String,
    /// 「内容ハッシュ」
    pub content_hash: String,
    /// 「署名鍵の指紋」
    pub key_fingerprint: String,
    /// 「作成日」
    pub generated_on: String,
    /// 「ページ」 (PDF footers: `ページ 1 / 3`)
    pub page: String,
    /// 「医療機関名」 (「薬局名」 on the pharmacy form): the label of the facility's name.
    pub facility: String,
    /// 「事業者名・システム名」: the label of [`ChecklistForm::subject`] on the vendor form.
    pub subject: String,
    /// 「根拠となる事実」: the heading of the facts in the appendix.
    pub facts: String,
}

impl FormLabels {
    /// The label of a verdict.
    pub fn verdict_label(&self, verdict: Verdict) -> &str {
        let [pass, fail, unknown, not_applicable] = &self.verdicts;
        match verdict {
            Verdict::Pass => pass,
            Verdict::Fail => fail,
            Verdict::Unknown => unknown,
            Verdict::NotApplicable => not_applicable,
        }
    }
}

/// A whole checklist form, ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecklistForm {
    /// 「令和7年度版 医療機関におけるサイバーセキュリティ対策チェックリスト」
    pub title: String,
    /// 「医療機関確認用」, 「薬局確認用」, 「事業者確認用」
    pub variant: String,
    /// 「令和7年度」
    pub fiscal_year: String,
    /// Notes printed under the title (how to fill it in), one paragraph each.
    pub notes: Vec<String>,
    pub facility: String,
    /// For the vendor form: 「事業者名 / システム名」; empty otherwise.
    pub subject: String,
    /// 作成日 as printed.
    pub generated_on: String,
    /// SHA-256 (hex) of the form's content, printed on every page.
    pub content_hash: String,
    /// Fingerprint of the facility's sealed-log signing key, printed for the inspector.
    pub key_fingerprint: String,
    pub rows: Vec<FormRow>,
    pub appendix: Vec<AppendixItem>,
    pub labels: FormLabels,
    /// Which form this is, as `(name, value)` pairs (edition, variant, fiscal year, scope): the
    /// XLSX keeps them on a hidden sheet ([`layout::IDENTITY_SHEET`]) so that a workbook filled
    /// in and sent back can be matched to its form. Not printed, not part of the content hash.
    pub identity: Vec<(String, String)>,
}

/// Where the XLSX form keeps what a person fills in, for reading a returned workbook back.
pub mod layout {
    /// Column of the printed item id (`2-⑤`), 0-based (A).
    pub const ID: usize = 0;
    /// Column of the はい mark (C); 記入不要 is written across C:D and read from C.
    pub const YES: usize = 2;
    /// Column of the いいえ mark (D).
    pub const NO: usize = 3;
    /// Column of 確認日 (E).
    pub const CONFIRMED_ON: usize = 4;
    /// Column of 目標日 (F).
    pub const TARGET_ON: usize = 5;
    /// Column of 備考 (G).
    pub const REMARKS: usize = 6;
    /// The hidden sheet holding [`super::ChecklistForm::identity`].
    pub const IDENTITY_SHEET: &str = "mamori";
}

/// One line of the printed table: a section heading where the section changes, then the item.
#[derive(Debug, Clone, Copy)]
enum Line<'a> {
    Section(&'a str),
    Item(&'a FormRow),
}

impl ChecklistForm {
    /// The rows with a section heading in front of every change of section.
    fn lines(&self) -> Vec<Line<'_>> {
        let mut out = Vec::with_capacity(self.rows.len() + 8);
        let mut section: Option<&str> = None;
        for row in &self.rows {
            if section != Some(row.section.as_str()) {
                section = Some(row.section.as_str());
                if !row.section.is_empty() {
                    out.push(Line::Section(&row.section));
                }
            }
            out.push(Line::Item(row));
        }
        out
    }

    /// Whether the item with this printed id is contradicted (for the appendix).
    fn is_contradicted(&self, id: &str) -> bool {
        self.rows.iter().any(|r| r.id == id && r.contradicted)
    }
}
