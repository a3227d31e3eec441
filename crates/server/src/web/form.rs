//! A refused form, as pages show it: which form (pages with several), the field, the message
//! in the reader's language and the code.

use mamori_catalog::{Lang, tr};

#[derive(Debug, Clone)]
pub struct FormError {
    /// Which of the page's forms (`open`, `note`, an account id …); empty on one-form pages.
    pub form: String,
    pub field: String,
    pub message: String,
    pub code: &'static str,
}

impl FormError {
    pub fn new(lang: Lang, form: &str, code: &'static str, field: &str) -> FormError {
        FormError {
            form: form.to_string(),
            field: field.to_string(),
            message: tr(lang, &format!("error.{code}")).to_string(),
            code,
        }
    }

    /// (message, code) when this error is about `field` of form `form`.
    pub fn at(
        error: &Option<FormError>,
        form: &str,
        field: &str,
    ) -> Option<(String, &'static str)> {
        error
            .as_ref()
            .filter(|e| e.form == form && e.field == field)
            .map(|e| (e.message.clone(), e.code))
    }
}
